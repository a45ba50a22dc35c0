"""The NumPy backend: the twins of the C kernels, gathered under the names cbackend uses."""
from .conv1d import conv1d_backward_f32, conv1d_forward_f32, conv1d_out_len  # noqa: F401
from .dense import dense_backward_f32, dense_forward_f32  # noqa: F401
from .optim import reptile_interpolate_f32, sgd_step_f32  # noqa: F401
