#!/usr/bin/env python3
"""make size: flash and worst-case stack of each kernel of csrc/ on Cortex-M4F, at -Os and -O2.

    python3 mcu/tools/size.py [--out build/size] [--cc arm-none-eabi-gcc] [--markdown FILE]

Each csrc/*.c is compiled with the M4F flags of mk/mcu.mk (-mcpu=cortex-m4 -mthumb
-mfpu=fpv4-sp-d16 -mfloat-abi=hard -std=c99 -ffp-contract=off, warnings as errors) plus
-ffunction-sections -fdata-sections, so that every function and constant has a section of its
own, and -fstack-usage -fcallgraph-info=su, which give each function's frame and its calls.

  flash  the kernel's own .text, plus every private helper it reaches through calls (a helper
         shared by several kernels counts in each of their rows), plus the .rodata its code
         and its helpers refer to. The total counts every section of the library once
         (status strings included): what a firmware that links every kernel pays.
  stack  the worst case over call chains: the kernel's frame plus its deepest chain of callees
         (-fstack-usage frames; every frame in the library is static, i.e. bounded). Calls into
         the C library (GCC turns zeroing loops into memset) are named in the last column and
         not counted: newlib's memset and memcpy use no stack beyond their caller's on Cortex-M.
"""
import argparse
import collections
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARCH = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
CONTRACT = ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic",
            "-Wmissing-prototypes", "-Werror"]
MEASURE = ["-ffunction-sections", "-fdata-sections", "-fstack-usage", "-fcallgraph-info=su"]
OPTS = ("-Os", "-O2")

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"\\]+)(?:\\n([^"\\]*))?(?:\\n(\d+) bytes \((\w+)[^)]*\))?')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"size.py: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout


class Build:
    """One optimisation level: sections, relocations and call graph of the whole library."""

    def __init__(self, cc, opt, out):
        self.text = {}      # function -> .text bytes
        self.rodata = {}    # section name (per object) -> bytes
        self.refs = collections.defaultdict(set)   # function -> rodata sections it refers to
        self.frame = {}     # function -> stack bytes
        self.kind = {}      # function -> static/dynamic
        self.calls = collections.defaultdict(set)  # function -> callees (names)
        self.public = []    # the tr_ functions, in source order
        self.total = 0
        prefix = cc[: -len("gcc")] if cc.endswith("gcc") else ""
        size_tool, readelf = prefix + "size", prefix + "readelf"
        out.mkdir(parents=True, exist_ok=True)
        for src in sorted((ROOT / "csrc").glob("*.c")):
            obj = out / (src.stem + ".o")
            run([cc, *ARCH, *CONTRACT, opt, *MEASURE, f"-I{ROOT / 'csrc'}", "-c", str(src),
                 "-o", str(obj)])
            local = set()
            for line in run([prefix + "nm", "--defined-only", str(obj)]).splitlines():
                parts = line.split()
                if (len(parts) == 3 and parts[1] == "T" and parts[2].startswith("tr_")
                        and not parts[2].startswith("tr__")):  # tr__x: shared private helpers
                    self.public.append(parts[2])
                elif len(parts) == 3 and parts[1] == "t":
                    local.add(parts[2])
            # A private (static) function is known as "<file stem>:<name>": header helpers
            # such as tr__mul_ok have a copy in every file that uses them.
            self.key = lambda name, stem=src.stem, local=frozenset(local): (
                f"{stem}:{name}" if name in local else name)
            self._sections(run([size_tool, "-A", str(obj)]), src.stem)
            self._relocations(run([readelf, "-rW", str(obj)]), src.stem)
            self._graph(obj.with_suffix(".ci").read_text(), src.stem)

    def _sections(self, text, stem):
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            name, size = parts[0], int(parts[1])
            if name.startswith(".text.") and size:
                self.text[self.key(name[len(".text."):])] = size
                self.total += size
            elif name.startswith(".rodata") and size:
                self.rodata[f"{stem}:{name}"] = size
                self.total += size
            elif name in (".text", ".data") and size:
                raise SystemExit(f"size.py: {stem}.o has {size} bytes in {name} outside per-function sections")

    def _relocations(self, text, stem):
        """refs[function or rodata section] = rodata sections it points to (jump tables point
        on to strings, so the closure is taken in flash())."""
        section = None
        for line in text.splitlines():
            m = re.match(r"Relocation section '\.rel(\.text\.|\.rodata)(\S*)'", line)
            if m:
                section = (self.key(m.group(2)) if m.group(1) == ".text."
                           else f"{stem}:.rodata{m.group(2)}")
                continue
            if line.startswith("Relocation section"):
                section = None
            parts = line.split()
            if section and len(parts) >= 5 and parts[-1].startswith(".rodata"):
                self.refs[section].add(f"{stem}:{parts[-1]}")

    def _graph(self, text, stem):
        def fn(title):  # "<path>/dense.c:tr__helper" for a static function, else "name"
            if ":" in title:
                path, name = title.rsplit(":", 1)
                return f"{pathlib.Path(path).stem}:{name}"
            return title
        for m in _NODE.finditer(text):
            name, label, _, nbytes, kind = m.groups()
            if nbytes is not None:
                self.frame[fn(m.group(1))] = int(nbytes)
                self.kind[fn(m.group(1))] = kind
        for m in _EDGE.finditer(text):
            callee = fn(m.group(2))
            self.calls[fn(m.group(1))].add(callee.replace("__builtin_", ""))

    def reach(self, f, seen=None):
        """f and every library function it reaches through calls."""
        seen = set() if seen is None else seen
        if f in seen:
            return seen
        seen.add(f)
        for g in self.calls.get(f, ()):
            if g in self.frame:
                self.reach(g, seen)
        return seen

    def flash(self, f):
        return self.flash_of([f])

    def flash_of(self, roots):
        """Flash of the functions `roots`, and of everything they reach, each counted once."""
        fns = set()
        for f in roots:
            self.reach(f, fns)
        code = sum(self.text.get(g, 0) for g in fns)
        todo = set().union(*(self.refs.get(g, set()) for g in fns))
        ro = set()
        while todo:
            r = todo.pop()
            if r not in ro:
                ro.add(r)
                todo |= self.refs.get(r, set())
        return code + sum(self.rodata.get(r, 0) for r in ro)

    def stack(self, f, active=()):
        if f in active:
            raise SystemExit(f"size.py: recursion through {f}: the worst-case stack is unbounded")
        if self.kind.get(f) != "static":
            raise SystemExit(f"size.py: {f} has a {self.kind.get(f)} frame: not bounded")
        below = [self.stack(g, active + (f,)) for g in self.calls.get(f, ()) if g in self.frame]
        return self.frame[f] + max(below, default=0)

    def runtime(self, cc, out, opt):
        """(bytes, names) of the C runtime (libgcc, newlib) an image pulls in when it links
        every kernel: a probe program keeps each tr_ function, the linker (--gc-sections) adds
        what they call; the image's code and constants minus the library's and main's."""
        probe = out / "probe.c"
        names = sorted(set(self.public))
        probe.write_text('#include "tinyreptile.h"\n'
                         "typedef void (*tr_fn)(void);\n"
                         "static tr_fn const volatile tr_size_probe[] = {\n"
                         + "".join(f"    (tr_fn){n},\n" for n in names) + "};\n"
                         "int main(void);\n"
                         "int main(void)\n{\n    int n = 0;\n"
                         f"    for (int j = 0; j < {len(names)}; j++) {{\n"
                         "        n += tr_size_probe[j] != 0;\n    }\n    return n;\n}\n")
        objs = sorted(str(p) for p in out.glob("*.o") if p.stem != "probe")
        elf = out / "probe.elf"
        run([cc, *ARCH, *CONTRACT, opt, f"-I{ROOT / 'csrc'}", str(probe), *objs, "-nostartfiles",
             "--specs=nosys.specs", "-Wl,--gc-sections", "-Wl,-e,main", "-o", str(elf)])
        prefix = cc[: -len("gcc")] if cc.endswith("gcc") else ""
        image = 0
        for line in run([prefix + "size", "-A", str(elf)]).splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in (".text", ".rodata", ".ARM.exidx"):
                image += int(parts[1])
        ours = set(self.text) | {k.split(":")[-1] for k in self.text}
        names, main_size = set(), 0
        for line in run([prefix + "nm", "-S", "--defined-only", str(elf)]).splitlines():
            parts = line.split()
            if parts[-1] == "main" and len(parts) == 4:
                main_size = int(parts[1], 16)
            elif (parts[-2] in ("T", "t", "W") and parts[-1] not in ours and parts[-1] != "main"
                  and (len(parts) == 4 or parts[-1].startswith("__aeabi"))):
                names.add(parts[-1])  # sized functions, and libgcc's unsized assembly entries
        return image - self.total - main_size, sorted(names)

    def external(self, f):
        return sorted({g for h in self.reach(f) for g in self.calls.get(h, ()) if g not in self.frame})


