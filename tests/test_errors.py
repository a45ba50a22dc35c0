"""Bad input gets a project exception that names the argument, from both backends alike,
and never reaches C."""
import numpy as np
import pytest

from tinyreptile_ref import DTypeError, LayoutError, ParameterError, ShapeError, TinyReptileError

f = np.float32
X = np.ones((2, 3), f)
W = np.ones((4, 3), f)
Bv = np.ones(4, f)
DY = np.ones((2, 4), f)
T = np.ones(5, f)
Z = np.ones((2, 3), f)
LAB = np.array([0, 2], np.int32)

# (kernel, args, exception type, the argument the message must name)
BAD_CALLS = [
    ("dense_forward_f32", (X.astype(np.float64), W, Bv), DTypeError, "x"),
    ("dense_forward_f32", (X.tolist(), W, Bv), DTypeError, "x"),
    ("dense_forward_f32", (X, np.ones((4, 2), f), Bv), ShapeError, "w"),
    ("dense_forward_f32", (X, W, np.ones(3, f)), ShapeError, "bias"),
    ("dense_forward_f32", (X, np.asfortranarray(np.ones((4, 3), f)), Bv), LayoutError, "w"),
    ("dense_forward_f32", (np.ones((2, 6), f)[:, ::2], W, Bv), LayoutError, "x"),
    ("dense_forward_f32", (np.ones(3, f), W, Bv), ShapeError, "x"),
    ("dense_backward_f32", (np.ones((2, 5), f), X, W), ShapeError, "dy"),
    ("dense_backward_f32", (DY.astype(np.float16), X, W), DTypeError, "dy"),
    ("sgd_step_f32", (T.copy(), np.ones(4, f), 0.1), ShapeError, "g"),
    ("sgd_step_f32", (T.copy(), T, float("nan")), ParameterError, "lr"),
    ("sgd_step_f32", (T.copy(), T, 1e39), ParameterError, "lr"),
    ("sgd_step_f32", (T.copy(), T, "0.1"), ParameterError, "lr"),
    ("sgd_step_f32", (np.ones((5, 1), f), T, 0.1), ShapeError, "theta"),
    ("reptile_interpolate_f32", (T.copy(), T.astype(np.int32), 0.5), DTypeError, "phi"),
    ("reptile_interpolate_f32", (T.copy(), T, float("inf")), ParameterError, "eps"),
    ("exp_f32", (T.astype(np.float64),), DTypeError, "x"),
    ("log_f32", ([1.0, 2.0],), DTypeError, "x"),
    ("tanh_f32", (np.asfortranarray(np.ones((3, 2), f)),), LayoutError, "x"),
    ("exp_f32", (np.ones(10, f)[::2],), LayoutError, "x"),
    ("relu_forward_f32", (T.astype(np.int32),), DTypeError, "x"),
    ("relu_backward_f32", (T, np.ones(4, f)), ShapeError, "x"),
    ("relu_backward_f32", (T.astype(np.float16), T), DTypeError, "dy"),
    ("tanh_forward_f32", (np.ones((4, 6), f)[:, ::3],), LayoutError, "x"),
    ("tanh_backward_f32", (T, np.ones((5, 1), f)), ShapeError, "y"),
    ("tanh_backward_f32", (T, T.astype(np.float64)), DTypeError, "y"),
    ("mse_loss_f32", (T, np.ones(4, f)), ShapeError, "target"),
    ("mse_loss_f32", (T.astype(np.float64), T), DTypeError, "pred"),
    ("mse_loss_f32", (T, T.tolist()), DTypeError, "target"),
    ("softmax_xent_loss_f32", (Z, np.array([0, 3], np.int32)), ParameterError, "labels"),
    ("softmax_xent_loss_f32", (Z, np.array([-1, 0], np.int32)), ParameterError, "labels"),
    ("softmax_xent_loss_f32", (np.ones((2, 0), f), np.array([0, 0], np.int32)), ParameterError, "labels"),
    ("softmax_xent_loss_f32", (Z, LAB.astype(np.int64)), DTypeError, "labels"),
    ("softmax_xent_loss_f32", (Z, np.array([0, 1, 2], np.int32)), ShapeError, "labels"),
    ("softmax_xent_loss_f32", (Z, LAB.reshape(2, 1)), ShapeError, "labels"),
    ("softmax_xent_loss_f32", (np.ones(3, f), LAB), ShapeError, "logits"),
    ("softmax_xent_loss_f32", (Z.astype(np.float64), LAB), DTypeError, "logits"),
    ("softmax_xent_loss_f32", (Z, [0, 2]), DTypeError, "labels"),
]


def _readonly():
    t = np.ones(5, f)
    t.flags.writeable = False
    return t


BAD_CALLS.append(("sgd_step_f32", (_readonly(), T, 0.1), LayoutError, "theta"))


@pytest.mark.parametrize("kernel,args,exc,arg", BAD_CALLS, ids=[f"{k}-{a}-{e.__name__}" for k, _, e, a in BAD_CALLS])
def test_bad_input_raises_a_project_exception_naming_the_argument(backend, kernel, args, exc, arg):
    with pytest.raises(exc, match=rf"^{arg}: ") as info:
        getattr(backend, kernel)(*args)
    assert isinstance(info.value, TinyReptileError)


@pytest.mark.parametrize("kernel,args,exc,arg", BAD_CALLS, ids=[f"{k}-{a}" for k, _, e, a in BAD_CALLS])
def test_both_backends_give_the_same_message(cb, npb, kernel, args, exc, arg):
    messages = []
    for be in (cb, npb):
        with pytest.raises(exc) as info:
            getattr(be, kernel)(*args)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_in_place_update_leaves_theta_untouched_when_refused(backend):
    theta = np.arange(5, dtype=f)
    before = theta.copy()
    with pytest.raises(ShapeError):
        backend.sgd_step_f32(theta, np.ones(4, f), 0.1)
    assert np.array_equal(theta, before)
