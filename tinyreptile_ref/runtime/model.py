"""A sequential model on the kernels: a layer table, one flat float32 parameter buffer,
forward / backward / SGD at any batch size on either backend, and the device memory plan.
It is the NumPy twin of the C model runtime (csrc/model.c): the same table rules, parameter
layout, memory plan, training modes and step order, so both give the same bits.

    model = Model((1,), [Dense(64), Tanh(), Dense(64), Tanh(), Dense(1)], loss="mse")
    theta = model.init(np.random.default_rng(0))          # flat float32 [n_params]
    ws = model.workspace(get_backend("c"))                # parameter + gradient buffers
    ws.load(theta); ws.sgd_step(x, y, lr=0.02)            # one training step, in place
    model.memory_plan(batch=1, mode="fused").ram          # bytes a device needs for it
    be.tinyreptile_device_round_f32(theta, x, y, model, 0.02)   # a device's round, one call

Parameter layout. Layers own parameters in table order; each owns its weight, row-major in
the kernel's layout (dense w [O, I], conv1d w [C_out, K, C_in]), then its bias [O] / [C_out].
So SGD (tr_sgd_step_f32) and the Reptile interpolation are one kernel call over the buffer.

Table rules (the runtime's): at least one dense or conv1d layer; ReLU and tanh each follow a
dense or conv1d layer, with only flatten layers between (they work in place on that layer's
output, and their backward reads their own output), so there is at most one per buffer.

Step order (tinyreptile.h, tr_model_backward_f32 and tr_model_train_step_f32):
  1. forward, layer by layer;
  2. loss and its gradient dpred (mse_loss_f32 or softmax_xent_loss_f32, mean over batch);
  3. backward from the last layer to the first parametric one: dense/conv1d compute
     (dx, dw, db) from (dy, x, w) with the weights of step 1; ReLU and tanh map dy to dx from
     their OUTPUT y (relu'(x) > 0 exactly when y = relu(x) > 0, tanh' = 1 - y*y); flatten is
     a reshape; the first parametric layer's dx is not needed;
  4. SGD, theta[j] = theta[j] - lr*g[j] (product rounded, then subtracted), in one of three
     training modes (MODES) that give the same bits:
       grad   dw, db overwrite their slices of a gradient buffer, then one SGD over it;
       fused  batch 1, no gradient buffer: each parametric layer, right after its dx has been
              computed with its old weights, updates its own weights in place with
              g = dw = 0 + (the kernel's terms in the kernel's order); nothing reads a
              layer's weights after its update within the step;
       accum  the batch's gradient accumulated one sample at a time (dw += dy*x, b ascending,
              as the batched kernels sum), the loss with the batch's scale; then SGD.
Every gradient entry is written in every step (only dense and conv1d have parameters).
"""
from dataclasses import dataclass

import numpy as np

from ..kernels import _checks as ck
from ..kernels import activation as _act
from ..kernels import conv1d as _conv1d
from ..kernels import dense as _dense
from ..kernels import loss as _lossmod
from ..kernels import mathf as _mathf
from ..kernels import optim as _optim
from ..errors import ParameterError, ShapeError

F32 = np.float32
ZERO = F32(0.0)
ONE = F32(1.0)
TWO = F32(2.0)

#: Layer kinds in the order of their codes (a C runtime's layer table uses the same codes).
KINDS = ("dense", "conv1d", "relu", "tanh", "flatten")
#: Loss kinds in the order of their codes.
LOSSES = ("mse", "softmax_xent")
#: Padding modes of conv1d in the order of the kernels' codes (TR_PAD_VALID, TR_PAD_SAME).
PADDINGS = ("valid", "same")
#: Trace record tensors (tinyreptile.h's TR_TRACE_*, docs/trace-format.md).
TRACE_OUT, TRACE_LOSS, TRACE_DOUT, TRACE_W, TRACE_B = range(5)
TRACE_TENSORS = ("out", "loss", "dout", "w", "b")

#: Training modes in the order of their codes (TR_TRAIN_FUSED, TR_TRAIN_GRAD, TR_TRAIN_ACCUM).
MODES = ("fused", "grad", "accum")


# ------------------------------------------------------------------ layer descriptions

@dataclass(frozen=True)
class Dense:
    """Fully connected layer with `units` outputs; input [I] per sample (1-D)."""
    units: int
    kind = "dense"


@dataclass(frozen=True)
class Conv1d:
    """Channels-last 1-D convolution with `filters` output channels; input [L, C_in]."""
    filters: int
    kernel_size: int
    stride: int = 1
    dilation: int = 1
    padding: str = "valid"
    kind = "conv1d"


@dataclass(frozen=True)
class ReLU:
    kind = "relu"


@dataclass(frozen=True)
class Tanh:
    kind = "tanh"


@dataclass(frozen=True)
class Flatten:
    """[L, C] -> [L*C] per sample: a reshape, no data moves."""
    kind = "flatten"


