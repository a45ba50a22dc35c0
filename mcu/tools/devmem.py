#!/usr/bin/env python3
"""make size (device part): measured device memory of the TinyReptile firmware variants.

    python3 mcu/tools/devmem.py --build build/mcu/m4f [--json FILE] [--markdown FILE] VARIANT...

For each variant image fw-VARIANT.elf (mcu/firmware/tinyreptile_fw.c with its generated data, built by
mk/device.mk for Cortex-M4F at -O2), from the image, its symbols and one run under QEMU:

  params      the device's parameter buffer tr_fw_phi (theta in, phi out), 4 * n_params;
  arena       tr_fw_arena, tr_model_arena_size bytes: activations, deltas, the gradient
              buffer (gradient-buffer and Reptile variants) and the samples in RAM (one for
              TinyReptile, the k stored ones for Reptile);
  runtime     every other byte of .data + .bss: the C runtime's own state (newlib's reent and
              stdio, semihosting handles) and the firmware's; the server's theta
              (tr_fw_server_theta) is not the device's and is left out;
  stack       the high-water mark of the main stack from reset through the training rounds
              (mcu/port/stackmark.c: paint before, scan after; the run prints it as stack_used);
  RAM         params + arena + runtime + stack: what the device uses;
  flash       the image's code and constants (.vectors, .text, .rodata, .ARM.exidx, init/fini
              arrays, .data's initial values) minus the run's data (the rounds' samples, the
              initial theta, eps, orders: the stand-ins for the radio and the sensor), and the
              part of it that is the kernel library (csrc/ objects, from the link map).
The heap is not counted: nothing in the training path allocates (printf may, after it).
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CODE_SECTIONS = (".vectors", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".preinit_array",
                 ".init_array", ".fini_array", ".data")
RUN_DATA = ("tr_fw_theta0", "tr_fw_x", "tr_fw_target", "tr_fw_eps", "tr_fw_order")
BUDGET = 256 * 1024


def run(cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def sections(tool, elf):
    out = {}
    for line in run([tool + "size", "-A", str(elf)]).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def symbols(tool, elf):
    out = {}
    for line in run([tool + "nm", "-S", "--defined-only", str(elf)]).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[3]] = out.get(parts[3], 0) + int(parts[1], 16)
    return out


def library_flash(mapfile):
    """Bytes of .text/.rodata input sections from csrc/ objects in the link map."""
    total = 0
    pat = re.compile(r"^\s*(\.(?:text|rodata)\S*)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+\S*/obj/csrc/\S+\.o$")
    pending = None
    for line in mapfile.read_text().splitlines():
        s = line.strip()
        if re.match(r"^\.(text|rodata)\S*$", s):
            pending = s
            continue
        m = pat.match(line)
        if m and (m.group(1) or pending):
            total += int(m.group(2), 16)
        pending = None
    return total


def measure(build, variant, machine, tool, timeout):
    elf = build / f"fw-{variant}.elf"
    sec = sections(tool, elf)
    sym = symbols(tool, elf)
    res = run([str(ROOT / "mcu/tools/run-qemu.sh"), machine, str(elf), str(timeout)], check=False)
    kv = dict(line.split(": ", 1) for line in res.stdout.splitlines() if ": " in line)
    if res.returncode != 0 or kv.get("result") != "ok":
        raise SystemExit(f"devmem.py: fw-{variant} failed (exit {res.returncode}):\n{res.stdout}"
                         f"{res.stderr}")
    params, arena = sym["tr_fw_phi"], sym["tr_fw_arena"]
    runtime = sec.get(".data", 0) + sec.get(".bss", 0) - sym["tr_fw_server_theta"] - params - arena
    stack = int(kv["stack_used"])
    run_data = sum(sym.get(s, 0) for s in RUN_DATA)
    flash = sum(sec.get(s, 0) for s in CODE_SECTIONS) - run_data
    model, algo, mode = variant.split("-")
    return {"variant": variant, "model": model, "algorithm": algo, "mode": mode,
            "params": params, "arena": arena, "runtime": runtime, "stack": stack,
            "stack_baseline": int(kv["stack_baseline"]),
            "samples_in_ram": int(kv["samples_in_ram"]), "batch": int(kv["batch"]),
            "ram": params + arena + runtime + stack, "flash": flash,
            "flash_library": library_flash(elf.with_suffix(".map")),
            "theta_sha256": kv["theta_sha256"]}


LABELS = {("tinyreptile", "fused"): "TinyReptile, fused step (no gradient buffer)",
          ("tinyreptile", "grad"): "TinyReptile, gradient buffer",
          ("reptile", "accum"): "Reptile, stored samples, gradient accumulated over mini-batches"}


def table(rows):
    lines = ["| model | device training | samples in RAM | params | arena | params + arena "
             "| C runtime .data+.bss | stack peak | **RAM** | of 256 KB | RAM vs fused "
             "| flash: library | flash: image |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: |"]
    for r in rows:
        fused = next((q for q in rows if q["model"] == r["model"] and q["mode"] == "fused"), r)
        label = LABELS[(r["algorithm"], r["mode"])]
        if r["algorithm"] == "reptile":
            label += f" of {r['batch']}"
        lines.append(
            f"| {r['model']} | {label} | {r['samples_in_ram']} | {r['params']} | {r['arena']} | "
            f"{r['params'] + r['arena']} | {r['runtime']} | {r['stack']} | **{r['ram']}** | "
            f"{100 * r['ram'] / BUDGET:.1f} % | {r['ram'] / fused['ram']:.2f}x | "
            f"{r['flash_library']} | {r['flash']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/mcu/m4f")
    ap.add_argument("--qemu-machine", default="mps2-an386")
    ap.add_argument("--cross", default="arm-none-eabi-")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args(argv)
    rows = [measure(pathlib.Path(args.build), v, args.qemu_machine, args.cross, args.timeout)
            for v in args.variants]
    text = ("Measured device memory, Cortex-M4F (mps2-an386 under QEMU), -O2; bytes. "
            "RAM = params + arena + runtime + stack.\n\n" + table(rows))
    print(text, end="")
    if args.markdown:
        pathlib.Path(args.markdown).write_text(text)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
