"""The binding and the switch: the C kernels through cffi (_build.py compiles csrc/ into
_tinyreptile_c; cbackend.py wraps it), the NumPy twins gathered under the same names
(numpy_backend.py), and get_backend choosing between them ("numpy" or "c").

Both expose the same functions with the same signatures and the same argument checks, and
give the same bits; tests/test_backends.py holds them to that.
"""
import importlib

from ..errors import ParameterError

NAMES = ("numpy", "c")
#: Kernel names end in their element type.
KERNEL_SUFFIXES = ("_f32", "_s8", "_s32")
_MODULES = {"numpy": ".numpy_backend", "c": ".cbackend"}


def get_backend(name):
    """The backend module called `name` ("numpy" or "c")."""
    if not isinstance(name, str) or name not in _MODULES:
        raise ParameterError(f"backend: {name!r} is not one of {', '.join(NAMES)}")
    return importlib.import_module(_MODULES[name], __package__)


def kernel_names():
    """The public kernel functions every backend provides."""
    mod = get_backend("numpy")
    return sorted(n for n in vars(mod) if n.endswith(KERNEL_SUFFIXES) and callable(getattr(mod, n)))
