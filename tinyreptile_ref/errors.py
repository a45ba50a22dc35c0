"""The project's exceptions: one base class, each also deriving from the matching builtin."""


class TinyReptileError(Exception):
    """Base class of every error this package raises on purpose."""


class DTypeError(TinyReptileError, TypeError):
    """An array has the wrong type or dtype."""


class ShapeError(TinyReptileError, ValueError):
    """An array has the wrong number of dimensions, or shapes do not agree."""


class LayoutError(TinyReptileError, ValueError):
    """An array is not C-contiguous or not writeable where it must be."""


class ParameterError(TinyReptileError, ValueError):
    """A scalar parameter (stride, learning rate, label, ...) is out of range."""


class AccumulatorOverflowError(TinyReptileError, OverflowError):
    """An int32 accumulator could overflow: the kernel's depth precondition is violated."""


class KernelError(TinyReptileError, RuntimeError):
    """A C kernel returned an error status; the message comes from tr_status_str()."""

    def __init__(self, kernel, status, message):
        super().__init__(f"{kernel}: status {status}: {message}")
        self.kernel = kernel
        self.status = status


class ProtocolError(TinyReptileError, ValueError):
    """A wire frame or protocol message is malformed, out of range or unexpected."""
