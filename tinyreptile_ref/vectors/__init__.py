"""Golden test vectors: cases computed by the NumPy twins, stored as a JSON manifest plus raw
little-endian blobs under vectors/, replayed bit for bit by the C runner in tests/runner/ on the
host and on microcontrollers.

    python -m tinyreptile_ref.vectors [generate] [--out vectors]   write every case (make vectors)
    python -m tinyreptile_ref.vectors check [vectors]              schema, files and sha256
    python -m tinyreptile_ref.vectors embed [vectors] --out F.c    C source with every case as
                                                                   const arrays (MCU images)

The format is in format.py and vectors/README.md, the cases in cases.py, the C emitter in
embed.py.
"""
import platform

import numpy as np

from .._version import __version__ as PACKAGE_VERSION
from . import format
from .format import VectorFormatError, check, load_manifest, read_blob  # noqa: F401

#: Bump when the cases change (values, parameters or the set of cases).
GENERATOR_VERSION = "1.1.0"
GENERATOR_NAME = "tinyreptile_ref.vectors"
#: The one seed every random value in the vectors derives from (via SplitMix64 streams).
SEED = 20230618


def provenance():
    return {"seed": SEED, "rng": "splitmix64", "numpy": np.__version__,
            "python": platform.python_version()}


def generate(out):
    """Write every case under the directory `out` (manifest.json and blobs/). Returns the
    manifest. Deterministic: the same code gives the same bytes under any NumPy version (only
    the provenance records which NumPy and Python ran it)."""
    from .cases import generate_cases
    generator = {"name": GENERATOR_NAME, "version": GENERATOR_VERSION,
                 "package_version": PACKAGE_VERSION}
    return format.write(out, generate_cases(SEED), generator, provenance())
