"""The int8 kernels give TensorFlow Lite Micro's bits.

Each test builds a one-operator int8 TFLite model (a flatbuffer, written with the schema
classes the `tflite-micro` package ships: FULLY_CONNECTED, CONV_2D standing for a conv1d,
QUANTIZE, DEQUANTIZE), with our own random weights, biases, scales and zero points, and runs
it in TFLite Micro's interpreter (`tflite_micro.runtime`, its reference kernels, built with
the double-rounding MultiplyByQuantizedMultiplier that TFLite Micro uses by default and this
project follows). The interpreter derives its multipliers, shifts and activation range from
the scales itself (QuantizeMultiplier, CalculateActivationRangeQuantized); ours come from
quantize.output_multiplier and activation_range. Every output must be bit-identical, and
also equal an independent int64 computation of the published double-rounding formula (so
the test would notice an interpreter that changed its rounding).

The interpreter is the pinned `tflite-micro` build of setup.py's `tflite` extra, which the
Makefile installs. Where it cannot be installed the module is skipped with a warning in the
pytest summary.
"""
import warnings

import numpy as np
import pytest

from tinyreptile_ref.kernels.quant import activation_range, output_multiplier

try:
    import flatbuffers
    from tflite_micro import runtime as tflm
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S
except ImportError as exc:  # pragma: no cover - depends on the installation
    warnings.warn(f"TFLite comparison NOT RUN: the TFLite Micro interpreter is not installed "
                  f"({exc}); `pip install -e '.[tflite]'` (make test-py installs it)",
                  pytest.PytestWarning, stacklevel=1)
    pytest.skip("tflite-micro is not installed", allow_module_level=True)

I8, I32, F32 = np.int8, np.int32, np.float32
ACT = {"none": 0, "relu": 1, "relu6": 3}  # ActivationFunctionType


def _tensor(name, shape, ttype, buffers, data=None, scale=None, zero_point=None, qdim=0):
    t = S.TensorT()
    t.name = name
    t.shape = list(shape)
    t.type = ttype
    t.buffer = 0
    if data is not None:
        b = S.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        buffers.append(b)
        t.buffer = len(buffers) - 1
    if scale is not None:
        q = S.QuantizationParametersT()
        q.scale = [float(s) for s in np.atleast_1d(scale)]
        q.zeroPoint = [int(z) for z in np.atleast_1d(zero_point)]
        q.quantizedDimension = qdim
        t.quantization = q
    return t


def _model(op_code, tensors, buffers, op_inputs, options_type=0, options=None):
    """A flatbuffer with one subgraph: tensors[0] the input, tensors[-1] the output, one
    operator of `op_code` on op_inputs."""
    oc = S.OperatorCodeT()
    oc.builtinCode = op_code
    oc.deprecatedBuiltinCode = min(op_code, 127)
    oc.version = 1
    op = S.OperatorT()
    op.opcodeIndex = 0
    op.inputs = list(op_inputs)
    op.outputs = [len(tensors) - 1]
    op.builtinOptionsType = options_type
    op.builtinOptions = options
    sg = S.SubGraphT()
    sg.tensors = tensors
    sg.inputs = [0]
    sg.outputs = [len(tensors) - 1]
    sg.operators = [op]
    m = S.ModelT()
    m.version = 3
    m.operatorCodes = [oc]
    m.subgraphs = [sg]
    m.buffers = buffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _run(model_bytes, x):
    interp = tflm.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    interp.set_input(x, 0)
    interp.invoke()
    return np.array(interp.get_output(0))


def _double(acc, m, s):
    """MultiplyByQuantizedMultiplier's double rounding in exact integers:
    SaturatingRoundingDoublingHighMul (ties toward +inf), then RoundingDivideByPOT (ties away
    from zero); written from the published definitions, independently of the kernels."""
    a = acc << max(s, 0)
    h = 2**31 - 1 if a == m == -2**31 else (a * m + 2**30) // 2**31
    e = max(-s, 0)
    if e == 0:
        return h
    mag = (abs(h) + (1 << (e - 1))) >> e
    return mag if h >= 0 else -mag


def _single(acc, m, s):
    """TFLite's single-rounding variant (TFLITE_SINGLE_ROUNDING), only to count the outputs
    on which the two roundings differ: the test must meet such ties to tell them apart."""
    total = 31 - s
    return (acc * m + (1 << (total - 1))) >> total


def _expected(acc, m, s, zp, lo, hi, rounding=_double):
    """clamp(rounding(acc) + zp) per output; the channel is the last axis."""
    C = len(m)
    flat = acc.reshape(-1, acc.shape[-1])
    out = np.empty(flat.shape, np.int64)
    for j in range(flat.shape[0]):
        for c in range(flat.shape[1]):
            k = c if C > 1 else 0
            out[j, c] = min(max(rounding(int(flat[j, c]), int(m[k]), int(s[k])) + zp, lo), hi)
    return out.reshape(acc.shape)