@dataclass(frozen=True)
class Layer:
    """One row of the layer table: shapes per sample, parameter offsets in the flat buffer
    (in float32 elements), the conv1d geometry and the layer's multiply-accumulates."""
    index: int
    kind: str
    in_shape: tuple
    out_shape: tuple
    w_off: int = 0
    w_shape: tuple = ()
    b_off: int = 0
    b_len: int = 0
    stride: int = 1
    dilation: int = 1
    padding: str = "valid"
    pad_before: int = 0
    #: multiply-accumulates of the forward pass for one sample (dense/conv1d taps only);
    #: the backward pass needs the same number for dw and again for dx.
    macs: int = 0

    @property
    def code(self):
        return KINDS.index(self.kind)

    @property
    def n_params(self):
        return _prod(self.w_shape) + self.b_len if self.w_shape else 0

    @property
    def has_params(self):
        return self.kind in ("dense", "conv1d")

    @property
    def in_place(self):
        """Elementwise layers (and flatten) need no buffer of their own on a device."""
        return self.kind in ("relu", "tanh", "flatten")


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# --------------------------------------------------------------------------- memory plan

@dataclass(frozen=True)
class MemoryPlan:
    """Bytes a device needs for one training step of `batch` samples in training `mode`, with
    `stored` samples held in RAM (1 for a streaming device; k for one that stores its k).
    tr_model_memory_plan gives the same numbers (the C runtime lays its arena out this way).

    The rules, with Bact = batch in mode "grad" and 1 in "fused" and "accum":
      params      4 * n_params, the flat float32 buffer theta (trained in place into phi);
      grads       4 * n_params, the gradient buffer SGD reads ("grad", "accum"); 0 in "fused";
      activations 4 * Bact * (sum of the output sizes of the dense and conv1d layers):
                  each such output is kept for backward (it is the next layer's input, a
                  ReLU/tanh output, or the prediction the loss reads); ReLU and tanh work in
                  place on it, flatten aliases it;
      deltas      the backward pass's gradient tensors dpred, then the dx of each
                  parametric layer after the first, alternate between two buffers (the
                  elementwise layers work in place); each buffer is as large as the largest
                  tensor it holds: 4 * Bact * (max over even + max over odd);
      samples     stored * (4 * input size + target bytes): target 4 * output size for mse,
                  one int32 label for softmax cross-entropy; in "accum" a mini-batch is read
                  from the store sample by sample, in "grad" it is the stored batch itself;
      arena       grads + activations + deltas + samples: the C runtime's arena
                  (tr_model_arena_size); params live in the caller's buffer;
      flash       4 * n_params: the weights as float32.
    The NumPy model allocates fresh arrays as it goes; the plan is what a device needs.
    """
    batch: int
    stored: int
    params: int
    grads: int
    activations: int
    deltas: int
    samples: int
    flash: int
    mode: str = "grad"

    @property
    def arena(self):
        return self.grads + self.activations + self.deltas + self.samples

    @property
    def ram(self):
        return self.params + self.arena

    def as_dict(self):
        return {"mode": self.mode, "batch": self.batch, "stored_samples": self.stored,
                "params": self.params, "grads": self.grads, "activations": self.activations,
                "deltas": self.deltas, "samples": self.samples, "arena": self.arena,
                "ram": self.ram, "flash": self.flash}


# --------------------------------------------------------------------------------- model

