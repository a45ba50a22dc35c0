"""The NumPy backend: the twins of the C kernels, gathered under the names cbackend uses."""
from .activation import (  # noqa: F401
    relu_backward_f32,
    relu_forward_f32,
    tanh_backward_f32,
    tanh_forward_f32,
)
from .dense import dense_backward_f32, dense_forward_f32  # noqa: F401
from .loss import mse_loss_f32, softmax_xent_loss_f32  # noqa: F401
from .mathf import exp_f32, log_f32, tanh_f32  # noqa: F401
from .optim import reptile_interpolate_f32, sgd_step_f32  # noqa: F401