def _check(ours, tfl, acc, m, s, zp, lo, hi, ties):
    """ours == TFLite Micro == the double-rounding formula; counts the outputs where single
    rounding would have given another value (ties[0])."""
    assert tfl.dtype == I8 and tfl.shape == ours.shape
    assert np.array_equal(ours, tfl), np.argwhere(ours != tfl)[:5]
    double = _expected(acc, m, s, zp, lo, hi)
    assert np.array_equal(ours, double)
    ties[0] += int(np.count_nonzero(double != _expected(acc, m, s, zp, lo, hi, _single)))


def _layer_data(rng, trial, shapes):
    """int8 arrays of the given shapes: full range in even trials, [-8, 8] in odd ones (small
    accumulators, for the power-of-two multipliers of _layer_scales)."""
    r = 8 if trial % 2 else 127
    return [rng.integers(-r, r + 1, shape).astype(I8) for shape in shapes]


def _layer_scales(rng, trial, depth, n_w=1):
    """(x_scale, w_scale[n_w], y_scale): odd trials all powers of two with y_scale =
    x_scale*w_scale*2**k, k in 1..3, so that the multiplier is 2**-k and many outputs fall
    where double and single rounding differ (a tie, or 1.25 -> 1.5 -> 2); even trials
    arbitrary, with y_scale putting the outputs mostly inside the int8 range."""
    if trial % 2:
        xs = F32(2.0 ** -int(rng.integers(5, 9)))
        ws = np.full(n_w, 2.0 ** -int(rng.integers(5, 9)), F32)
        ys = F32(float(xs) * float(ws[0]) * 2.0 ** int(rng.integers(1, 4)))
    else:
        xs = F32(2.0 ** rng.uniform(-9, -5))
        ws = (2.0 ** rng.uniform(-9, -5, n_w)).astype(F32)
        ys = F32(float(xs) * float(ws[0]) * np.sqrt(depth) * 75 * 75 / 40
                 * 2.0 ** rng.uniform(-1, 1))
    return xs, ws, ys


@pytest.mark.parametrize("units,inputs,activation,batch", [
    (16, 64, "none", 1), (64, 64, "relu", 3), (5, 3, "none", 2), (33, 17, "relu6", 4),
    (1, 1, "none", 1), (8, 200, "relu", 2)])
def test_dense_s8_equals_tflite_micro_fully_connected(backend, units, inputs, activation, batch):
    rng = np.random.default_rng(units * 1000 + inputs)
    ties = [0]
    for trial in range(8):
        w, x = _layer_data(rng, trial, [(units, inputs), (batch, inputs)])
        bias = rng.integers(-40, 40, units).astype(I32) * (1 if trial % 2 else 100)
        xs, ws, ys = _layer_scales(rng, trial, inputs)
        ws = ws[0]
        xz, yz = int(rng.integers(-20, 21)), int(rng.integers(-20, 21))
        buffers = [S.BufferT()]
        tensors = [_tensor(b"x", (batch, inputs), S.TensorType.INT8, buffers, None, xs, xz),
                   _tensor(b"w", (units, inputs), S.TensorType.INT8, buffers, w, ws, 0),
                   _tensor(b"bias", (units,), S.TensorType.INT32, buffers, bias, xs * ws, 0),
                   _tensor(b"y", (batch, units), S.TensorType.INT8, buffers, None, ys, yz)]
        opts = S.FullyConnectedOptionsT()
        opts.fusedActivationFunction = ACT[activation]
        model = _model(S.BuiltinOperator.FULLY_CONNECTED, tensors, buffers, [0, 1, 2],
                       S.BuiltinOptions.FullyConnectedOptions, opts)
        tfl = _run(model, x)
        m, s = output_multiplier(xs, ws, ys)
        lo, hi = activation_range(activation, ys, yz)
        ours = backend.dense_forward_s8(x, w, bias, m, s, xz, 0, yz, lo, hi)
        acc = ((w.astype(np.int64)[None] * (x.astype(np.int64) - xz)[:, None]).sum(axis=2)
               + bias)
        _check(ours, tfl, acc, m, s, yz, lo, hi, ties)
    assert ties[0] > 0 or units * batch < 8, "no output told the two roundings apart"
    print(f"FULLY_CONNECTED {units}x{inputs}: double and single rounding differ on {ties[0]}")


@pytest.mark.parametrize("filters,kernel,channels,length,stride,dilation,padding", [
    (16, 3, 10, 49, 1, 1, "same"), (16, 3, 10, 49, 1, 1, "valid"), (8, 5, 4, 30, 2, 1, "same"),
    (8, 4, 3, 31, 3, 1, "valid"), (6, 4, 5, 20, 2, 2, "same"), (6, 2, 2, 21, 3, 3, "same"),
    (4, 4, 1, 10, 2, 1, "same"), (3, 3, 2, 17, 1, 4, "valid")])
