# Toolchain file: arm-none-eabi-gcc for Cortex-M4F (FPv4-SP, hard float), the QEMU machine
# mps2-an386 (mk/mcu.mk's m4f target), semihosting through newlib's rdimon.
#
#   cmake -S . -B build/cmake-m4f -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi-cortex-m4f.cmake
#   cmake --build build/cmake-m4f && ctest --test-dir build/cmake-m4f
#
# Executables link the board port: mcu/port/mps2.ld (the linker script, with the flags below)
# and the start-up code, which each executable adds from TINYREPTILE_PORT_SOURCES:
#   target_sources(app PRIVATE ${TINYREPTILE_PORT_SOURCES})
# CTest runs executables through CMAKE_CROSSCOMPILING_EMULATOR, mcu/tools/run-qemu.sh, which
# exits with the program's status (a fault: 70, a hang: 124; TR_QEMU_TIMEOUT seconds, 60).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

get_filename_component(_tr_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(TR_CROSS "arm-none-eabi-" CACHE STRING "Prefix of the cross tools")
set(CMAKE_C_COMPILER ${TR_CROSS}gcc)
set(CMAKE_ASM_COMPILER ${TR_CROSS}gcc)
# The compiler check cannot link without start-up code.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# As mk/mcu.mk's MCU_ARCH_M4F; the library adds -ffp-contract=off to its own objects.
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-T ${_tr_root}/mcu/port/mps2.ld -nostartfiles --specs=rdimon.specs -Wl,--gc-sections")

set(TINYREPTILE_PORT_SOURCES "${_tr_root}/mcu/port/startup.c;${_tr_root}/mcu/port/stackmark.c")
set(TINYREPTILE_PORT_INCLUDE_DIR "${_tr_root}/mcu/port")
set(CMAKE_CROSSCOMPILING_EMULATOR "${_tr_root}/mcu/tools/run-qemu.sh;mps2-an386")
set(CMAKE_EXECUTABLE_SUFFIX_C .elf)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
