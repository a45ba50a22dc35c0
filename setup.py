"""Build glue that pyproject.toml cannot express (the metadata lives there).

- cffi_modules: the C extension, compiled from csrc/ by tinyreptile_ref/backend/_build.py.
- build_py: the wheel also carries the C library for firmware projects, as package data
  copied from the source tree: csrc/ -> tinyreptile_ref/csrc/, tests/runner/ ->
  tinyreptile_ref/runner/, vectors/ -> tinyreptile_ref/golden/ (tinyreptile_ref.clib finds
  them; in a checkout or an editable install it finds the originals).
- bdist_wheel: the extension is built against CPython's limited API (cffi defines
  Py_LIMITED_API), so one wheel, tagged cp39-abi3, serves every CPython >= 3.9.
"""
import pathlib
import platform
import shutil
import sysconfig

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent

#: (source folder in the checkout, folder inside the package, file patterns)
C_DATA = (
    ("csrc", "csrc", ("*.c", "*.h")),
    ("tests/runner", "runner", ("*.c", "*.h")),
    ("vectors", "golden", ("manifest.json", "schema.json", "README.md", "blobs/**/*.bin")),
)


class build_py_with_c(build_py):
    """build_py, plus the C library, the runner and the golden vectors as package data."""

    def run(self):
        super().run()
        pkg = pathlib.Path(self.build_lib) / "tinyreptile_ref"
        for src, dst, patterns in C_DATA:
            out = pkg / dst
            if out.exists():
                shutil.rmtree(out)
            files = sorted({p for pat in patterns for p in (ROOT / src).glob(pat) if p.is_file()})
            if not files:
                raise RuntimeError(f"setup.py: no files in {src}/ (an incomplete sdist?)")
            for f in files:
                target = out / f.relative_to(ROOT / src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)


options = {}
# Not on a free-threaded CPython, which has no stable ABI before 3.15 (cffi then builds a
# version-specific extension, and the wheel must say so).
if platform.python_implementation() == "CPython" and not sysconfig.get_config_var("Py_GIL_DISABLED"):
    options["bdist_wheel"] = {"py_limited_api": "cp39"}

setup(
    cffi_modules=["tinyreptile_ref/backend/_build.py:ffibuilder"],
    cmdclass={"build_py": build_py_with_c},
    options=options,
)