class Model:
    """A sequential model: input shape per sample, a layer table, a loss.

    `layers` is a list of Dense, Conv1d, ReLU, Tanh, Flatten; `loss` is "mse" (targets the
    output's shape, float32) or "softmax_xent" (int32 labels; the output is [classes]).
    """

    def __init__(self, input_shape, layers, loss="mse"):
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ParameterError(f"loss: {loss!r} is not one of {', '.join(LOSSES)}")
        self.input_shape = _input_shape(input_shape)
        if not isinstance(layers, (list, tuple)):
            raise ParameterError(f"layers: expected a list of layers, got {type(layers).__name__}")
        self.loss = loss
        table = []
        shape = self.input_shape
        off = acts = 0
        for i, spec in enumerate(layers):
            row, off = _make_layer(i, spec, shape, off)
            table.append(row)
            shape = row.out_shape
            if row.has_params:
                acts += _prod(shape)
                # tr_model_check's limits, and one sample's activations in a C arena
                if off > ck.INT32_MAX:
                    raise ShapeError(f"layers[{i}]: the model's {off} parameters exceed the C "
                                     f"runtime's int32 limit {ck.INT32_MAX}")
                if acts > ARENA_MAX_FLOATS:
                    raise ShapeError(f"layers[{i}]: one sample's activations take {4 * acts} "
                                     f"bytes, more than a C arena's int32 limit "
                                     f"{ck.INT32_MAX} bytes")
        self.layers = tuple(table)
        self.output_shape = shape
        self.n_params = off
        if loss == "softmax_xent" and len(shape) != 1:
            raise ShapeError(f"loss: softmax_xent needs a 1-D output per sample, got {shape}")
        params = [L.index for L in self.layers if L.has_params]
        if not params:
            raise ParameterError("layers: a model needs at least one Dense or Conv1d layer")
        self.first_param_layer = params[0]
        self._plan_acts, self._plan_deltas = self._plan_sizes()
        free = False  # whether the current buffer (a parametric layer's output) is free
        for L in self.layers:
            if L.has_params:
                free = True
            elif L.kind in ("relu", "tanh"):
                if not free:
                    raise ParameterError(
                        f"layers[{L.index}]: {L.kind} must follow a Dense or Conv1d layer (only "
                        f"Flatten between), as it works in place on that layer's output")
                free = False

    def __repr__(self):
        return (f"Model(input {self.input_shape}, {len(self.layers)} layers, "
                f"{self.n_params} parameters, loss {self.loss})")

    def describe(self):
        """The layer table as text, one row per layer."""
        lines = [f"{'#':>2} {'layer':8s} {'input':>10s} {'output':>10s} {'params':>7s} "
                 f"{'offset':>7s} {'MACs':>7s}"]
        for L in self.layers:
            lines.append(f"{L.index:2d} {L.kind:8s} {str(list(L.in_shape)):>10s} "
                         f"{str(list(L.out_shape)):>10s} {L.n_params:7d} "
                         f"{(L.w_off if L.has_params else '-'):>7} {L.macs:7d}")
        lines.append(f"   {self.n_params} parameters, loss {self.loss}")
        return "\n".join(lines)

    # ---- parameters

    def init(self, rng):
        """A fresh flat parameter buffer: every weight and bias ~ U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with fan_in = I (dense) or K*C_in (conv1d), PyTorch's default,
        drawn in float64 in table order and rounded once to float32."""
        theta = np.empty(self.n_params, F32)
        for L in self.layers:
            if not L.has_params:
                continue
            fan_in = _prod(L.w_shape[1:])
            bound = 1.0 / np.sqrt(fan_in)
            n = L.n_params
            theta[L.w_off:L.w_off + n] = rng.uniform(-bound, bound, n)
        return theta

    def views(self, buf):
        """Per layer, (w, b) views into a flat float32 buffer of n_params (None for layers
        without parameters)."""
        ck.f32("theta", buf, 1)
        if buf.shape[0] != self.n_params:
            raise ShapeError(f"theta: length {buf.shape[0]}, expected {self.n_params} parameters")
        out = []
        for L in self.layers:
            if L.has_params:
                nw = _prod(L.w_shape)
                out.append((buf[L.w_off:L.w_off + nw].reshape(L.w_shape),
                            buf[L.b_off:L.b_off + L.b_len]))
            else:
                out.append(None)
        return out

    def workspace(self, backend, theta=None):
        """A Workspace (parameter and gradient buffers) on `backend`, loaded with theta."""
        return Workspace(self, backend, theta)

    # ---- costs

    @property
    def target_size(self):
        """4-byte elements of one sample's target: the output's size for mse, one label."""
        return _prod(self.output_shape) if self.loss == "mse" else 1

    def sample_bytes(self):
        """Bytes of one stored sample: the input as float32 and the target (float32 of the
        output's shape for mse, one int32 label for softmax cross-entropy)."""
        return 4 * (_prod(self.input_shape) + self.target_size)

    def memory_plan(self, batch=1, stored=None, mode="grad"):
        """The MemoryPlan of one training step at `batch` samples in `mode` (MODES) with
        `stored` samples in RAM (default: the batch itself, so batch 1 holds one sample)."""
        batch = ck.int_param("batch", batch, 1)
        stored = batch if stored is None else ck.int_param("stored", stored, 1)
        if stored < batch:
            raise ParameterError(f"stored: {stored} samples cannot feed a batch of {batch}")
        check_mode(mode, batch)
        bact = batch if mode == "grad" else 1
        p = 4 * self.n_params
        acts, d = self._plan_acts, self._plan_deltas
        _check_arena(self, "batch", batch, stored, mode, acts, d)
        return MemoryPlan(batch=batch, stored=stored, params=p,
                          grads=0 if mode == "fused" else p, activations=4 * bact * acts,
                          deltas=4 * bact * d, samples=stored * self.sample_bytes(), flash=p,
                          mode=mode)

    def _plan_sizes(self):
        """(activations, deltas) of one sample in float32 elements (MemoryPlan's rules)."""
        acts = sum(_prod(L.out_shape) for L in self.layers if L.has_params)
        # delta tensors in the order backward makes them: dpred, then each parametric
        # layer's dx from the last such layer down to (not including) the first.
        deltas = [_prod(self.output_shape)]
        for L in reversed(self.layers[self.first_param_layer + 1:]):
            if L.has_params:
                deltas.append(_prod(L.in_shape))
        return acts, max(deltas[0::2]) + max(deltas[1::2], default=0)

    @classmethod
    def from_table(cls, rows, loss="mse"):
        """The Model whose layer_table() is `rows` (int32 [n_layers, 13]); ShapeError when
        the rows are not one (the inverse of layer_table, e.g. for a table read from vectors)."""
        rows = np.asarray(rows)
        if rows.dtype.kind not in "iu":
            raise ck.DTypeError(f"rows: expected integers, got dtype {rows.dtype}")
        if rows.ndim != 2 or rows.shape[1] != 13 or rows.shape[0] < 1:
            raise ShapeError(f"rows: shape {rows.shape}, expected (n_layers, 13)")
        r0 = [int(v) for v in rows[0]]
        shape = (r0[2],) if r0[1] == 1 else (r0[2], r0[3])
        layers = []
        for i, r in enumerate(rows.tolist()):
            if not 0 <= r[0] < len(KINDS):
                raise ParameterError(f"rows[{i}]: kind {r[0]} is not one of 0..{len(KINDS) - 1}")
            kind = KINDS[r[0]]
            if kind == "conv1d" and not 0 <= r[12] < len(PADDINGS):
                raise ParameterError(f"rows[{i}]: padding {r[12]} is not one of "
                                     f"0..{len(PADDINGS) - 1}")
            if kind == "dense":
                layers.append(Dense(r[5]))
            elif kind == "conv1d":
                layers.append(Conv1d(r[6], r[9], r[10], r[11], PADDINGS[r[12]]))
            else:
                layers.append({"relu": ReLU, "tanh": Tanh, "flatten": Flatten}[kind]())
        model = cls(shape, layers, loss)
        if not np.array_equal(model.layer_table(), rows):
            raise ShapeError("rows: not the layer table of a model (shapes or offsets differ)")
        return model

    def layer_table(self):
        """The layer table as the C runtime's tr_layer rows, int32 [n_layers, 13]: kind,
        in_rank, in_dim[2], out_rank, out_dim[2], w_off, b_off, kernel_size, stride,
        dilation, padding (codes in KINDS and PADDINGS order; a rank-1 shape [n] is
        dims (n, 1); fields a kind does not use are 0)."""
        rows = []
        for L in self.layers:
            def dims(shape):
                return [len(shape), shape[0], shape[1] if len(shape) == 2 else 1]
            conv = L.kind == "conv1d"
            rows.append([L.code, *dims(L.in_shape), *dims(L.out_shape),
                         L.w_off if L.has_params else 0, L.b_off if L.has_params else 0,
                         L.w_shape[1] if conv else 0, L.stride if conv else 0,
                         L.dilation if conv else 0, PADDINGS.index(L.padding) if conv else 0])
        return np.asarray(rows, np.int32).reshape(len(rows), 13)

    def step_macs(self, batch=1):
        """Multiply-accumulates of one training step at `batch` samples: forward (dense and
        conv1d taps), backward dw (the same count) and dx (the same count, except the first
        parametric layer, whose dx is not needed), and the SGD update (one per parameter)."""
        fwd = sum(L.macs for L in self.layers)
        dx = sum(L.macs for L in self.layers[self.first_param_layer + 1:])
        return batch * (2 * fwd + dx) + self.n_params

    def forward_macs(self, batch=1):
        return batch * sum(L.macs for L in self.layers)


