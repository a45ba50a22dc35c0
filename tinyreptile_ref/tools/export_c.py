"""python -m tinyreptile_ref export-c DIR [--runner] [--vectors KERNELS]

Writes a drop-in folder for a firmware project: the C library (sources and headers, flat),
optionally the golden-vector runner with an embedded-vectors source for the chosen kernels,
and a README of the compile flags. DIR must be new or empty; the folder is written beside it
under a temporary name and renamed into place, so a failure leaves nothing behind.

    DIR/tinyreptile/   *.c, tinyreptile.h (public) and the private headers the sources include
    DIR/runner/        tv.h, tv_core.c, tv_sha256.c, tv_handlers.c, tv_main_embedded.c,
                       tv_embedded.c (the cases as const arrays)          [--runner]
    DIR/README.md      what to compile, with which flags
"""
import os
import pathlib
import shutil
import tempfile

from .. import clib
from .._version import __version__
from ..errors import ParameterError
from ..vectors.embed import c_source
from ..vectors.format import VectorFormatError, load_manifest

README = """\
# tinyreptile {version}: the C library, exported by `python -m tinyreptile_ref export-c`

`tinyreptile/` is the whole library: compile every `.c` in it and put the folder on the
include path. Code that calls it includes only `tinyreptile.h` (the API, one comment per
kernel with its math, layout and reduction order).

    cc -std=c99 -ffp-contract=off -O2 -Wall -Wextra -Itinyreptile -c tinyreptile/*.c

Flags (the numerics contract: the bits equal the reference on every target):

- `-std=c99 -ffp-contract=off` are the recommended flags. The sources forbid contraction of
  `a*b + c` into a fused multiply-add themselves (`tr_contract.h`: `#pragma STDC FP_CONTRACT
  OFF` for clang, `#pragma GCC optimize("fp-contract=off")` for GCC), so GNU modes
  (`-std=gnu11`, the Arduino and IDE default) and FMA targets give the same bits too.
- Refused at compile time with an `#error`: `-ffast-math` / `-Ofast`, `-ffinite-math-only`,
  and float evaluated in a wider format (`FLT_EVAL_METHOD` != 0: 32-bit x86 with x87; use
  `-msse2 -mfpmath=sse`).
- Still your job, invisible to the preprocessor: no clang `-ffp-contract=fast`, no
  `-fassociative-math` or `-freciprocal-math`, no flush-to-zero of subnormals (Arm FPSCR.FZ,
  x86 MXCSR FTZ/DAZ), rounding mode left at round-to-nearest-even.
- No libm, no malloc, no globals, no printf: nothing to link but the objects.
{runner}"""

RUNNER_README = """
## The golden-vector runner (`runner/`)

`runner/tv_embedded.c` holds {cases} golden cases ({kernels}) as const arrays; the runner
replays them through the library and compares bit for bit. It prints one line per kernel and
`N passed, N failed`, and returns non-zero on any failure. On a host:

    cc -std=c99 -O2 -Itinyreptile -Irunner tinyreptile/*.c runner/*.c -o tv_runner && ./tv_runner

On a board: link the same sources into the image (they use `printf` and `snprintf` for the
report); `main(void)` is used when `__arm__` is defined without `__linux__`. The runner's work
buffers take about 1.4 MB of static RAM; a smaller board lowers `TV_ARENA_F32`,
`TV_ARENA_S32`, `TV_ARENA_S16` and `TV_ARENA_BYTES` (a case that does not fit fails and says
how much it needs).
"""

#: The runner's files copied for the embedded mode (tv_embedded.c is generated).
RUNNER_FILES = ("tv.h",) + clib.RUNNER_CORE + ("tv_main_embedded.c",)


def _check_dest(dest):
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise ParameterError(f"DIR: {dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise ParameterError(f"DIR: {dest} is not empty; give a new or an empty directory")
    if not dest.parent.is_dir():
        raise ParameterError(f"DIR: the parent folder {dest.parent} does not exist")
    if not os.access(dest.parent, os.W_OK):
        raise ParameterError(f"DIR: the parent folder {dest.parent} is not writable")


def _kernels(vectors, requested):
    """The kernels to embed: `requested` (comma-separated, or "all") checked against the
    manifest, in the manifest's order."""
    try:
        known = list(dict.fromkeys(c["kernel"] for c in load_manifest(vectors)["cases"]))
    except (OSError, ValueError, KeyError, VectorFormatError) as exc:
        raise ParameterError(f"vectors: cannot read {vectors}/manifest.json: {exc}") from None
    if requested in (None, "all"):
        return known
    names = [k.strip() for k in requested.split(",") if k.strip()]
    if not names:
        raise ParameterError("--vectors: no kernel named; give a comma-separated list or 'all'")
    unknown = [k for k in names if k not in known]
    if unknown:
        raise ParameterError(f"--vectors: no golden vectors for {', '.join(unknown)}; "
                             f"the kernels are: {', '.join(known)}")
    return [k for k in known if k in names]


def export_c(dest, runner=False, kernels=None):
    """Write the drop-in folder `dest` (new or empty). `runner`: also the golden-vector runner
    with the cases of `kernels` ("all", None, or comma-separated names) embedded. Returns the
    written files, relative to `dest`."""
    dest = pathlib.Path(dest).absolute()
    _check_dest(dest)
    runner = runner or kernels is not None
    chosen = None
    if runner:
        vectors = clib.get_vectors_dir()
        chosen = _kernels(vectors, kernels)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        lib = tmp / "tinyreptile"
        lib.mkdir()
        for f in clib.get_c_sources() + clib.get_c_headers():
            shutil.copyfile(f, lib / pathlib.Path(f).name)
        runner_text = ""
        if runner:
            rdir = tmp / "runner"
            rdir.mkdir()
            src = pathlib.Path(clib.get_runner_dir())
            for name in RUNNER_FILES:
                shutil.copyfile(src / name, rdir / name)
            try:
                text, cases = c_source(vectors, chosen)
            except (ValueError, VectorFormatError) as exc:
                raise ParameterError(f"vectors: {exc}") from None
            (rdir / "tv_embedded.c").write_text(text, encoding="ascii")
            runner_text = RUNNER_README.format(cases=cases, kernels=", ".join(chosen))
        (tmp / "README.md").write_text(README.format(version=__version__, runner=runner_text))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        written = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        if dest.is_dir():
            dest.rmdir()  # empty, checked above
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def add_parser(sub):
    p = sub.add_parser("export-c", help="write the C library (and the golden-vector runner) "
                                        "into a folder for a firmware project",
                       description="Write a drop-in folder for an MCU project: the C library "
                                   "(sources and headers), optionally the golden-vector runner "
                                   "with the chosen kernels' cases embedded as const arrays, "
                                   "and a README of the compile flags.")
    p.add_argument("dir", metavar="DIR", help="the folder to write (must be new or empty)")
    p.add_argument("--runner", action="store_true",
                   help="also write the golden-vector runner with embedded vectors")
    p.add_argument("--vectors", metavar="KERNELS",
                   help="the kernels whose cases the runner embeds: comma-separated names or "
                        "'all' (default all; implies --runner)")


def cmd_export_c(args):
    files = export_c(args.dir, runner=args.runner, kernels=args.vectors)
    print(f"export-c: wrote {len(files)} files to {args.dir}")
    return 0
