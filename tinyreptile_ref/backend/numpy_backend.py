"""The NumPy backend: the twins of the C kernels, gathered under the names cbackend uses."""
from ..kernels.conv1d import conv1d_backward_f32, conv1d_forward_f32, conv1d_out_len  # noqa: F401
from ..kernels.activation import (  # noqa: F401
    relu_backward_f32,
    relu_forward_f32,
    tanh_backward_f32,
    tanh_forward_f32,
)
from ..kernels.dense import dense_backward_f32, dense_forward_f32  # noqa: F401
from ..kernels.loss import mse_loss_f32, softmax_xent_loss_f32  # noqa: F401
from ..kernels.mathf import exp_f32, log_f32, sin_f32, tanh_f32  # noqa: F401
from ..kernels.rng import (  # noqa: F401
    rng_below_i32,
    rng_bits_u64,
    rng_distinct_i32,
    rng_key,
    rng_permutation_i32,
    rng_uniform_f32,
)
from ..kernels.optim import reptile_interpolate_f32, sgd_step_f32  # noqa: F401
from ..kernels.conv1d_s8 import conv1d_forward_s8  # noqa: F401
from ..kernels.dense_s8 import dense_forward_s8  # noqa: F401
from ..kernels.quant import (  # noqa: F401
    dequantize_s8,
    multiply_by_quantized_multiplier_s32,
    quantize_s8,
    reptile_interpolate_s8,
    sgd_step_s8,
    transport_dequantize_s8,
    transport_quantize_s8,
)
from ..runtime.model import (  # noqa: F401
    model_backward_f32,
    model_forward_f32,
    model_memory_plan,
    model_train_step_f32,
    reptile_device_round_f32,
    tinyreptile_device_round_f32,
)