#: The largest arena, in float32 elements, the C runtime can address: its size in bytes is an
#: int32 (tr_model_arena_size).
ARENA_MAX_FLOATS = ck.INT32_MAX // 4


def _check_arena(model, name, batch, stored, mode, acts, deltas):
    """The C runtime's int32 limits of one call's arena (tr__layout_of, tr_model_memory_plan):
    activations and deltas for Bact samples, the gradient buffer, `stored` samples, each
    float count and their sum at most INT32_MAX / 4; the parameters' bytes fit int32."""
    if model.n_params > ARENA_MAX_FLOATS:
        raise ShapeError(f"model: {model.n_params} parameters take {4 * model.n_params} bytes, "
                         f"more than the C runtime's int32 limit {ck.INT32_MAX}")
    bact = batch if mode == "grad" else 1
    n = (acts + deltas) * bact + (0 if mode == "fused" else model.n_params)
    n += stored * (_prod(model.input_shape) + model.target_size)
    if n > ARENA_MAX_FLOATS:
        raise ShapeError(f"{name}: the arena for batch {batch}, {stored} stored samples, mode "
                         f"{mode!r} takes {4 * n} bytes, more than the C runtime's int32 limit "
                         f"{ck.INT32_MAX}")


def _input_shape(input_shape):
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) not in (1, 2):
        raise ShapeError(f"input_shape: {input_shape!r} is not [n] or [length, channels]")
    dims = []
    for s in input_shape:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise ShapeError(f"input_shape: {tuple(input_shape)!r} has a size that is not an "
                             f"integer")
        if not 1 <= s <= ck.INT32_MAX:
            raise ShapeError(f"input_shape: {tuple(input_shape)!r} has a size outside "
                             f"[1, {ck.INT32_MAX}]")
        dims.append(int(s))
    ck.sizes(("input_shape", dims))
    return tuple(dims)


