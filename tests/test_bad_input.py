"""The bad-input catalogue: every public function, every argument, every class of bad value.

For each kernel of both backends (backend.kernel_names(), plus conv1d_out_len and
model_memory_plan) and each host-side helper (Model, Model.from_table, Model.memory_plan,
Workspace.fit, the quantization helpers, get_backend), a valid call is built and then one
argument at a time is replaced by a bad value of each class that applies to it:

  arrays       None, a list, the wrong dtype, one dimension too many, a non-contiguous view;
               in-place outputs also read-only, and an input overlapping the output
  integers     None, a float, a bool, a string, one below and one above the allowed range
  reals        None, a string, NaN, infinity, a value that overflows float32; scales 0, < 0
  choices      an unknown string, None, an integer
  models       None, a string

Each case asserts the exception type, that the message starts with the argument's name, and,
for the kernels, that both backends raise the same type with the same message.
"""
import numpy as np
import pytest

from tinyreptile_ref import (DTypeError, LayoutError, ParameterError, ShapeError,
                             TinyReptileError, get_backend)
from tinyreptile_ref.backend import kernel_names
from tinyreptile_ref.kernels import quant
from tinyreptile_ref.runtime.model import Conv1d, Dense, Flatten, Model, Tanh

F32, I8, I32 = np.float32, np.int8, np.int32
INT32_MAX = 2**31 - 1
NPB, CB = get_backend("numpy"), get_backend("c")

MLP = Model((3,), [Dense(4), Tanh(), Dense(2)])                          # 26 parameters
XENT = Model((3,), [Dense(4), Tanh(), Dense(3)], loss="softmax_xent")
CONV = Model((6, 2), [Conv1d(3, 2), Flatten(), Dense(2)])


# ---- argument kinds: ("array", dtype, fixed ndim?), ("int", lo, hi), ("real", positive?),
#      ("choice",), ("model",)

def A(dtype, fixed=True, inplace=False):
    return ("array", np.dtype(dtype), fixed, inplace)


def INT(lo, hi=INT32_MAX, none_ok=False):
    return ("int", lo, hi, none_ok)


REAL, POS = ("real", False), ("real", True)
CHOICE, MODEL = ("choice",), ("model",)


def f32(*shape, v=0.5):
    return np.full(shape, v, F32)


def ids(*shape, hi=3):
    return (np.arange(int(np.prod(shape))) % hi).astype(I32).reshape(shape)