def table(builds, cc_version, runtime):
    fns = builds[OPTS[0]].public
    lines = [f"Cortex-M4F ({' '.join(ARCH[:1] + ARCH[2:])}), {cc_version}; bytes.", "",
             "| kernel | flash -Os | flash -O2 | stack -Os | stack -O2 | calls into the C runtime |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for f in fns:
        row = [f] + [str(builds[o].flash(f)) for o in OPTS] + [str(builds[o].stack(f)) for o in OPTS]
        ext = sorted(set().union(*(builds[o].external(f) for o in OPTS)))
        lines.append("| " + " | ".join(row + [", ".join(ext) or "-"]) + " |")
    kernels = [f for f in fns if not f.startswith(("tr_model_", "tr_sine_run_"))
               and not f.endswith("_device_round_f32")]
    lines.append(f"| **the kernels without the model runtime (each section once)** | "
                 f"**{builds['-Os'].flash_of(kernels)}** | **{builds['-O2'].flash_of(kernels)}** | | | |")
    lines.append(f"| **total (library, each section once)** | **{builds['-Os'].total}** | "
                 f"**{builds['-O2'].total}** | | | |")
    rt = {o: runtime[o][0] for o in OPTS}
    names = ", ".join(sorted(set(runtime["-Os"][1]) | set(runtime["-O2"][1])))
    lines.append(f"| C runtime these calls link in | {rt['-Os']} | {rt['-O2']} | | | {names or '-'} |")
    lines.append(f"| **total in an image** | **{builds['-Os'].total + rt['-Os']}** | "
                 f"**{builds['-O2'].total + rt['-O2']}** | | | |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cc", default="arm-none-eabi-gcc")
    p.add_argument("--out", default=str(ROOT / "build" / "size"))
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args(argv)
    if not shutil.which(args.cc):
        print(f"size.py: {args.cc} not found (make mcu-toolchain)", file=sys.stderr)
        return 2
    version = run([args.cc, "--version"]).splitlines()[0]
    outs = {o: pathlib.Path(args.out) / o.lstrip("-") for o in OPTS}
    builds = {o: Build(args.cc, o, outs[o]) for o in OPTS}
    runtime = {o: builds[o].runtime(args.cc, outs[o], o) for o in OPTS}
    text = table(builds, version, runtime)
    print(text, end="")
    if args.markdown:
        pathlib.Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
