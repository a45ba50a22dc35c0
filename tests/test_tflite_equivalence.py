"""The int8 kernels give TensorFlow Lite's bits: small Keras models are converted to fully
int8 TFLite models (the converter picks scales, zero points and weights), run by TFLite's
interpreter with its reference kernels (OpResolverType.BUILTIN_REF: the reference_integer_ops
FullyConnected / ConvPerChannel, AffineQuantize and Dequantize), and the same quantized tensors
go through our kernels with multipliers from our quantize_multiplier.

The desktop TF Lite wheel (2.21) is built with TFLITE_SINGLE_ROUNDING=1, whose
MultiplyByQuantizedMultiplier rounds once, (x*M + 2**(30-shift)) >> (31-shift), while TFLite
Micro's default build, and this project, use the double-rounding branch. So each output is
checked three ways against an independent int64 accumulator acc:
  TFLite  == clamp(single(acc) + zp)   (same accumulator, multiplier, zero points, clamp, taps)
  ours    == clamp(double(acc) + zp)   (the published double rounding, in exact integers)
  ours != TFLite only where single(acc) != double(acc) (exact ties; counted, and rare).

Needs TensorFlow, which the project does not depend on: skipped where it is not installed.
Run it with an interpreter that has tensorflow and this package on its path, e.g.
    PYTHONPATH=. python -m pytest tests/test_tflite_equivalence.py
"""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tinyreptile_ref.kernels.quant import activation_range, output_multiplier  # noqa: E402