# name -> (valid kwargs maker, {arg: kind}, [(in-place output, input that must not overlap it)])
KERNELS = {
    "dense_forward_f32": (lambda: dict(x=f32(2, 3), w=f32(4, 3), bias=f32(4)),
                          dict(x=A(F32), w=A(F32), bias=A(F32)), []),
    "dense_backward_f32": (lambda: dict(dy=f32(2, 4), x=f32(2, 3), w=f32(4, 3)),
                           dict(dy=A(F32), x=A(F32), w=A(F32)), []),
    "conv1d_forward_f32": (lambda: dict(x=f32(2, 7, 3), w=f32(4, 3, 3), bias=f32(4), stride=1,
                                        dilation=1, padding="valid"),
                           dict(x=A(F32), w=A(F32), bias=A(F32), stride=INT(1),
                                dilation=INT(1), padding=CHOICE), []),
    "conv1d_backward_f32": (lambda: dict(dy=f32(2, 5, 4), x=f32(2, 7, 3), w=f32(4, 3, 3),
                                         stride=1, dilation=1, padding="valid"),
                            dict(dy=A(F32), x=A(F32), w=A(F32), stride=INT(1), dilation=INT(1),
                                 padding=CHOICE), []),
    "conv1d_out_len": (lambda: dict(L=7, K=3, stride=1, dilation=1, padding="same"),
                       dict(L=INT(0), K=INT(1), stride=INT(1), dilation=INT(1),
                            padding=CHOICE), []),
    "exp_f32": (lambda: dict(x=f32(2, 3)), dict(x=A(F32, False)), []),
    "log_f32": (lambda: dict(x=f32(2, 3)), dict(x=A(F32, False)), []),
    "tanh_f32": (lambda: dict(x=f32(2, 3)), dict(x=A(F32, False)), []),
    "sin_f32": (lambda: dict(x=f32(2, 3)), dict(x=A(F32, False)), []),
    "rng_uniform_f32": (lambda: dict(key=2**63 + 5, j0=7, n=4, lo=-1.0, hi=2.0),
                        dict(key=INT(0, 2**64 - 1), j0=INT(0, 2**64 - 1), n=INT(0), lo=REAL,
                             hi=REAL), []),
    "relu_forward_f32": (lambda: dict(x=f32(2, 3)), dict(x=A(F32, False)), []),
    "tanh_forward_f32": (lambda: dict(x=f32(2, 3)), dict(x=A(F32, False)), []),
    "relu_backward_f32": (lambda: dict(dy=f32(2, 3), x=f32(2, 3)),
                          dict(dy=A(F32, False), x=A(F32, False)), []),
    "tanh_backward_f32": (lambda: dict(dy=f32(2, 3), y=f32(2, 3)),
                          dict(dy=A(F32, False), y=A(F32, False)), []),
    "mse_loss_f32": (lambda: dict(pred=f32(2, 3), target=f32(2, 3)),
                     dict(pred=A(F32, False), target=A(F32, False)), []),
    "softmax_xent_loss_f32": (lambda: dict(logits=f32(2, 3), labels=ids(2)),
                              dict(logits=A(F32), labels=A(I32)), []),
    "sgd_step_f32": (lambda: dict(theta=f32(10), g=f32(10), lr=0.5),
                     dict(theta=A(F32, inplace=True), g=A(F32), lr=REAL), [("theta", "g")]),
    "reptile_interpolate_f32": (lambda: dict(theta=f32(10), phi=f32(10), eps=0.5),
                                dict(theta=A(F32, inplace=True), phi=A(F32), eps=REAL),
                                [("theta", "phi")]),
    "multiply_by_quantized_multiplier_s32": (
        lambda: dict(x=np.arange(6, dtype=I32).reshape(2, 3), multiplier=np.full(3, 2**30, I32),
                     shift=np.zeros(3, I32)),
        dict(x=A(I32, False), multiplier=A(I32), shift=A(I32)), []),
    "quantize_s8": (lambda: dict(x=f32(5), scale=0.1, zero_point=0),
                    dict(x=A(F32, False), scale=POS, zero_point=INT(-128, 127)), []),
    "dequantize_s8": (lambda: dict(q=np.arange(5, dtype=I8), scale=0.1, zero_point=0),
                      dict(q=A(I8, False), scale=REAL, zero_point=INT(-128, 127)), []),
    "transport_quantize_s8": (lambda: dict(x=f32(10), chunk=4),
                              dict(x=A(F32), chunk=INT(1)), []),
    "transport_dequantize_s8": (lambda: dict(q=np.arange(10, dtype=I8), scale=f32(3), chunk=4),
                                dict(q=A(I8), scale=A(F32), chunk=INT(1)), []),
    "sgd_step_s8": (lambda: dict(theta=np.zeros(10, I8), g=np.arange(10, dtype=I32),
                                 multiplier=2**30, shift=0),
                    dict(theta=A(I8, inplace=True), g=A(I32), multiplier=INT(-2**31),
                         shift=INT(-31, 30)), [("theta", "g")]),
    "reptile_interpolate_s8": (lambda: dict(theta=np.zeros(10, I8), phi=np.arange(10, dtype=I8),
                                            multiplier=2**30, shift=0),
                               dict(theta=A(I8, inplace=True), phi=A(I8),
                                    multiplier=INT(-2**31), shift=INT(-31, 30)),
                               [("theta", "phi")]),
    "dense_forward_s8": (
        lambda: dict(x=np.ones((2, 3), I8), w=np.ones((4, 3), I8), bias=np.zeros(4, I32),
                     multiplier=np.full(4, 2**30, I32), shift=np.zeros(4, I32), x_zero_point=0,
                     w_zero_point=0, y_zero_point=0, act_min=-128, act_max=127),
        dict(x=A(I8), w=A(I8), bias=A(I32), multiplier=A(I32), shift=A(I32),
             x_zero_point=INT(-128, 127), w_zero_point=INT(-128, 127),
             y_zero_point=INT(-128, 127), act_min=INT(-128, 127), act_max=INT(-128, 127)), []),
    "conv1d_forward_s8": (
        lambda: dict(x=np.ones((2, 7, 3), I8), w=np.ones((4, 3, 3), I8), bias=np.zeros(4, I32),
                     multiplier=np.full(4, 2**30, I32), shift=np.zeros(4, I32), stride=1,
                     dilation=1, padding="valid", x_zero_point=0, y_zero_point=0, act_min=-128,
                     act_max=127),
        dict(x=A(I8), w=A(I8), bias=A(I32), multiplier=A(I32), shift=A(I32), stride=INT(1),
             dilation=INT(1), padding=CHOICE, x_zero_point=INT(-128, 127),
             y_zero_point=INT(-128, 127), act_min=INT(-128, 127), act_max=INT(-128, 127)), []),
    "model_forward_f32": (lambda: dict(theta=f32(MLP.n_params), x=f32(2, 3), model=MLP),
                          dict(theta=A(F32), x=A(F32), model=MODEL), []),
    "model_backward_f32": (lambda: dict(theta=f32(MLP.n_params), x=f32(2, 3), target=f32(2, 2),
                                        model=MLP),
                           dict(theta=A(F32), x=A(F32), target=A(F32), model=MODEL), []),
    "model_train_step_f32": (lambda: dict(theta=f32(MLP.n_params), x=f32(1, 3),
                                          target=f32(1, 2), model=MLP, lr=0.1, mode="fused"),
                             dict(theta=A(F32, inplace=True), x=A(F32), target=A(F32),
                                  model=MODEL, lr=REAL, mode=CHOICE),
                             [("theta", "x"), ("theta", "target")]),
    "tinyreptile_device_round_f32": (
        lambda: dict(theta=f32(MLP.n_params), x=f32(3, 3), target=f32(3, 2), model=MLP, lr=0.1,
                     mode="fused"),
        dict(theta=A(F32), x=A(F32), target=A(F32), model=MODEL, lr=REAL, mode=CHOICE),
        [("theta", "x"), ("theta", "target")]),
    "reptile_device_round_f32": (
        lambda: dict(theta=f32(MLP.n_params), x=f32(3, 3), target=f32(3, 2),
                     order=ids(2, 3), model=MLP, epochs=2, batch=2, lr=0.1),
        dict(theta=A(F32), x=A(F32), target=A(F32), order=A(I32), model=MODEL, epochs=INT(0),
             batch=INT(1), lr=REAL),
        [("theta", "x"), ("theta", "target")]),
    "model_memory_plan": (lambda: dict(model=MLP, batch=2, stored=3, mode="grad"),
                          dict(model=MODEL, batch=INT(1), stored=INT(1, none_ok=True), mode=CHOICE), []),
}


