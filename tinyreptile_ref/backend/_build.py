"""cffi build script: compiles csrc/*.c into tinyreptile_ref.backend._tinyreptile_c.

The declarations are the lines of csrc/tinyreptile.h between TR_CDEF_BEGIN and TR_CDEF_END,
so the header stays the one source of truth for the binding. Wired by setup.py's
cffi_modules; `python tinyreptile_ref/backend/_build.py` builds in place for development.
"""
import os
import pathlib

import cffi

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"

# The numerics contract: C99, no fused multiply-add, IEEE rounding left alone.
CFLAGS = ["-std=c99", "-ffp-contract=off", "-fno-fast-math", "-O3"]


def cdef_text(header=CSRC / "tinyreptile.h"):
    text = header.read_text()
    begin = text.index("/* TR_CDEF_BEGIN */") + len("/* TR_CDEF_BEGIN */")
    end = text.index("/* TR_CDEF_END */")
    body = text[begin:end]
    if any(line.lstrip().startswith("#") for line in body.splitlines()):
        raise RuntimeError("tinyreptile.h: preprocessor line between TR_CDEF_BEGIN and TR_CDEF_END")
    return body


def library_sources():
    """The kernel library: every .c file directly in csrc/, as paths relative to the root."""
    return sorted(os.path.relpath(p, ROOT) for p in CSRC.glob("*.c"))


ffibuilder = cffi.FFI()
ffibuilder.cdef(cdef_text())
ffibuilder.set_source(
    "tinyreptile_ref.backend._tinyreptile_c",
    '#include "tinyreptile.h"',
    sources=library_sources(),
    include_dirs=[os.path.relpath(CSRC, ROOT)],
    extra_compile_args=CFLAGS,
)

if __name__ == "__main__":
    os.chdir(ROOT)
    ffibuilder.compile(tmpdir=str(ROOT), verbose=False)