def _convert(model, sample_shape, rng, float_io):
    def representative():
        for _ in range(32):
            yield [rng.standard_normal(sample_shape).astype(np.float32) * 2.0]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    interp = tf.lite.Interpreter(
        model_content=conv.convert(),
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    return interp


def _op(interp, name):
    ops = [op for op in interp._get_ops_details() if op["op_name"] == name]
    assert len(ops) == 1, [op["op_name"] for op in interp._get_ops_details()]
    return ops[0]


def _tensor(interp, index):
    d = interp._get_tensor_details(index, subgraph_index=0)
    q = d["quantization_parameters"]
    return interp.get_tensor(index), q["scales"], q["zero_points"]


def _single(acc, m, s):
    """TFLite's single-rounding MultiplyByQuantizedMultiplier (common.cc, TFLITE_SINGLE_ROUNDING)."""
    total = 31 - s
    return (acc * m + (1 << (total - 1))) >> total


def _double(acc, m, s):
    """The double-rounding one in exact integers: SaturatingRoundingDoublingHighMul (ties up),
    then RoundingDivideByPOT (ties away from zero)."""
    a = acc << max(s, 0)
    h = 2**31 - 1 if a == m == -2**31 else (a * m + 2**30) // 2**31
    e = max(-s, 0)
    if e == 0:
        return h
    mag = (abs(h) + (1 << (e - 1))) >> e
    return mag if h >= 0 else -mag


def _check_against_tflite(ours, tfl, acc, m, s, zp, lo, hi):
    """The three-way check of the module docstring. Returns (TFLite's rounding for this op,
    the number of outputs where the two roundings differ)."""
    ours, tfl, acc = ours.ravel(), tfl.ravel(), acc.ravel()
    C = len(m)
    sr = np.empty(acc.size, np.int64)
    dr = np.empty(acc.size, np.int64)
    for j in range(acc.size):
        c = j % C if C > 1 else 0
        sr[j] = min(max(_single(int(acc[j]), int(m[c]), int(s[c])) + zp, lo), hi)
        dr[j] = min(max(_double(int(acc[j]), int(m[c]), int(s[c])) + zp, lo), hi)
    assert np.array_equal(ours, dr), np.flatnonzero(ours != dr)
    differ = int(np.count_nonzero(sr != dr))
    if differ == 0:
        assert np.array_equal(tfl, dr), np.flatnonzero(tfl != dr)
        return None, 0
    if np.array_equal(tfl, dr):
        return "double", differ
    assert np.array_equal(tfl, sr), np.flatnonzero((tfl != sr) & (tfl != dr))
    return "single", differ


def _run_layer(interp, backend, op_name, x_float):
    """Run the model on x_float; return (TFLite's int8 output of the op, ours from its input)."""
    interp.set_tensor(interp.get_input_details()[0]["index"], x_float)
    interp.invoke()
    op = _op(interp, op_name)
    xq, xs, xz = _tensor(interp, op["inputs"][0])
    w, ws, wz = _tensor(interp, op["inputs"][1])
    bias, _, _ = _tensor(interp, op["inputs"][2])
    yq, ys, yz = _tensor(interp, op["outputs"][0])
    assert xq.dtype == np.int8 and w.dtype == np.int8 and bias.dtype == np.int32
    assert not np.any(wz), "TFLite int8 weights are symmetric"
    m, s = output_multiplier(xs[0], ws, ys[0])
    return xq, w, bias, m, s, int(xz[0]), int(yz[0]), float(ys[0]), yq


@pytest.mark.parametrize("units,inputs,activation", [
    (16, 64, None), (64, 64, "relu"), (5, 3, None), (33, 17, "relu6"), (1, 1, None)])
def test_dense_s8_equals_tflite_fully_connected(backend, units, inputs, activation):
    rng = np.random.default_rng(units * 1000 + inputs)
    model = tf.keras.Sequential([tf.keras.Input((inputs,)),
                                 tf.keras.layers.Dense(units, activation=activation,
                                                       bias_initializer="glorot_uniform")])
    interp = _convert(model, (1, inputs), rng, float_io=True)
    ties = outputs = 0
    modes = set()
    for trial in range(20):
        x = (rng.standard_normal((1, inputs)) * (0.5 + trial)).astype(np.float32)
        xq, w, bias, m, s, xz, yz, ys, yq = _run_layer(interp, backend, "FULLY_CONNECTED", x)
        lo, hi = activation_range(activation or "none", ys, yz)
        ours = backend.dense_forward_s8(xq, w, bias, m, s, xz, 0, yz, lo, hi)
        xr = xq.reshape(1, inputs).astype(np.int64) - xz
        acc = (w.astype(np.int64)[None, :, :] * xr[:, None, :]).sum(axis=2) + bias
        mode, differ = _check_against_tflite(ours, yq, acc, m, s, yz, lo, hi)
        modes |= {mode} - {None}
        ties += differ
        outputs += ours.size
    assert len(modes) <= 1
    print(f"FULLY_CONNECTED {units}x{inputs}: {outputs} outputs, TF Lite rounds {modes.pop() if modes else 'either way'}; "
          f"the two roundings differ on {ties}")


# dilation stays 1: the converter rewrites a dilated convolution into SPACE_TO_BATCH_ND,
# CONV_2D, BATCH_TO_SPACE_ND, whose CONV_2D no longer sees the layer's input.
@pytest.mark.parametrize("filters,kernel,channels,length,stride,dilation,padding", [
    (16, 3, 10, 49, 1, 1, "same"), (16, 3, 10, 49, 1, 1, "valid"), (8, 5, 4, 30, 2, 1, "same"),
    (8, 4, 3, 31, 3, 1, "valid"), (6, 4, 5, 20, 2, 1, "same"), (6, 2, 2, 21, 3, 1, "same"),
    (4, 4, 1, 10, 2, 1, "same")])
def test_conv1d_s8_equals_tflite_conv2d(backend, filters, kernel, channels, length, stride,
                                        dilation, padding):
    rng = np.random.default_rng(filters * 7 + kernel * 11 + length)
    model = tf.keras.Sequential([
        tf.keras.Input((length, channels)),
        tf.keras.layers.Conv1D(filters, kernel, strides=stride, dilation_rate=dilation,
                               padding=padding, activation="relu",
                               bias_initializer="glorot_uniform")])
    interp = _convert(model, (1, length, channels), rng, float_io=True)
    ties = outputs = 0
    modes = set()
    for trial in range(10):
        x = (rng.standard_normal((1, length, channels)) * (0.5 + trial)).astype(np.float32)
        xq, w, bias, m, s, xz, yz, ys, yq = _run_layer(interp, backend, "CONV_2D", x)
        lo, hi = activation_range("relu", ys, yz)
        x3 = xq.reshape(1, length, channels)
        w3 = w.reshape(filters, kernel, channels)
        ours = backend.conv1d_forward_s8(x3, w3, bias, m, s, stride, dilation, padding, xz, yz,
                                         lo, hi)
        acc = _conv_acc(x3, w3, bias, xz, stride, dilation, padding, ours.shape[1])
        mode, differ = _check_against_tflite(ours, yq, acc, m, s, yz, lo, hi)
        modes |= {mode} - {None}
        ties += differ
        outputs += ours.size
    assert len(modes) <= 1
    print(f"CONV_2D {filters}x{kernel}x{channels} L={length} stride {stride} {padding}: "
          f"{outputs} outputs, TF Lite rounds {modes.pop() if modes else 'either way'}; the two roundings differ on {ties}")


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

def test_quantize_and_dequantize_equal_tflite(backend):
    rng = np.random.default_rng(5)
    model = tf.keras.Sequential([tf.keras.Input((32,)), tf.keras.layers.Dense(8)])
    interp = _convert(model, (1, 32), rng, float_io=True)
    q_op, d_op = _op(interp, "QUANTIZE"), _op(interp, "DEQUANTIZE")
    for trial in range(30):
        # include exact ties of the input scale and values far outside its range
        _, xs, xz = _tensor(interp, q_op["outputs"][0])
        x = (rng.integers(-300, 300, (1, 32)) / 2).astype(np.float32) * np.float32(xs[0])
        x[0, :8] = (rng.standard_normal(8) * 10 ** rng.uniform(-3, 3)).astype(np.float32)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        xq, _, _ = _tensor(interp, q_op["outputs"][0])
        assert np.array_equal(backend.quantize_s8(x, xs[0], int(xz[0])), xq), trial
        yq, ys, yz = _tensor(interp, d_op["inputs"][0])
        y, _, _ = _tensor(interp, d_op["outputs"][0])
        assert np.array_equal(backend.dequantize_s8(yq, ys[0], int(yz[0])).view(np.uint32),
                              y.view(np.uint32)), trial