def _bad_arrays(a, kind):
    _, dtype, fixed, inplace = kind
    other = F32 if dtype != np.dtype(F32) else np.float64
    yield "None", None, DTypeError
    yield "list", a.tolist(), DTypeError
    yield "dtype", a.astype(other), DTypeError
    if fixed:
        yield "ndim", a[None], ShapeError
    if a.ndim and a.size:
        wide = np.repeat(a, 2, axis=-1)
        yield "non-contiguous", wide[..., ::2], LayoutError
    if inplace:
        ro = a.copy()
        ro.flags.writeable = False
        yield "read-only", ro, LayoutError


def _bad_scalars(kind):
    if kind[0] == "int":
        _, lo, hi, none_ok = kind
        if not none_ok:
            yield "None", None
        yield from (("float", 1.5), ("bool", True), ("str", "1"),
                    ("below", lo - 1), ("above", hi + 1))
    elif kind[0] == "real":
        yield from (("None", None), ("str", "0.5"), ("nan", float("nan")),
                    ("inf", float("inf")), ("f32 overflow", 1e39))
        if kind[1]:
            yield from (("zero", 0.0), ("negative", -0.05))
    elif kind[0] == "choice":
        yield from (("unknown", "nope"), ("None", None), ("int", 0))
    elif kind[0] == "model":
        yield from (("None", None), ("str", "model"))


