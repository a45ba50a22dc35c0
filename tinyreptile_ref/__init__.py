"""tinyreptile_ref: the reference implementation of TinyReptile (federated meta-learning for
microcontrollers): a NumPy model and a C99 kernel library that compute the same bits."""
from ._version import __version__  # noqa: F401
from .backend import get_backend  # noqa: F401
from .clib import (  # noqa: F401
    get_c_headers,
    get_c_sources,
    get_include,
    get_runner_dir,
    get_runner_sources,
    get_vectors_dir,
)
from .errors import (  # noqa: F401
    AccumulatorOverflowError,
    DTypeError,
    KernelError,
    LayoutError,
    ParameterError,
    ShapeError,
    TinyReptileError,
)

