"""Where the C library is: its sources and headers, the golden-vector runner and the vectors.

Like numpy.get_include(), for builds that compile the library into something else (an MCU
project, a CMake or Makefile build, another Python extension)::

    cc -std=c99 -ffp-contract=off -I"$(python -c 'import tinyreptile_ref as t; print(t.get_include())')" ...

An installed wheel carries them as package data (tinyreptile_ref/csrc/, runner/, golden/, put
there by setup.py); in a checkout or an editable install these functions return the
checkout's csrc/, tests/runner/ and vectors/. `python -m tinyreptile_ref export-c DIR` copies
them into a folder for a firmware project.
"""
import pathlib

from .errors import ParameterError

_PKG = pathlib.Path(__file__).resolve().parent
_CHECKOUT = _PKG.parent

#: name -> (folder inside the installed package, folder in a checkout, a file it must hold)
_PLACES = {
    "csrc": ("csrc", "csrc", "tinyreptile.h"),
    "runner": ("runner", "tests/runner", "tv.h"),
    "vectors": ("golden", "vectors", "manifest.json"),
}

#: The runner's sources, without its two entry points (tv_main_files.c, tv_main_embedded.c).
RUNNER_CORE = ("tv_core.c", "tv_sha256.c", "tv_handlers.c")


def _place(name):
    installed, checkout, marker = _PLACES[name]
    for d in (_PKG / installed, _CHECKOUT / checkout):
        if (d / marker).is_file():
            return d
    raise FileNotFoundError(
        f"tinyreptile_ref: the {name} files are missing (looked for {marker} in "
        f"{_PKG / installed} and {_CHECKOUT / checkout}); reinstall the package")


def get_include():
    """The folder with tinyreptile.h (and the library's private headers, which its sources
    include); pass it as -I when compiling the library or code that calls it."""
    return str(_place("csrc"))


def get_c_sources():
    """The library's C sources (absolute paths, sorted): compile all of them, with the flags
    of the README's numerics contract."""
    return sorted(str(p) for p in _place("csrc").glob("*.c"))


def get_c_headers():
    """The library's headers (absolute paths, sorted): tinyreptile.h is the public one."""
    return sorted(str(p) for p in _place("csrc").glob("*.h"))


def get_runner_dir():
    """The folder with the golden-vector runner's sources (tv.h, tv_*.c)."""
    return str(_place("runner"))


def get_runner_sources(mode="files"):
    """The runner's sources for `mode`: "files" reads manifest.json and the blobs (hosted
    C library), "embedded" links the source `python -m tinyreptile_ref.vectors embed` writes."""
    mains = {"files": ("tv_files.c", "tv_main_files.c"), "embedded": ("tv_main_embedded.c",)}
    if mode not in mains:
        raise ParameterError(f"mode: {mode!r} is not one of {sorted(mains)}")
    d = _place("runner")
    return [str(d / f) for f in RUNNER_CORE + mains[mode]]


def get_vectors_dir():
    """The folder with the golden vectors (manifest.json, blobs/) the runner replays."""
    return str(_place("vectors"))