def _overlapping(valid, out, inp):
    """valid's arguments with `inp` a view into `out`'s memory, shifted by one element."""
    a, b = valid[out], valid[inp]
    n = max(a.size, b.size) + 1
    base = np.zeros(n, a.dtype) if a.dtype == b.dtype else np.zeros(n * 4, np.uint8)
    if a.dtype == b.dtype:
        new_out = base[:a.size].reshape(a.shape)
        new_in = base[1:1 + b.size].reshape(b.shape)
    else:  # different dtypes: two views of one byte buffer
        new_out = base[:a.nbytes].view(a.dtype).reshape(a.shape)
        new_in = base[b.itemsize:b.itemsize + b.nbytes].view(b.dtype).reshape(b.shape)
    new_out[...] = a
    new_in[...] = b
    return dict(valid, **{out: new_out, inp: new_in})


def kernel_cases():
    for kname, (make, kinds, overlaps) in KERNELS.items():
        valid = make()
        for arg, kind in kinds.items():
            if kind[0] == "array":
                for label, bad, exc in _bad_arrays(valid[arg], kind):
                    yield pytest.param(kname, arg, label, bad, exc, id=f"{kname}-{arg}-{label}")
            else:
                for label, bad in _bad_scalars(kind):
                    yield pytest.param(kname, arg, label, bad, ParameterError,
                                       id=f"{kname}-{arg}-{label}")
        for out, inp in overlaps:
            yield pytest.param(kname, inp, f"overlaps {out}", (out,), LayoutError,
                               id=f"{kname}-{inp}-overlaps-{out}")


# Value classes the kinds above do not cover: shapes that disagree, non-finite values a kernel
# refuses, labels and orders out of range. (kernel, argument, label, value, exception).
EXTRA = [
    ("dense_forward_f32", "w", "inputs", f32(4, 2), ShapeError),
    ("dense_forward_f32", "bias", "length", f32(3), ShapeError),
    ("dense_backward_f32", "dy", "shape", f32(2, 5), ShapeError),
    ("conv1d_forward_f32", "w", "channels", f32(4, 3, 2), ShapeError),
    ("conv1d_forward_f32", "w", "kernel 0", f32(4, 0, 3), ShapeError),
    ("conv1d_forward_f32", "bias", "length", f32(3), ShapeError),
    ("conv1d_backward_f32", "dy", "shape", f32(2, 4, 4), ShapeError),
    ("relu_backward_f32", "x", "shape", f32(3, 2), ShapeError),
    ("tanh_backward_f32", "y", "shape", f32(3, 2), ShapeError),
    ("mse_loss_f32", "target", "shape", f32(3, 2), ShapeError),
    ("softmax_xent_loss_f32", "labels", "length", ids(3), ShapeError),
    ("softmax_xent_loss_f32", "labels", "label 3", np.array([0, 3], I32), ParameterError),
    ("softmax_xent_loss_f32", "labels", "label -1", np.array([-1, 0], I32), ParameterError),
    ("sgd_step_f32", "g", "length", f32(9), ShapeError),
    ("reptile_interpolate_f32", "phi", "length", f32(11), ShapeError),
    ("transport_quantize_s8", "x", "nan", np.array([0, np.nan], F32), ParameterError),
    ("transport_quantize_s8", "x", "inf", np.array([np.inf, 0], F32), ParameterError),
    ("transport_dequantize_s8", "scale", "length", f32(2), ShapeError),
    ("multiply_by_quantized_multiplier_s32", "shift", "range", np.full(3, 31, I32),
     ParameterError),
    ("multiply_by_quantized_multiplier_s32", "shift", "length", np.zeros(2, I32), ShapeError),
    ("dense_forward_s8", "act_max", "below act_min", -129 + 1, ParameterError),
    ("dense_forward_s8", "bias", "length", np.zeros(3, I32), ShapeError),
    ("dense_forward_s8", "multiplier", "length", np.full(2, 2**30, I32), ShapeError),
    ("dense_forward_s8", "shift", "range", np.full(4, -32, I32), ParameterError),
    ("conv1d_forward_s8", "bias", "length", np.zeros(3, I32), ShapeError),
    ("model_forward_f32", "theta", "length", f32(MLP.n_params + 1), ShapeError),
    ("model_forward_f32", "x", "sample shape", f32(2, 4), ShapeError),
    ("model_backward_f32", "target", "shape", f32(2, 3), ShapeError),
    ("model_train_step_f32", "mode", "fused batch 2", "fused", ParameterError),
    ("reptile_device_round_f32", "order", "shape", ids(2, 2), ShapeError),
    ("reptile_device_round_f32", "order", "entry 3", np.full((2, 3), 3, I32), ParameterError),
    ("model_memory_plan", "stored", "below batch", 1, ParameterError),
]


