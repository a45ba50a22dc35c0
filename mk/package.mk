# mk/package.mk - the Python distributions (pyproject.toml, setup.py, MANIFEST.in).
#
#   make dist       the sdist and the wheel into build/dist (python -m build)
#   make dist-test  build both, check their contents, install the sdist into a fresh venv
#                   and use it (tests/dist/check_dist.py; needs PyPI for the isolated build)

DIST_DIR ?= $(BUILD)/dist

.PHONY: dist dist-test

dist: $(VENV)/.installed ## Build the sdist and the wheel into build/dist
	$(Q)rm -rf $(DIST_DIR)
	$(Q)$(PY) -m build --no-isolation --outdir $(DIST_DIR) . >$(BUILD)/dist.log 2>&1 || { tail -n 30 $(BUILD)/dist.log; exit 1; }
	$(Q)ls -l $(DIST_DIR)

dist-test: $(VENV)/.installed ## Build the sdist and wheel, check their contents, install the sdist into a fresh venv and run it
	$(Q)$(PY) -m pytest -q -p no:cacheprovider tests/dist/check_dist.py
