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
CX = np.ones((2, 7, 3), f)      # conv1d x [B, L, C_in]
CW = np.ones((4, 3, 3), f)      # conv1d w [C_out, K, C_in]
CB = np.ones(4, f)
CDY = np.ones((2, 5, 4), f)     # dy of 'valid', stride 1: L_out = 5

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
    ("conv1d_forward_f32", (CX, CW, CB, 0), ParameterError, "stride"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, -1), ParameterError, "dilation"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, 1, "full"), ParameterError, "padding"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, 1, 1), ParameterError, "padding"),
    ("conv1d_forward_f32", (CX, CW, CB, 1.0), ParameterError, "stride"),
    ("conv1d_forward_f32", (CX, CW, CB, 2**31), ParameterError, "stride"),
    ("conv1d_forward_f32", (CX, np.ones((4, 3, 2), f), CB), ShapeError, "w"),
    ("conv1d_forward_f32", (CX, np.ones((4, 0, 3), f), CB), ShapeError, "w"),
    ("conv1d_forward_f32", (CX, CW, np.ones(3, f)), ShapeError, "bias"),
    ("conv1d_forward_f32", (CX.astype(np.float64), CW, CB), DTypeError, "x"),
    ("conv1d_forward_f32", (CX, CW.astype(np.int8), CB), DTypeError, "w"),
    ("conv1d_forward_f32", (CX, np.ones((4, 3, 6), f)[:, :, ::2], CB), LayoutError, "w"),
    ("conv1d_forward_f32", (np.asfortranarray(CX), CW, CB), LayoutError, "x"),
    ("conv1d_forward_f32", (CX[0], CW, CB), ShapeError, "x"),
    ("conv1d_forward_f32", (CX, CW, CB, 1, 2**30), ShapeError, "dilation"),
    ("conv1d_forward_f32", (np.ones((2**16, 2**16, 0), f), np.ones((4, 3, 0), f), CB), ShapeError, "x"),
    ("conv1d_backward_f32", (np.ones((2, 7, 4), f), CX, CW), ShapeError, "dy"),
    ("conv1d_backward_f32", (CDY, CX, CW, 1, 1, "same"), ShapeError, "dy"),
    ("conv1d_backward_f32", (CDY.astype(np.float16), CX, CW), DTypeError, "dy"),
    ("conv1d_backward_f32", (CDY[:, ::-1], CX, CW), LayoutError, "dy"),
    ("conv1d_backward_f32", (CDY, CX, CW, 1, 0), ParameterError, "dilation"),
    ("conv1d_out_len", (-1, 3), ParameterError, "L"),
    ("conv1d_out_len", (7, 0), ParameterError, "K"),
    ("conv1d_out_len", (7, 3, 0), ParameterError, "stride"),
    ("conv1d_out_len", (7, 3, 1, 1, "SAME"), ParameterError, "padding"),
    ("conv1d_out_len", (7, 3, 1, 2**30), ShapeError, "dilation"),
    ("conv1d_out_len", (2**31 - 1, 2, 1, 2**30, "same"), ShapeError, "L"),
    ("sgd_step_f32", (T.copy(), np.ones(4, f), 0.1), ShapeError, "g"),
    ("sgd_step_f32", (T.copy(), T, float("nan")), ParameterError, "lr"),
    ("sgd_step_f32", (T.copy(), T, 1e39), ParameterError, "lr"),
    ("sgd_step_f32", (T.copy(), T, "0.1"), ParameterError, "lr"),
    ("sgd_step_f32", (np.ones((5, 1), f), T, 0.1), ShapeError, "theta"),
    ("reptile_interpolate_f32", (T.copy(), T.astype(np.int32), 0.5), DTypeError, "phi"),
    ("reptile_interpolate_f32", (T.copy(), T, float("inf")), ParameterError, "eps"),
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


def test_a_size_beyond_int32_is_refused_even_when_the_array_is_empty(backend):
    # A zero-size array may still carry a size that the C side cannot represent.
    x = np.ones((2**31, 0), f)
    with pytest.raises(ShapeError, match=r"^x: "):
        backend.dense_forward_f32(x, np.ones((3, 0), f), np.ones(3, f))