def _call(be, kname, arg, bad):
    valid = KERNELS[kname][0]()
    if isinstance(bad, tuple):  # an overlap case: (the output the input overlaps,)
        kw = _overlapping(valid, bad[0], arg)
    else:
        kw = dict(valid, **{arg: bad})
        if kname == "dense_forward_s8" and arg == "act_max":
            kw["act_min"] = 0
        if kname == "model_train_step_f32" and arg == "mode":
            kw.update(x=f32(2, 3), target=f32(2, 2))
    fn = getattr(be, kname)
    if kname == "model_memory_plan":
        kw = dict(kw)
        if arg == "stored" and not isinstance(bad, tuple) and bad == 1:
            kw["batch"] = 2
    try:
        fn(**kw)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
    return None


def _assert_named(exc, expected, arg):
    assert exc is not None, "accepted"
    assert type(exc) is expected, f"{type(exc).__name__}: {exc}"
    assert str(exc).startswith(f"{arg}: "), str(exc)


@pytest.mark.parametrize("kname,arg,label,bad,expected", list(kernel_cases()) + [
    pytest.param(*c, id=f"{c[0]}-{c[1]}-{c[2]}") for c in EXTRA])
def test_every_kernel_refuses_bad_input_alike_on_both_backends(kname, arg, label, bad, expected):
    e_np = _call(NPB, kname, arg, bad)
    e_c = _call(CB, kname, arg, bad)
    _assert_named(e_np, expected, arg)
    assert type(e_c) is type(e_np) and str(e_c) == str(e_np)


def test_the_catalogue_covers_every_kernel_of_both_backends():
    assert set(kernel_names()) | {"conv1d_out_len", "model_memory_plan"} == set(KERNELS)
    for name in KERNELS:
        assert callable(getattr(CB, name)) and callable(getattr(NPB, name))


def test_every_valid_call_of_the_catalogue_succeeds_and_agrees():
    """The baseline each bad case departs from is itself accepted (so a refusal above is the
    bad argument's doing), and the overlap cases are accepted once the input is a copy."""
    for kname, (make, _, overlaps) in KERNELS.items():
        for be in (NPB, CB):
            getattr(be, kname)(**make())
        for out, inp in overlaps:
            kw = _overlapping(make(), out, inp)
            kw[inp] = kw[inp].copy()
            getattr(NPB, kname)(**kw)


# ---------------------------------------------------------------- host-side helpers

def _model(**kw):
    args = dict(input_shape=(3,), layers=[Dense(2)], loss="mse")
    args.update(kw)
    return Model(**args)


def _fit(be, **kw):
    args = dict(x=f32(4, 3), target=f32(4, 2), steps=2, lr=0.1, batch=2)
    args.update(kw)
    return MLP.workspace(be).fit(**args)


def _table(cells):
    rows = CONV.layer_table().copy()
    for (r, c), v in cells.items():
        rows[r, c] = v
    return rows