def _valid_taps(L_in, L_out, K, stride, dilation, pad):
    """The number of taps (t, k) of a conv1d with 0 <= t*stride + k*dilation - pad < L_in:
    per k, the t range of conv1d.taps, summed over k in int64 blocks (exact, and fast for
    long inputs)."""
    total = 0
    for k0 in range(0, K, 1 << 20):
        base = np.arange(k0, min(K, k0 + (1 << 20)), dtype=np.int64) * dilation - pad
        lo = np.where(base >= 0, 0, -(base // stride))
        hi = np.where(base > L_in - 1, 0, (L_in - 1 - base) // stride + 1)
        hi = np.minimum(hi, L_out)
        total += int(np.maximum(hi - np.minimum(lo, hi), 0).sum())
    return total


def _make_layer(i, spec, shape, off):
    kind = getattr(spec, "kind", None)
    if kind == "dense":
        units = ck.int_param(f"layers[{i}].units", spec.units, 1)
        if len(shape) != 1:
            raise ShapeError(f"layers[{i}]: dense needs a 1-D input per sample, got {shape} "
                             f"(put a Flatten() before it)")
        I = shape[0]
        if units * I > ck.INT32_MAX - units:
            raise ShapeError(f"layers[{i}]: dense {I} -> {units} has {units * I + units} "
                             f"parameters, more than the C runtime's int32 limit {ck.INT32_MAX}")
        row = Layer(i, kind, shape, (units,), w_off=off, w_shape=(units, I),
                    b_off=off + units * I, b_len=units, macs=units * I)
        return row, off + units * I + units
    if kind == "conv1d":
        C_out = ck.int_param(f"layers[{i}].filters", spec.filters, 1)
        K = ck.int_param(f"layers[{i}].kernel_size", spec.kernel_size, 1)
        stride = ck.int_param(f"layers[{i}].stride", spec.stride, 1)
        dilation = ck.int_param(f"layers[{i}].dilation", spec.dilation, 1)
        if not isinstance(spec.padding, str) or spec.padding not in PADDINGS:
            raise ParameterError(f"layers[{i}].padding: {spec.padding!r} is not one of 'valid', 'same'")
        if len(shape) != 2:
            raise ShapeError(f"layers[{i}]: conv1d needs a [L, C_in] input per sample, got {shape}")
        L_in, C_in = shape
        L_out, pad = _conv1d.conv1d_out_len(L_in, K, stride, dilation, spec.padding)
        if L_out < 1:
            raise ShapeError(f"layers[{i}]: conv1d over length {L_in} with kernel span "
                             f"{(K - 1) * dilation + 1} has no output")
        ck.sizes((f"layers[{i}]", (L_out, C_out)))
        n_w = C_out * K * C_in
        if C_out * K > ck.INT32_MAX or n_w > ck.INT32_MAX - C_out:
            raise ShapeError(f"layers[{i}]: conv1d has {n_w + C_out} parameters, more than the "
                             f"C runtime's int32 limit {ck.INT32_MAX}")
        if L_out * C_out > ARENA_MAX_FLOATS:
            raise ShapeError(f"layers[{i}]: one sample's output [{L_out}, {C_out}] takes "
                             f"{4 * L_out * C_out} bytes, more than a C arena's int32 limit "
                             f"{ck.INT32_MAX} bytes")
        taps = _valid_taps(L_in, L_out, K, stride, dilation, pad)
        row = Layer(i, kind, shape, (L_out, C_out), w_off=off, w_shape=(C_out, K, C_in),
                    b_off=off + C_out * K * C_in, b_len=C_out, stride=stride,
                    dilation=dilation, padding=spec.padding, pad_before=pad,
                    macs=taps * C_in * C_out)
        return row, off + C_out * K * C_in + C_out
    if kind in ("relu", "tanh"):
        return Layer(i, kind, shape, shape), off
    if kind == "flatten":
        return Layer(i, kind, shape, (_prod(shape),)), off
    raise ParameterError(f"layers[{i}]: {spec!r} is not a layer (Dense, Conv1d, ReLU, Tanh, Flatten)")


# ----------------------------------------------------------------- runtime: argument checks

def check_model_call(model, theta, x, target=ck.ABSENT, writeable=False, trains=False):
    """Check theta [n_params], x [B, *input_shape] and, when given, the targets (float32
    [B, *output_shape] for mse; int32 labels [B] in [0, classes) for softmax cross-entropy);
    returns B. Shared by the NumPy twin and the C wrappers, so both raise alike.

    `writeable`: theta is trained in place. `trains`: the call trains theta (in place, or
    into phi, which the C runtime lets be theta itself), so x and target must not share
    memory with it."""
    check_model(model)
    ck.f32("theta", theta, 1)
    if writeable:
        ck.writeable("theta", theta)
    if theta.shape[0] != model.n_params:
        raise ShapeError(f"theta: length {theta.shape[0]}, expected {model.n_params} parameters")
    ck.f32("x", x)
    if x.ndim != 1 + len(model.input_shape) or x.shape[1:] != model.input_shape:
        raise ShapeError(f"x: shape {x.shape}, expected (batch,) + {model.input_shape}")
    B = x.shape[0]
    ck.sizes(("x", x.shape))
    if trains:
        ck.disjoint("x", x, "theta", theta, "is trained")
    if target is not ck.ABSENT:
        if model.loss == "softmax_xent":
            ck.array("target", target, ck.I32, 1)
            if target.shape[0] != B:
                raise ShapeError(f"target: {target.shape[0]} labels for a batch of {B}")
            C = model.output_shape[0]
            bad = np.flatnonzero((target < 0) | (target >= C))
            if bad.size:
                j = int(bad[0])
                raise ParameterError(f"target: label {int(target[j])} at index {j} is outside "
                                     f"[0, {C})")
        else:
            ck.f32("target", target)
            if target.shape != (B,) + model.output_shape:
                raise ShapeError(f"target: shape {target.shape}, expected "
                                 f"{(B,) + model.output_shape}")
        if trains:
            ck.disjoint("target", target, "theta", theta, "is trained")
    return B


def check_call_arena(model, name, batch, stored, mode):
    """The int32 limits of the C runtime's arena for a call at (batch, stored, mode), checked
    on both backends (the NumPy twin needs no arena, but gives the same answer)."""
    _check_arena(model, name, batch, stored, mode, model._plan_acts, model._plan_deltas)


def check_model(model):
    if not isinstance(model, Model):
        raise ParameterError(f"model: expected a Model, got {type(model).__name__}")
    return model


def check_mode(mode, batch=1):
    """The code of a training mode (MODES); "fused" trains on one sample at a time."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ParameterError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
    if mode == "fused" and batch != 1:
        raise ParameterError(f"mode: 'fused' takes one sample per step, got a batch of {batch}")
    return MODES.index(mode)


def check_trace_mode(mode, trace):
    """A traced round (trace not None) takes mode "fused" or "grad"."""
    if trace is not None and mode == "accum":
        raise ParameterError("mode: a traced round takes 'fused' or 'grad', got 'accum'")


def check_order(order, epochs, k):
    """Reptile's visiting order: int32 [epochs, k], every entry in [0, k)."""
    ck.array("order", order, ck.I32, 2)
    if order.shape != (epochs, k):
        raise ShapeError(f"order: shape {order.shape}, expected (epochs, k) = {(epochs, k)}")
    if order.size and ((order < 0) | (order >= k)).any():
        raise ParameterError(f"order: every entry must lie in [0, {k})")


# ---------------------------------------------------------------- runtime: the NumPy twin

def _forward(model, pv, x, acts=None):
    a = x
    for L, p in zip(model.layers, pv):
        if L.kind == "dense":
            a = _dense.dense_forward_f32(a, p[0], p[1])
        elif L.kind == "conv1d":
            a = _conv1d.conv1d_forward_f32(a, p[0], p[1], L.stride, L.dilation, L.padding)
        elif L.kind == "tanh":
            a = _act.tanh_forward_f32(a)
        elif L.kind == "relu":
            a = _act.relu_forward_f32(a)
        else:  # flatten
            a = a.reshape((a.shape[0],) + L.out_shape)
        if acts is not None:
            acts.append(a)
    return a


def _loss(model, pred, target):
    if model.loss == "softmax_xent":
        return _lossmod.softmax_xent_loss_f32(pred, target)
    return _lossmod.mse_loss_f32(pred, target)


def _kernel_backward(L, dy, xin, w):
    if L.kind == "dense":
        return _dense.dense_backward_f32(dy, xin, w)
    return _conv1d.conv1d_backward_f32(dy, xin, w, L.stride, L.dilation, L.padding)


def _backward(model, x, acts, d, on_param, emit=None):
    """Step 3 from dpred d down to the first parametric layer; on_param(i, L, dy, xin) does a
    dense or conv1d layer's part (what the mode does with its weights) and returns its dx.
    emit(layer, tensor, array), when given, gets each layer's DOUT record."""
    for i in range(len(model.layers) - 1, model.first_param_layer - 1, -1):
        L = model.layers[i]
        if emit is not None:
            emit(i, TRACE_DOUT, d[0])
        if L.has_params:
            d = on_param(i, L, d, acts[i - 1] if i > 0 else x)
        elif L.kind == "tanh":
            d = _act.tanh_backward_f32(d, acts[i])
        elif L.kind == "relu":
            d = _act.relu_backward_f32(d, acts[i])  # from y: y > 0 exactly when x > 0
        else:  # flatten
            d = d.reshape((d.shape[0],) + L.in_shape)


def _grad_batch(model, theta, grad, x, target):
    """Mode grad's steps 1-3: forward, loss, kernel backward into grad; returns the loss."""
    pv, gv = model.views(theta), model.views(grad)
    acts = []
    loss, d = _loss(model, _forward(model, pv, x, acts), target)

    def on_param(i, L, dy, xin):
        dx, dw, db = _kernel_backward(L, dy, xin, pv[i][0])
        gv[i][0][...] = dw
        gv[i][1][...] = db
        return dx

    _backward(model, x, acts, d, on_param)
    return loss


def _step_fused(model, theta, x, target, lr, emit=None):
    """Mode fused; emit(layer, tensor, array), when given, gets the step's trace records in
    tr_tinyreptile_device_round_traced_f32's order (tinyreptile.h, docs/trace-format.md)."""
    pv = model.views(theta)
    acts = []
    loss, d = _loss(model, _forward(model, pv, x, acts), target)
    if emit is not None:
        for i, a in enumerate(acts):
            emit(i, TRACE_OUT, a[0])
        emit(-1, TRACE_LOSS, np.array([loss], F32))

    def on_param(i, L, dy, xin):
        w, b = pv[i]
        dx, dw, db = _kernel_backward(L, dy, xin, w)  # dx with the old weights
        w -= lr * dw  # dw = 0 + the kernel's terms in its order; rounded product, subtracted
        b -= lr * db
        if emit is not None:
            emit(i, TRACE_W, w)
            emit(i, TRACE_B, b)
        return dx

    _backward(model, x, acts, d, on_param, emit)
    return loss


def _sample_loss(model, acc, pred, target, scale):
    """One sample's terms of the batch's loss added to acc, and its dpred with the batch's
    scale (2/(B*output size) for mse, B for softmax cross-entropy): model.c's
    tr__mse_sample / tr__xent_sample, in the loss kernels' operation order."""
    if model.loss == "mse":
        acc, dpred = _lossmod.mse_terms(acc, pred.reshape(-1), target.reshape(-1), scale)
        return acc, dpred.reshape(pred.shape)
    z = pred.reshape(-1)
    label = int(target[0])
    m = z[0]
    for c in range(1, z.size):
        if z[c] > m:
            m = z[c]
    e = _mathf.exp_f32(z - m)
    s = ZERO
    for c in range(z.size):
        s = s + e[c]
    acc = acc + (_mathf.log_f32(np.array([s], F32))[0] - (z[label] - m))
    q = e / s
    q[label] = q[label] - ONE
    return acc, (q / scale).reshape(pred.shape)


def _conv1d_accumulate(gw, gb, dy, x, L):
    """One sample's conv1d terms added in the kernel's order: gb[co] += dy[t, co] and
    gw[co, k, ci] += dy[t, co]*x[p(t, k), ci], t ascending (taps inside [0, L) only)."""
    for t in range(dy.shape[0]):
        gb += dy[t]
    for k in range(gw.shape[1]):
        for t in range(dy.shape[0]):
            p = t * L.stride + k * L.dilation - L.pad_before
            if 0 <= p < x.shape[0]:
                gw[:, k, :] += dy[t][:, None] * x[p][None, :]


def _step_accum(model, theta, grad, x, target, lr, rows=None):
    """Mode accum: the samples x[rows] (all of x when rows is None), one at a time."""
    pv, gv = model.views(theta), model.views(grad)
    B = x.shape[0] if rows is None else len(rows)
    fn = F32(B * _prod(model.output_shape))
    scale = TWO / fn if model.loss == "mse" else F32(B)
    grad[...] = 0
    acc = ZERO
    for b in range(B):
        r = b if rows is None else int(rows[b])
        xb = x[r:r + 1]
        acts = []
        acc, d = _sample_loss(model, acc, _forward(model, pv, xb, acts), target[r:r + 1], scale)

        def on_param(i, L, dy, xin):
            gw, gb = gv[i]
            dx = _kernel_backward(L, dy, xin, pv[i][0])[0] if i > model.first_param_layer else None
            if L.kind == "dense":
                gw += dy[0][:, None] * xin[0][None, :]
                gb += dy[0]
            else:
                _conv1d_accumulate(gw, gb, dy[0], xin[0], L)
            return dx

        _backward(model, xb, acts, d, on_param)
    loss = ZERO if B == 0 else acc / (fn if model.loss == "mse" else F32(B))
    _optim.sgd_step_f32(theta, grad, lr)
    return loss


def model_forward_f32(theta, x, model):
    """The model's output [B, *output_shape] for x [B, *input_shape] (tr_model_forward_f32)."""
    B = check_model_call(model, theta, x)
    check_call_arena(model, "x", B, 0, "grad")
    with np.errstate(all="ignore"):
        return _forward(model, model.views(theta), x)


def model_backward_f32(theta, x, target, model):
    """(loss, grad [n_params]): forward, loss and backward over the batch (steps 1-3 in mode
    grad; tr_model_backward_f32). The loss is an np.float32, the batch's mean."""
    B = check_model_call(model, theta, x, target)
    check_call_arena(model, "x", B, 0, "grad")
    grad = np.zeros(model.n_params, F32)
    with np.errstate(all="ignore"):
        loss = _grad_batch(model, theta, grad, x, target)
    return loss, grad


def model_train_step_f32(theta, x, target, model, lr, mode="fused"):
    """One SGD step on the batch in `mode` (MODES), theta updated in place; returns the loss
    before it (np.float32). The three modes give the same bits (tr_model_train_step_f32)."""
    B = check_model_call(model, theta, x, target, writeable=True, trains=True)
    lr = ck.float_param("lr", lr)
    check_mode(mode, B)
    check_call_arena(model, "x", B, 0, mode)
    with np.errstate(all="ignore"):
        return _step(model, theta, x, target, lr, mode)


def _step(model, theta, x, target, lr, mode):
    if mode == "fused":
        return _step_fused(model, theta, x, target, lr)
    grad = np.zeros(model.n_params, F32)
    if mode == "accum":
        return _step_accum(model, theta, grad, x, target, lr)
    loss = _grad_batch(model, theta, grad, x, target)
    _optim.sgd_step_f32(theta, grad, lr)
    return loss


def tinyreptile_device_round_f32(theta, x, target, model, lr, mode="fused", trace=None):
    """TinyReptile, the device's side of a round: (phi, losses [k]) after one batch-1 step on
    each of the k = len(x) streamed samples in order, from theta (not modified)
    (tr_tinyreptile_device_round_f32; "fused" and "grad" give the same bits).

    trace(step, layer, tensor, array), when given, receives the records of
    tr_tinyreptile_device_round_traced_f32 (TRACE_OUT, ...; array a float32 copy in the
    record's shape) in its order; modes "fused" and "grad" (the same records; in "grad" each
    step's W and B come after its DOUT records), not "accum"."""
    k = check_model_call(model, theta, x, target, trains=True)
    lr = ck.float_param("lr", lr)
    check_mode(mode, 1)
    check_call_arena(model, "model", 1, 1, mode)
    check_trace_mode(mode, trace)
    phi = theta.copy()
    losses = np.empty(k, F32)
    with np.errstate(all="ignore"):
        for j in range(k):
            if trace is None:
                losses[j] = _step(model, phi, x[j:j + 1], target[j:j + 1], lr, mode)
            else:  # fused's arithmetic; grad's records: W and B after every DOUT
                late = []

                def emit(layer, tensor, a, j=j):
                    rec = (j, layer, tensor, np.array(a, F32, copy=True))
                    if mode == "grad" and tensor in (TRACE_W, TRACE_B):
                        late.append(rec)
                    else:
                        trace(*rec)
                losses[j] = _step_fused(model, phi, x[j:j + 1], target[j:j + 1], lr, emit)
                for rec in late:
                    trace(*rec)
    return phi, losses


def reptile_device_round_f32(theta, x, target, order, model, epochs, batch, lr):
    """Batched Reptile (and FedAvg), the device's side: (phi, losses) after `epochs` passes
    over the k stored samples in the order order[e] (int32 [epochs, k]), in mini-batches of
    `batch` consecutive entries (the last one smaller when batch does not divide k), one
    accum step each; losses [epochs * ceil(k / batch)] (tr_reptile_device_round_f32).
    k = 0 (or epochs = 0) is an empty round: phi = theta, no loss."""
    k = check_model_call(model, theta, x, target, trains=True)
    epochs = ck.int_param("epochs", epochs, 0)
    batch = ck.int_param("batch", batch, 1)
    lr = ck.float_param("lr", lr)
    check_order(order, epochs, k)
    check_call_arena(model, "x", batch, k, "accum")
    phi = theta.copy()
    grad = np.zeros(model.n_params, F32)
    losses = []
    with np.errstate(all="ignore"):
        for e in range(epochs):
            for s in range(0, k, batch):
                losses.append(_step_accum(model, phi, grad, x, target, lr, order[e, s:s + batch]))
    return phi, np.asarray(losses, F32).reshape(-1)


def model_memory_plan(model, batch=1, stored=None, mode="grad"):
    """The MemoryPlan of a training step (tr_model_memory_plan): model.memory_plan."""
    return check_model(model).memory_plan(batch, stored, mode)


# ----------------------------------------------------------------------------- workspace

class Workspace:
    """A device's training buffers for one model on one backend: the flat parameter buffer
    `theta` and the flat gradient buffer `grad` (float32, n_params each). Every operation is
    one call of the backend's model runtime (the C backend: one call into C)."""

    def __init__(self, model, backend, theta=None):
        self.model = model
        self.be = backend
        self.theta = np.zeros(model.n_params, F32)
        self.grad = np.zeros(model.n_params, F32)
        if theta is not None:
            self.load(theta)

    def load(self, theta):
        """Copy a parameter vector in (what a device does with the θ it receives)."""
        ck.f32("theta", theta, 1)
        if theta.shape[0] != self.model.n_params:
            raise ShapeError(f"theta: length {theta.shape[0]}, expected {self.model.n_params}")
        self.theta[...] = theta

    def forward(self, x):
        """The model's output [B, ...output_shape] for x [B, ...input_shape]."""
        return self.be.model_forward_f32(self.theta, x, self.model)

    def loss(self, x, target):
        """The loss (np.float32) of the current parameters on a batch."""
        check_model_call(self.model, self.theta, x, target)
        pred = self.forward(x)
        if self.model.loss == "softmax_xent":
            return self.be.softmax_xent_loss_f32(pred, target)[0]
        return self.be.mse_loss_f32(pred, target)[0]

    def loss_and_grad(self, x, target):
        """Forward, loss and backward on a batch; the gradient overwrites self.grad.
        Returns the loss (np.float32, the mean over the batch)."""
        loss, grad = self.be.model_backward_f32(self.theta, x, target, self.model)
        self.grad[...] = grad
        return loss

    def sgd_step(self, x, target, lr, mode=None):
        """One SGD step on a batch, in place: theta -= lr * grad. Returns the loss before it.
        `mode` (MODES) defaults to "fused" for one sample and "grad" for a batch: all give the
        same bits."""
        if mode is None:
            mode = "fused" if getattr(x, "shape", (0,))[0] == 1 else "grad"
        return self.be.model_train_step_f32(self.theta, x, target, self.model, lr, mode)

    def fit(self, x, target, steps, lr, batch=None):
        """`steps` SGD steps over (x, target) in mini-batches of `batch` (default: all of it),
        taken in order and wrapping around; no randomness. Returns the losses.
        steps >= 0 and batch >= 1 (when given) are integers."""
        n = check_model_call(self.model, self.theta, x, target)
        steps = ck.int_param("steps", steps, 0)
        batch = n if batch is None else min(ck.int_param("batch", batch, 1), n)
        losses = []
        start = 0
        for _ in range(steps):
            if batch == n:
                xb, tb = x, target
            else:
                idx = (np.arange(batch) + start) % n
                xb, tb = x[idx], target[idx]
                start = (start + batch) % n
            losses.append(self.sgd_step(xb, tb, lr))
        return losses
