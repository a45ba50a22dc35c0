# mk/flower.mk - fleets on Flower (flwr 1.42, the extra [flower], Python >= 3.11): the strategy
# in Flower's simulation engine (Ray) and a localhost deployment (SuperLink, SuperNodes,
# flwr run), tests/test_flower.py. Included by the top-level Makefile after mk/device_rig.mk.
#
#   make flower-venv    install the extra [flower] into the virtual environment
#   make flower-test    simulation == train per algorithm, client faults, a localhost deployment
#                       with a SuperNode fronting host devices, a SuperNode lost mid-round
#   make flower-bench   flower-sim with FLOWER_CLIENTS (default 10000) virtual clients:
#                       rounds/s and peak memory (/usr/bin/time -v), build/flower/bench-*.txt

FLOWER_CLIENTS ?= 10000
FLOWER_ROUNDS  ?= 30
FLOWER_OUT     ?= $(BUILD)/flower

$(VENV)/.flower-installed: $(VENV)/.installed pyproject.toml
	$(Q)$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "flower: flwr 1.42 needs Python >= 3.11 (the venv has $$($(PY) -V))" >&2; exit 1; }
	$(Q)$(PY) -m pip install -q -e '.[test,flower]'
	$(Q)touch $@

.PHONY: flower-venv flower-test flower-bench
flower-venv: $(VENV)/.flower-installed ## Install the extra [flower] (flwr 1.42 with Ray) into the venv

flower-test: $(VENV)/.flower-installed $(RIG_HOST)/device-sine ## Flower: simulation == train, faults, a localhost deployment with host devices
	$(Q)TR_FLOWER=1 $(PY) -m pytest -q tests/test_flower.py

flower-bench: $(VENV)/.flower-installed ## flower-sim with FLOWER_CLIENTS virtual clients: rounds/s, peak memory
	$(Q)mkdir -p $(FLOWER_OUT)
	$(Q)for a in tinyreptile fedavg; do \
	  /usr/bin/time -v $(PY) -m tinyreptile_ref flower-sim --task sine --algo $$a --rounds $(FLOWER_ROUNDS) \
	    --seed 0 --clients $(FLOWER_CLIENTS) --out $(FLOWER_OUT)/$$a --eval-tasks 5 --curve-points 0 \
	    >$(FLOWER_OUT)/bench-$$a.txt 2>&1 || { tail -n 30 $(FLOWER_OUT)/bench-$$a.txt; exit 1; }; \
	  grep -E "rounds/s|Maximum resident|Elapsed" $(FLOWER_OUT)/bench-$$a.txt; done