HELPERS = [
    # (label, call, exception, argument)
    ("Model input None", lambda: _model(input_shape=None), ShapeError, "input_shape"),
    ("Model input 1.5", lambda: _model(input_shape=(1.5,)), ShapeError, "input_shape"),
    ("Model input 0", lambda: _model(input_shape=(0,)), ShapeError, "input_shape"),
    ("Model input rank 3", lambda: _model(input_shape=(2, 2, 2)), ShapeError, "input_shape"),
    ("Model input str", lambda: _model(input_shape="3"), ShapeError, "input_shape"),
    ("Model input bool", lambda: _model(input_shape=(True,)), ShapeError, "input_shape"),
    ("Model layers None", lambda: _model(layers=None), ParameterError, "layers"),
    ("Model layers empty", lambda: _model(layers=[]), ParameterError, "layers"),
    ("Model layer junk", lambda: _model(layers=[3]), ParameterError, "layers[0]"),
    ("Model units 2.5", lambda: _model(layers=[Dense(2.5)]), ParameterError, "layers[0].units"),
    ("Model units 0", lambda: _model(layers=[Dense(0)]), ParameterError, "layers[0].units"),
    ("Model loss None", lambda: _model(loss=None), ParameterError, "loss"),
    ("Model dense 2**31-1", lambda: _model(input_shape=(1,), layers=[Dense(2**31 - 1)]),
     ShapeError, "layers[0]"),
    ("Model conv on 2**30", lambda: Model((2**30, 1), [Conv1d(1, 1)]), ShapeError, "layers[0]"),
    ("Model conv padding", lambda: Model((4, 1), [Conv1d(1, 1, padding="full")]),
     ParameterError, "layers[0].padding"),
    ("plan Dense(2**28)", lambda: Model((1,), [Dense(2**28)]).memory_plan(), ShapeError,
     "model"),
    ("plan batch None", lambda: MLP.memory_plan(None), ParameterError, "batch"),
    ("plan batch 0", lambda: MLP.memory_plan(0), ParameterError, "batch"),
    ("plan batch 2**31", lambda: MLP.memory_plan(2**31), ParameterError, "batch"),
    ("plan huge batch", lambda: MLP.memory_plan(2**29), ShapeError, "batch"),
    ("plan mode", lambda: MLP.memory_plan(1, mode="x"), ParameterError, "mode"),
    ("from_table padding 5", lambda: Model.from_table(_table({(0, 12): 5})), ParameterError,
     "rows[0]"),
    ("from_table kind 9", lambda: Model.from_table(_table({(1, 0): 9})), ParameterError,
     "rows[1]"),
    ("from_table floats", lambda: Model.from_table(CONV.layer_table() + 0.5), DTypeError, "rows"),
    ("from_table 1-D", lambda: Model.from_table(np.zeros(13, I32)), ShapeError, "rows"),
    ("from_table offsets", lambda: Model.from_table(_table({(2, 7): 1})), ShapeError, "rows"),
    ("activation_range scale -0.05", lambda: quant.activation_range("relu6", -0.05, 0),
     ParameterError, "scale"),
    ("activation_range scale 0", lambda: quant.activation_range("relu6", 0, 0),
     ParameterError, "scale"),
    ("activation_range scale nan", lambda: quant.activation_range("relu", float("nan"), 0),
     ParameterError, "scale"),
    ("activation_range zero point", lambda: quant.activation_range("relu", 0.1, 128),
     ParameterError, "zero_point"),
    ("activation_range name", lambda: quant.activation_range("gelu", 0.1, 0),
     ParameterError, "activation"),
    ("output_multiplier y 0", lambda: quant.output_multiplier(.5, [.1], 0.), ParameterError,
     "y_scale"),
    ("output_multiplier x -1", lambda: quant.output_multiplier(-1., [.1], 1.), ParameterError,
     "x_scale"),
    ("output_multiplier x None", lambda: quant.output_multiplier(None, [.1], 1.),
     ParameterError, "x_scale"),
    ("output_multiplier w nan", lambda: quant.output_multiplier(.5, [float("nan")], 1.),
     ParameterError, "w_scale"),
    ("output_multiplier w None", lambda: quant.output_multiplier(.5, None, 1.),
     ParameterError, "w_scale"),
    ("output_multiplier w str", lambda: quant.output_multiplier(.5, ["a"], 1.),
     ParameterError, "w_scale"),
    ("output_multiplier w empty", lambda: quant.output_multiplier(.5, [], 1.),
     ParameterError, "w_scale"),
    ("output_multiplier w -1", lambda: quant.output_multiplier(.5, [-1.], 1.),
     ParameterError, "w_scale"),
    ("quantize_multiplier None", lambda: quant.quantize_multiplier(None), ParameterError, "real"),
    ("quantize_multiplier inf", lambda: quant.quantize_multiplier(float("inf")),
     ParameterError, "real"),
    ("get_backend list", lambda: get_backend(["c"]), ParameterError, "backend"),
    ("get_backend None", lambda: get_backend(None), ParameterError, "backend"),
    ("get_backend name", lambda: get_backend("cuda"), ParameterError, "backend"),
]
for _bn, _be in (("numpy", NPB), ("c", CB)):
    HELPERS += [
        (f"{_bn} fit batch 0", lambda be=_be: _fit(be, batch=0), ParameterError, "batch"),
        (f"{_bn} fit batch -1", lambda be=_be: _fit(be, batch=-1), ParameterError, "batch"),
        (f"{_bn} fit batch 1.5", lambda be=_be: _fit(be, batch=1.5), ParameterError, "batch"),
        (f"{_bn} fit steps -1", lambda be=_be: _fit(be, steps=-1), ParameterError, "steps"),
        (f"{_bn} fit steps None", lambda be=_be: _fit(be, steps=None), ParameterError, "steps"),
        (f"{_bn} fit x None", lambda be=_be: _fit(be, x=None), DTypeError, "x"),
        (f"{_bn} fit target None", lambda be=_be: _fit(be, target=None), DTypeError, "target"),
        (f"{_bn} fit target shape", lambda be=_be: _fit(be, target=f32(3, 2)), ShapeError,
         "target"),
        (f"{_bn} fit lr nan", lambda be=_be: _fit(be, lr=float("nan")), ParameterError, "lr"),
        (f"{_bn} load None", lambda be=_be: MLP.workspace(be).load(None), DTypeError, "theta"),
        (f"{_bn} train on x in theta", lambda be=_be: _train_on_own_theta(be), LayoutError, "x"),
    ]


