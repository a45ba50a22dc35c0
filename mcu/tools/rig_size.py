#!/usr/bin/env python3
"""make rig-size (part of make size): flash and RAM of the device client next to the model
runtime's, in the Cortex-M4F sine device image (build/mcu/m4f/device-sine.elf), and the stack
high-water mark measured under QEMU for one TinyReptile and one Reptile round.

    python3 mcu/tools/rig_size.py [--build build/mcu/m4f] [--markdown FILE]

flash: .text + .rodata + .data of each object as compiled (-O2, whole object); RAM: the sizes of
the image's static buffers (arm-none-eabi-nm), the client's state (`client`, a tr_client), and
the stack the device used from reset through a round (its console line "stack_used", painted
by mcu/port/stackmark.c).
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        raise SystemExit(f"rig_size.py: {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def obj_flash(size_tool, obj):
    text, data, _bss = run([size_tool, str(obj)]).splitlines()[1].split()[:3]
    return int(text) + int(data)


def symbols(nm, elf):
    out = {}
    for line in run([nm, "-S", "--size-sort", str(elf)]).splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[3].split(".")[0]] = int(parts[1], 16)
    return out


def stack_of_round(algo):
    with tempfile.TemporaryDirectory() as d:
        run([sys.executable, "-m", "tinyreptile_ref", "train", "--algo", algo, "--rounds", "2",
             "--devices", "qemu:1", "--transport", "int8", "--out", d, "--quiet",
             "--eval-tasks", "1", "--curve-points", "0"], cwd=ROOT)
        text = (pathlib.Path(d) / "qemu-0.log").read_text()
    used = [int(m) for m in re.findall(r"stack_used (\d+)", text)]
    if not used:
        raise SystemExit(f"rig_size.py: no stack_used line in the device's console:\n{text}")
    return max(used)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(ROOT / "build" / "mcu" / "m4f"))
    ap.add_argument("--cross", default="arm-none-eabi-")
    ap.add_argument("--markdown")
    args = ap.parse_args(argv)
    b = pathlib.Path(args.build)
    size_tool, nm = args.cross + "size", args.cross + "nm"
    elf = b / "device-sine.elf"
    obj = b / "obj" / "csrc"
    s = symbols(nm, elf)
    kernels = sum(obj_flash(size_tool, o) for o in sorted(obj.glob("*.o"))
                  if o.stem not in ("client", "model"))
    text, data, bss = (int(v) for v in run([size_tool, str(elf)]).splitlines()[1].split()[:3])
    st_tr, st_rp = stack_of_round("tinyreptile"), stack_of_round("reptile")
    buffers = sum(s.get(n, 0) for n in ("tr_dev_x", "tr_dev_target", "tr_dev_order", "tr_dev_losses"))
    rows = [
        ("device client (csrc/client.c)", obj_flash(size_tool, obj / "client.o"),
         f"{s['client']:,} (tr_client: decoder, payload and frame buffers)"),
        ("model runtime (csrc/model.c)", obj_flash(size_tool, obj / "model.o"),
         f"{s['tr_dev_params']:,} parameters + {s['tr_dev_arena']:,} arena"),
        ("the other csrc/ objects (kernels, rng, sin, quantization; whole objects, before the linker drops unused code)", kernels, "-"),
        ("device application, data source, UART port", sum(
            obj_flash(size_tool, p) for p in (b / "obj" / "mcu" / "firmware").glob("*.o"))
         + obj_flash(size_tool, b / "obj" / "mcu" / "port" / "link_uart.o"),
         f"{buffers:,} samples, orders, losses"),
        ("stack, measured (reset through a TinyReptile / a Reptile round)", "-",
         f"{st_tr:,} / {st_rp:,}"),
        ("whole image (newlib, start-up, printf included)", text + data,
         f"{data + bss - s.get('tr_port_fault_stack', 0):,} static (.data + .bss, the 64 KiB "
         "stack region included)"),
    ]
    lines = ["| device sine image, Cortex-M4F -O2 | flash B | RAM B |", "|---|---:|---|"]
    lines += [f"| {a} | {f if isinstance(f, str) else format(f, ',')} | {r} |" for a, f, r in rows]
    out = "\n".join(lines)
    print(out)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
