# The TFLite Micro interpreter that tests/test_tflite_equivalence.py compares the int8 kernels
# with: pyproject's `tflite` extra (a pinned dev build). Installed into the virtual environment
# before the Python tests; where it cannot be installed, this says so loudly, the test module
# is skipped with a warning in pytest's summary, and the next make tries again.
$(VENV)/.installed-tflite: $(VENV)/.installed pyproject.toml
	$(Q)if $(PY) -m pip install -q -e '.[test,tflite]' >$(VENV)/tflite-install.log 2>&1; then \
	  touch $@; \
	else \
	  echo "WARNING: the TFLite Micro interpreter (pyproject extra 'tflite') could not be installed" \
	       "(see $(VENV)/tflite-install.log): tests/test_tflite_equivalence.py will be SKIPPED"; \
	fi

test-py: $(VENV)/.installed-tflite