def _train_on_own_theta(be):
    theta = np.arange(MLP.n_params, dtype=F32) / 100
    be.model_train_step_f32(theta, theta[:3].reshape(1, 3), f32(1, 2), MLP, 0.1)


@pytest.mark.parametrize("label,call,expected,arg", [pytest.param(*h, id=h[0]) for h in HELPERS])
def test_every_helper_refuses_bad_input_naming_the_argument(label, call, expected, arg):
    with pytest.raises(TinyReptileError) as info:
        call()
    _assert_named(info.value, expected, arg)


def test_helpers_accept_the_edges_they_allow():
    assert quant.activation_range("relu6", 0.05, 0) == (0, 120)
    assert MLP.workspace(NPB).fit(f32(4, 3), f32(4, 2), 0, 0.1) == []
    assert len(MLP.workspace(NPB).fit(f32(4, 3), f32(4, 2), 3, 0.1, batch=1)) == 3
    assert Model((np.int64(3),), [Dense(2)]).input_shape == (3,)
    m, s = quant.output_multiplier(.5, [0.0, .1], 1.)
    assert m[0] == 0 and s[0] == 0



def test_the_issues_overlapping_sgd_example_is_refused_and_leaves_the_buffer_alone():
    for be in (NPB, CB):
        b = np.arange(12, dtype=F32)
        with pytest.raises(LayoutError, match=r"^g: shares memory with theta"):
            be.sgd_step_f32(b[1:11], b[0:10], .5)
        assert b.tolist() == list(range(12))


def test_adjacent_views_of_one_buffer_do_not_overlap_and_give_the_same_bits():
    """may_share_memory is exact for C-contiguous arrays: neighbours are not refused."""
    out = []
    for be in (NPB, CB):
        b = np.arange(12, dtype=F32)
        be.sgd_step_f32(b[0:6], b[6:12], .5)
        be.reptile_interpolate_f32(b[6:12], b[0:6], .25)
        theta = np.arange(MLP.n_params + 3, dtype=F32) / 50
        be.model_train_step_f32(theta[:MLP.n_params], theta[MLP.n_params:].reshape(1, 3),
                                f32(1, 2), MLP, 0.1)
        out.append((b.tobytes(), theta.tobytes()))
    assert out[0] == out[1]
