# mk/device_rig.mk - devices in the loop: the device client (csrc/client.c) built as a host
# process and as Cortex-M4F firmware, its fuzzer, and the rig's tests (docs/protocol.md).
# Included by the top-level Makefile after mk/mcu.mk.
#
#   build/device/host/device-sine      the sine device as a host process (link on stdin/stdout)
#   build/device/host/device-digits-sS the digits device of seed S (its training pool in the image)
#   build/device/host/device-test      the same client with the protocol tests' fixed data source,
#                                      under ASan + UBSan
#   build/mcu/m4f/device-sine.elf      the sine device for QEMU mps2-an386 (link on UART0)
#   build/mcu/m4f/device-digits-s0.elf the digits device of seed 0 for QEMU
#   make fuzz-client                   libFuzzer on the client's decoder (CLIENT_FUZZ_SECONDS, default 30)
#   make rig-test                      the fuzzer briefly, then the rig's tests (host and QEMU fleets)

RIG_GEN      := $(BUILD)/device/gen
RIG_HOST     := $(BUILD)/device/host
RIG_FW_SRCS  := mcu/firmware/device_fw.c mcu/firmware/device_data.c
RIG_FW_HDRS  := mcu/firmware/device_fw.h
RIG_CPPFLAGS := -Icsrc -Imcu/firmware -Imcu/port
CLIENT_FUZZ_SECONDS ?= 30
CLIENT_FUZZ_CC      ?= clang
CLIENT_FUZZ_BUILD   := $(BUILD)/fuzz-client
CLIENT_FUZZ_CFLAGS  := -std=c99 -ffp-contract=off -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -Icsrc
RIG_APT_PACKAGES := clang libclang-rt-14-dev

$(RIG_GEN)/dev_sine.c: mcu/tools/device_gen.py tinyreptile_ref/runtime/model.py tinyreptile_ref/federated/devices.py $(VEC_PY_DEP)
	@mkdir -p $(@D)
	$(Q)$(VEC_PY) mcu/tools/device_gen.py sine --out $@

$(RIG_GEN)/dev_test.c: mcu/tools/device_gen.py tinyreptile_ref/runtime/model.py tinyreptile_ref/federated/devices.py $(VEC_PY_DEP)
	@mkdir -p $(@D)
	$(Q)$(VEC_PY) mcu/tools/device_gen.py sine --samples tr_dev_samples_test --out $@

# Digits devices carry their training pool, which the seed splits: one image per seed.
$(RIG_GEN)/dev_digits_s%_pool.c: mcu/tools/device_gen.py tinyreptile_ref/runtime/model.py tinyreptile_ref/federated/devices.py tinyreptile_ref/federated/tasks.py $(VEC_PY_DEP)
	@mkdir -p $(@D)
	$(Q)$(VEC_PY) mcu/tools/device_gen.py digits --seed $* --out $@

$(RIG_HOST)/device-digits-s%: $(RIG_FW_SRCS) $(RIG_FW_HDRS) mcu/port/link_host.c mcu/port/stackmark.c $(RIG_GEN)/dev_digits_s%_pool.c $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(RIG_CPPFLAGS) $(RIG_FW_SRCS) mcu/port/link_host.c mcu/port/stackmark.c $(RIG_GEN)/dev_digits_s$*_pool.c $(LIB_SRCS) -o $@

$(RIG_HOST)/device-sine: $(RIG_FW_SRCS) $(RIG_FW_HDRS) mcu/port/link_host.c mcu/port/stackmark.c $(RIG_GEN)/dev_sine.c $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(RIG_CPPFLAGS) $(RIG_FW_SRCS) mcu/port/link_host.c mcu/port/stackmark.c $(RIG_GEN)/dev_sine.c $(LIB_SRCS) -o $@

$(RIG_HOST)/device-test: mcu/firmware/device_fw.c $(RIG_FW_HDRS) mcu/port/link_host.c mcu/port/stackmark.c tests/c/client_test_data.c $(RIG_GEN)/dev_test.c $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(SAN_CFLAGS) $(RIG_CPPFLAGS) mcu/firmware/device_fw.c mcu/port/link_host.c mcu/port/stackmark.c tests/c/client_test_data.c $(RIG_GEN)/dev_test.c $(LIB_SRCS) -o $@