def test_conv1d_s8_equals_tflite_micro_conv2d(backend, filters, kernel, channels, length, stride,
                                              dilation, padding):
    rng = np.random.default_rng(filters * 7 + kernel * 11 + length + dilation)
    ties = [0]
    for trial in range(6):
        w, x = _layer_data(rng, trial, [(filters, kernel, channels), (2, length, channels)])
        bias = rng.integers(-30, 30, filters).astype(I32) * (1 if trial % 2 else 100)
        # per output channel weight scales, as TFLite's int8 conv requires
        xs, ws, ys = _layer_scales(rng, trial, kernel * channels, filters)
        xz, yz = int(rng.integers(-20, 21)), int(rng.integers(-20, 21))
        L_out, _ = backend.conv1d_out_len(length, kernel, stride, dilation, padding)
        buffers = [S.BufferT()]
        tensors = [
            _tensor(b"x", (2, 1, length, channels), S.TensorType.INT8, buffers, None, xs, xz),
            _tensor(b"w", (filters, 1, kernel, channels), S.TensorType.INT8, buffers, w, ws,
                    np.zeros(filters, np.int64)),
            _tensor(b"bias", (filters,), S.TensorType.INT32, buffers, bias,
                    (np.float64(xs) * ws.astype(np.float64)), np.zeros(filters, np.int64)),
            _tensor(b"y", (2, 1, L_out, filters), S.TensorType.INT8, buffers, None, ys, yz)]
        opts = S.Conv2DOptionsT()
        opts.padding = S.Padding.SAME if padding == "same" else S.Padding.VALID
        opts.strideW, opts.strideH = stride, 1
        opts.dilationWFactor, opts.dilationHFactor = dilation, 1
        opts.fusedActivationFunction = ACT["relu"]
        model = _model(S.BuiltinOperator.CONV_2D, tensors, buffers, [0, 1, 2],
                       S.BuiltinOptions.Conv2DOptions, opts)
        tfl = _run(model, x.reshape(2, 1, length, channels)).reshape(2, L_out, filters)
        m, s = output_multiplier(xs, ws, ys)
        lo, hi = activation_range("relu", ys, yz)
        ours = backend.conv1d_forward_s8(x, w, bias, m, s, stride, dilation, padding, xz, yz,
                                         lo, hi)
        acc = _conv_acc(x, w, bias, xz, stride, dilation, padding, L_out)
        _check(ours, tfl, acc, m, s, yz, lo, hi, ties)
    assert ties[0] > 0, "no output told the two roundings apart"
    print(f"CONV_2D {filters}x{kernel}x{channels} L={length}: the roundings differ on {ties[0]}")


def _conv_acc(x, w, bias, xz, stride, dilation, padding, L_out):
    """int64 accumulators of a conv1d, padding with the input zero point (TFLite's SAME rule:
    total = max((L_out-1)*stride + (K-1)*dilation + 1 - L, 0), the smaller half before)."""
    B, L, _ = x.shape
    C_out, K, _ = w.shape
    total = max((L_out - 1) * stride + (K - 1) * dilation + 1 - L, 0) if padding == "same" else 0
    before = total // 2
    xp = np.full((B, L + total + K * dilation, x.shape[2]), xz, np.int64)
    xp[:, before:before + L] = x
    acc = np.zeros((B, L_out, C_out), np.int64)
    for t in range(L_out):
        taps = xp[:, t * stride:t * stride + (K - 1) * dilation + 1:dilation, :] - xz  # [B, K, C_in]
        acc[:, t, :] = (taps[:, None, :, :] * w[None].astype(np.int64)).sum(axis=(2, 3))
    return acc + bias


def test_quantize_and_dequantize_equal_tflite_micro(backend):
    rng = np.random.default_rng(5)
    for trial in range(30):
        scale, zp = F32(2.0 ** rng.uniform(-8, 2)), int(rng.integers(-128, 128))
        # exact ties of the scale, values far outside its range, and small ones
        x = (rng.integers(-600, 600, 64) / 2).astype(F32) * scale
        x[:8] = (rng.standard_normal(8) * 10 ** rng.uniform(-3, 3)).astype(F32)
        buffers = [S.BufferT()]
        tensors = [_tensor(b"x", (64,), S.TensorType.FLOAT32, buffers),
                   _tensor(b"q", (64,), S.TensorType.INT8, buffers, None, scale, zp)]
        q = _run(_model(S.BuiltinOperator.QUANTIZE, tensors, buffers, [0]), x)
        assert np.array_equal(backend.quantize_s8(x, scale, zp), q), trial
        buffers = [S.BufferT()]
        tensors = [_tensor(b"q", (64,), S.TensorType.INT8, buffers, None, scale, zp),
                   _tensor(b"x", (64,), S.TensorType.FLOAT32, buffers)]
        y = _run(_model(S.BuiltinOperator.DEQUANTIZE, tensors, buffers, [0]), q)
        assert np.array_equal(backend.dequantize_s8(q, scale, zp).view(np.uint32),
                              y.astype(F32).view(np.uint32)), trial
