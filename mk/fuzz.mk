# mk/fuzz.mk - libFuzzer on the golden-vector runner's manifest and blob parsing and its case
# validation (tests/fuzz/fuzz_manifest.c), under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   make fuzz                 fuzz for FUZZ_SECONDS (default 300 s); the corpus grows in
#                             build/fuzz/corpus, a crash is written to build/fuzz/crash-*
#   make fuzz-test            the short run make test does (FUZZ_TEST_SECONDS, default 60 s),
#                             after replaying tests/fuzz/regressions/ (inputs that once crashed)
#   make fuzz-toolchain       check for clang with libFuzzer; as root, install it when missing
#
# Seeds: one manifest per case of $(VECTORS_DIR)/manifest.json (tests/fuzz/seeds.py); blob
# files are read from $(VECTORS_DIR). Included by the top-level Makefile.

FUZZ_CC           ?= clang
FUZZ_SECONDS      ?= 300
FUZZ_TEST_SECONDS ?= 60
FUZZ_BUILD        ?= $(BUILD)/fuzz
FUZZ_MAX_LEN      ?= 16384
FUZZ_APT_PACKAGES := clang libclang-rt-14-dev
FUZZ_SAN          := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS       := $(CONTRACT) $(WARN) -O1 -g $(FUZZ_SAN)
FUZZ_BIN          := $(FUZZ_BUILD)/fuzz_manifest
FUZZ_SRCS         := tests/fuzz/fuzz_manifest.c $(RUNNER_CORE) tests/runner/tv_files.c
FUZZ_ENV          := TV_FUZZ_VECTORS=$(abspath $(VECTORS_DIR)) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
                     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_FLAGS         = -max_len=$(FUZZ_MAX_LEN) -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
                     -dict=tests/fuzz/manifest.dict -artifact_prefix=$(FUZZ_BUILD)/

.PHONY: fuzz fuzz-test fuzz-toolchain fuzz-seeds

fuzz-toolchain: ## Check for clang with libFuzzer (as root, install it when missing)
	$(Q)probe='int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }'; \
	if ! echo "$$probe" | $(FUZZ_CC) $(FUZZ_SAN) -x c - -o /dev/null 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== installing $(FUZZ_APT_PACKAGES)"; \
	    apt-get -o DPkg::Lock::Timeout=600 install -y $(FUZZ_APT_PACKAGES) >/dev/null || exit 1; \
	    echo "$$probe" | $(FUZZ_CC) $(FUZZ_SAN) -x c - -o /dev/null || exit 1; \
	  else \
	    echo "error: $(FUZZ_CC) cannot build a libFuzzer harness; install it with:"; \
	    echo "  sudo apt-get install -y $(FUZZ_APT_PACKAGES)"; exit 1; \
	  fi; \
	fi

$(FUZZ_BIN): $(FUZZ_SRCS) $(RUNNER_DEPS)
	$(Q)$(MAKE) --no-print-directory fuzz-toolchain
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Icsrc -Itests/runner $(FUZZ_SRCS) $(LIB_SRCS) -o $@

fuzz-seeds: $(VECTORS_DIR)/manifest.json tests/fuzz/seeds.py
	$(Q)$(PYTHON) tests/fuzz/seeds.py $(VECTORS_DIR)/manifest.json $(FUZZ_BUILD)/seeds

# $(1): seconds. The corpus directory comes first: new inputs are written there.
define fuzz_run
	$(Q)mkdir -p $(FUZZ_BUILD)/corpus
	@echo "== libFuzzer on the runner's manifest parsing and case validation, $(1) s"
	$(Q)$(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_FLAGS) -max_total_time=$(1) $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/seeds 2>$(FUZZ_BUILD)/last.log; \
	  rc=$$?; grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|==[0-9]+==' $(FUZZ_BUILD)/last.log | head -40; \
	  echo "corpus: $$(ls $(FUZZ_BUILD)/corpus | wc -l) inputs (plus $$(ls $(FUZZ_BUILD)/seeds | wc -l) seeds)"; \
	  if [ $$rc -ne 0 ]; then echo "fuzz: FAILED (status $$rc); full log: $(FUZZ_BUILD)/last.log"; exit 1; fi
endef

fuzz: $(FUZZ_BIN) fuzz-seeds ## Fuzz the vector runner's manifest parsing and validation for FUZZ_SECONDS (default 300)
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-test: $(FUZZ_BIN) fuzz-seeds ## Replay tests/fuzz/regressions/, then fuzz briefly (FUZZ_TEST_SECONDS, default 60)
	@echo "== the fuzz harness on tests/fuzz/regressions/ (inputs that once crashed the runner)"
	$(Q)$(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_FLAGS) -runs=1 tests/fuzz/regressions/* 2>$(FUZZ_BUILD)/regressions.log || \
	  { cat $(FUZZ_BUILD)/regressions.log; exit 1; }
	$(call fuzz_run,$(FUZZ_TEST_SECONDS))