# The firmware: mk/mcu.mk's program rule, Cortex-M4F only.
$(call mcu_program,device-sine,$(RIG_FW_SRCS) mcu/port/link_uart.c $(RIG_GEN)/dev_sine.c $(MCU_KERNEL_SRCS),m4f)
$(call mcu_program,device-digits-s0,$(RIG_FW_SRCS) mcu/port/link_uart.c $(RIG_GEN)/dev_digits_s0_pool.c $(MCU_KERNEL_SRCS),m4f)
mcu-check-fma: $(MCU_BUILD)/m4f/device-sine.elf $(MCU_BUILD)/m4f/device-digits-s0.elf
.SECONDARY: $(RIG_GEN)/dev_sine.c $(RIG_GEN)/dev_test.c $(RIG_GEN)/dev_digits_s0_pool.c

# libFuzzer: every input is fed to a client (as bytes from the link) and to the frame decoder.
$(CLIENT_FUZZ_BUILD)/client_fuzz: tests/fuzz/client_fuzz.c $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CLIENT_FUZZ_CC) $(CLIENT_FUZZ_CFLAGS) tests/fuzz/client_fuzz.c $(LIB_SRCS) -o $@ 2>/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "fuzz-client: $(CLIENT_FUZZ_CC) with libFuzzer is missing; as root: apt-get install -y $(RIG_APT_PACKAGES)" >&2; exit 1; fi; \
	  echo "fuzz-client: apt-get install -y $(RIG_APT_PACKAGES)"; \
	  apt-get -o DPkg::Lock::Timeout=600 install -y $(RIG_APT_PACKAGES) >/dev/null || exit 1; \
	  $(CLIENT_FUZZ_CC) $(CLIENT_FUZZ_CFLAGS) tests/fuzz/client_fuzz.c $(LIB_SRCS) -o $@; }

.PHONY: fuzz-client rig-host rig-test
fuzz-client: $(CLIENT_FUZZ_BUILD)/client_fuzz ## Fuzz the device client's decoder with libFuzzer (CLIENT_FUZZ_SECONDS=30)
	@echo "== libFuzzer: the device client and frame decoder, $(CLIENT_FUZZ_SECONDS) s"
	$(Q)mkdir -p $(CLIENT_FUZZ_BUILD)/corpus
	$(Q)$(CLIENT_FUZZ_BUILD)/client_fuzz -max_total_time=$(CLIENT_FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  -artifact_prefix=$(CLIENT_FUZZ_BUILD)/ \
	  $(CLIENT_FUZZ_BUILD)/corpus tests/fuzz/seeds >$(CLIENT_FUZZ_BUILD)/last.log 2>&1; rc=$$?; \
	  grep -E '^(stat::number_of_executed_units|Done)|ERROR|SUMMARY' $(CLIENT_FUZZ_BUILD)/last.log; \
	  [ $$rc -eq 0 ] || { tail -n 40 $(CLIENT_FUZZ_BUILD)/last.log; exit 1; }

rig-host: $(RIG_HOST)/device-sine $(RIG_HOST)/device-test $(RIG_HOST)/device-digits-s0

# make test-py runs the host-side rig tests (tests/test_client.py, tests/test_rig.py); the QEMU
# fleet tests run here, after the toolchain check (TR_RIG_QEMU=1 makes them required).
rig-test: $(VENV)/.installed mcu-toolchain rig-host $(MCU_BUILD)/m4f/device-sine.elf $(MCU_BUILD)/m4f/device-digits-s0.elf fuzz-client ## Devices in the loop: the client fuzzed briefly, the QEMU fleet against the simulation (the host fleet, faults and resume run in test-py)
	$(Q)TR_RIG_QEMU=1 $(PY) -m pytest -q tests/test_rig.py -k qemu

# The client's flash and RAM next to the runtime's (a part of make size).
.PHONY: rig-size
rig-size: mcu-toolchain $(VENV)/.installed $(MCU_BUILD)/m4f/device-sine.elf ## Flash and RAM of the device client next to the model runtime's, stack measured under QEMU
	$(Q)mkdir -p $(BUILD)/size
	$(Q)$(PY) mcu/tools/rig_size.py --build $(MCU_BUILD)/m4f --markdown $(BUILD)/size/rig.md
size: rig-size

.PHONY: rig-bench
rig-bench: $(VENV)/.installed mcu-toolchain rig-host $(MCU_BUILD)/m4f/device-sine.elf ## Devices in the loop measured: rounds/s and bytes per round, host fleet (100) and QEMU fleet (2), float32 and int8
	$(Q)mkdir -p $(BUILD)/bench
	$(Q)$(PY) -m tinyreptile_ref.tools.rig_bench --json $(BUILD)/bench/rig.json
