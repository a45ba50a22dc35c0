"""A sequential model on the kernels: a layer table, one flat float32 parameter buffer,
forward / backward / SGD at any batch size on either backend, and the device memory plan.

    model = Model((1,), [Dense(64), Tanh(), Dense(64), Tanh(), Dense(1)], loss="mse")
    theta = model.init(np.random.default_rng(0))          # flat float32 [n_params]
    ws = model.workspace(get_backend("c"))                # parameter + gradient buffers
    ws.load(theta); ws.sgd_step(x, y, lr=0.02)            # one training step, in place
    model.memory_plan(batch=1).ram                        # bytes a device needs for it

Parameter layout. Layers own parameters in table order; each owns its weight, row-major in
the kernel's layout (dense w [O, I], conv1d w [C_out, K, C_in]), then its bias [O] / [C_out].
So SGD (tr_sgd_step_f32) and the Reptile interpolation are one kernel call over the buffer.

Step order (the C runtime of issue 6 keeps it, so both give the same bits):
  1. forward, layer by layer; every layer's output is a fresh tensor;
  2. loss and its gradient dpred (mse_loss_f32 or softmax_xent_loss_f32, mean over batch);
  3. backward from the last layer to the first parametric one: dense/conv1d compute
     (dx, dw, db) from (dy, x, w) with the weights of step 1 and dw, db overwrite their
     slices of the gradient buffer; ReLU and tanh map dy to dx from their OUTPUT y
     (relu'(x) > 0 exactly when y = relu(x) > 0, and tanh' = 1 - y*y), so they can work in
     place on a device; flatten is a reshape; the first parametric layer's dx is not needed;
  4. SGD: theta[j] -= lr*grad[j] over the whole buffer (one kernel call).
Parameters of layers without a gradient in step 3 do not exist (only dense and conv1d have
parameters), so every gradient entry is written in every step.
"""
from dataclasses import dataclass

import numpy as np

from . import _checks as ck
from .errors import ParameterError, ShapeError

F32 = np.float32

#: Layer kinds in the order of their codes (a C runtime's layer table uses the same codes).
KINDS = ("dense", "conv1d", "relu", "tanh", "flatten")
#: Loss kinds in the order of their codes.
LOSSES = ("mse", "softmax_xent")
#: Padding modes of conv1d in the order of the kernels' codes (TR_PAD_VALID, TR_PAD_SAME).
PADDINGS = ("valid", "same")


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
    """Bytes a device needs for one training step of `batch` samples, with `stored` samples
    held in RAM (1 for a streaming device; k for a device that stores its k samples).

    The rules (a static arena, as a C runtime lays it out):
      params      4 * n_params, the flat float32 buffer theta (trained in place into phi);
      grads       4 * n_params, the gradient buffer SGD reads;
      activations 4 * batch * (sum of the output sizes of the dense and conv1d layers):
                  each such output is kept for backward (it is the next layer's input, a
                  ReLU/tanh output, or the prediction the loss reads); ReLU and tanh work in
                  place on it, flatten aliases it;
      deltas      the backward pass's gradient tensors dpred, then the dx of each
                  parametric layer after the first, alternate between two buffers (the
                  elementwise layers work in place); each buffer is as large as the largest
                  tensor it holds: 4 * batch * (max over even + max over odd);
      samples     stored * (4 * input size + target bytes): target 4 * output size for mse,
                  one int32 label for softmax cross-entropy; a mini-batch is a view of the
                  store, not a copy;
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

    @property
    def ram(self):
        return self.params + self.grads + self.activations + self.deltas + self.samples

    def as_dict(self):
        return {"batch": self.batch, "stored_samples": self.stored, "params": self.params,
                "grads": self.grads, "activations": self.activations, "deltas": self.deltas,
                "samples": self.samples, "ram": self.ram, "flash": self.flash}


# --------------------------------------------------------------------------------- model

class Model:
    """A sequential model: input shape per sample, a layer table, a loss.

    `layers` is a list of Dense, Conv1d, ReLU, Tanh, Flatten; `loss` is "mse" (targets the
    output's shape, float32) or "softmax_xent" (int32 labels; the output is [classes]).
    """

    def __init__(self, input_shape, layers, loss="mse"):
        if loss not in LOSSES:
            raise ParameterError(f"loss: {loss!r} is not one of {', '.join(LOSSES)}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.loss = loss
        table = []
        shape = self.input_shape
        off = 0
        for i, spec in enumerate(layers):
            row, off = _make_layer(i, spec, shape, off)
            table.append(row)
            shape = row.out_shape
        self.layers = tuple(table)
        self.output_shape = shape
        self.n_params = off
        if loss == "softmax_xent" and len(shape) != 1:
            raise ShapeError(f"loss: softmax_xent needs a 1-D output per sample, got {shape}")
        params = [L.index for L in self.layers if L.has_params]
        self.first_param_layer = params[0] if params else len(self.layers)

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

    def sample_bytes(self):
        """Bytes of one stored sample: the input as float32 and the target (float32 of the
        output's shape for mse, one int32 label for softmax cross-entropy)."""
        target = 4 * _prod(self.output_shape) if self.loss == "mse" else 4
        return 4 * _prod(self.input_shape) + target

    def memory_plan(self, batch=1, stored=None):
        """The MemoryPlan of one training step at `batch` samples with `stored` samples in RAM
        (default: the batch itself, so batch 1 holds one sample)."""
        batch = ck.int_param("batch", batch, 1)
        stored = batch if stored is None else ck.int_param("stored", stored, 1)
        if stored < batch:
            raise ParameterError(f"stored: {stored} samples cannot feed a batch of {batch}")
        p = 4 * self.n_params
        acts = sum(_prod(L.out_shape) for L in self.layers if L.has_params)
        # delta tensors in the order backward makes them: dpred, then each parametric
        # layer's dx from the last such layer down to (not including) the first.
        deltas = [_prod(self.output_shape)] if self.first_param_layer < len(self.layers) else []
        for L in reversed(self.layers[self.first_param_layer + 1:]):
            if L.has_params:
                deltas.append(_prod(L.in_shape))
        d = max(deltas[0::2], default=0) + max(deltas[1::2], default=0)
        return MemoryPlan(batch=batch, stored=stored, params=p, grads=p,
                          activations=4 * batch * acts, deltas=4 * batch * d,
                          samples=stored * self.sample_bytes(), flash=p)

    def step_macs(self, batch=1):
        """Multiply-accumulates of one training step at `batch` samples: forward (dense and
        conv1d taps), backward dw (the same count) and dx (the same count, except the first
        parametric layer, whose dx is not needed), and the SGD update (one per parameter)."""
        fwd = sum(L.macs for L in self.layers)
        dx = sum(L.macs for L in self.layers[self.first_param_layer + 1:])
        return batch * (2 * fwd + dx) + self.n_params

    def forward_macs(self, batch=1):
        return batch * sum(L.macs for L in self.layers)


def _make_layer(i, spec, shape, off):
    kind = getattr(spec, "kind", None)
    if kind == "dense":
        units = ck.int_param(f"layers[{i}].units", spec.units, 1)
        if len(shape) != 1:
            raise ShapeError(f"layers[{i}]: dense needs a 1-D input per sample, got {shape} "
                             f"(put a Flatten() before it)")
        I = shape[0]
        row = Layer(i, kind, shape, (units,), w_off=off, w_shape=(units, I),
                    b_off=off + units * I, b_len=units, macs=units * I)
        return row, off + units * I + units
    if kind == "conv1d":
        C_out = ck.int_param(f"layers[{i}].filters", spec.filters, 1)
        K = ck.int_param(f"layers[{i}].kernel_size", spec.kernel_size, 1)
        stride = ck.int_param(f"layers[{i}].stride", spec.stride, 1)
        dilation = ck.int_param(f"layers[{i}].dilation", spec.dilation, 1)
        if spec.padding not in PADDINGS:
            raise ParameterError(f"layers[{i}].padding: {spec.padding!r} is not one of 'valid', 'same'")
        if len(shape) != 2:
            raise ShapeError(f"layers[{i}]: conv1d needs a [L, C_in] input per sample, got {shape}")
        L_in, C_in = shape
        from .conv1d import conv1d_out_len  # the geometry is the kernels' own rule
        L_out, pad = conv1d_out_len(L_in, K, stride, dilation, spec.padding)
        if L_out < 1:
            raise ShapeError(f"layers[{i}]: conv1d over length {L_in} with kernel span "
                             f"{(K - 1) * dilation + 1} has no output")
        taps = sum(1 for t in range(L_out) for k in range(K)
                   if 0 <= t * stride + k * dilation - pad < L_in)
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


# ----------------------------------------------------------------------------- workspace

class Workspace:
    """A device's training buffers for one model on one backend: the flat parameter buffer
    `theta` and the flat gradient buffer `grad` (float32, n_params each), with per-layer
    views into both made once. Forward, backward and SGD run on any batch size."""

    def __init__(self, model, backend, theta=None):
        self.model = model
        self.be = backend
        self.theta = np.zeros(model.n_params, F32)
        self.grad = np.zeros(model.n_params, F32)
        self._pv = model.views(self.theta)
        self._gv = model.views(self.grad)
        self._softmax = model.loss == "softmax_xent"
        if theta is not None:
            self.load(theta)

    def load(self, theta):
        """Copy a parameter vector in (what a device does with the θ it receives)."""
        ck.f32("theta", theta, 1)
        if theta.shape[0] != self.model.n_params:
            raise ShapeError(f"theta: length {theta.shape[0]}, expected {self.model.n_params}")
        self.theta[...] = theta

    def _check_x(self, x):
        ck.f32("x", x)
        if x.shape[1:] != self.model.input_shape or x.ndim != 1 + len(self.model.input_shape):
            raise ShapeError(f"x: shape {x.shape}, expected (batch,) + {self.model.input_shape}")

    def _check_target(self, x, target):
        B = x.shape[0]
        if self._softmax:
            ck.array("target", target, ck.I32, 1)
            if target.shape[0] != B:
                raise ShapeError(f"target: {target.shape[0]} labels for a batch of {B}")
        else:
            ck.f32("target", target)
            if target.shape != (B,) + self.model.output_shape:
                raise ShapeError(f"target: shape {target.shape}, expected "
                                 f"{(B,) + self.model.output_shape}")

    def forward(self, x):
        """The model's output [B, ...output_shape] for x [B, ...input_shape]."""
        self._check_x(x)
        return self._forward(x, None)

    def _forward(self, x, keep):
        be = self.be
        a = x
        for L, pv in zip(self.model.layers, self._pv):
            k = L.kind
            if k == "dense":
                a = be.dense_forward_f32(a, pv[0], pv[1])
            elif k == "conv1d":
                a = be.conv1d_forward_f32(a, pv[0], pv[1], L.stride, L.dilation, L.padding)
            elif k == "tanh":
                a = be.tanh_forward_f32(a)
            elif k == "relu":
                a = be.relu_forward_f32(a)
            else:  # flatten
                a = a.reshape(a.shape[0], -1)
            if keep is not None:
                keep.append(a)
        return a

    def loss(self, x, target):
        """The loss (np.float32) of the current parameters on a batch."""
        self._check_target(x, target)
        return self._loss(self.forward(x), target)[0]

    def _loss(self, pred, target):
        if self._softmax:
            return self.be.softmax_xent_loss_f32(pred, target)
        return self.be.mse_loss_f32(pred, target)

    def loss_and_grad(self, x, target):
        """Forward, loss and backward on a batch; the gradient overwrites self.grad.
        Returns the loss (np.float32, the mean over the batch)."""
        self._check_x(x)
        self._check_target(x, target)
        be = self.be
        layers = self.model.layers
        acts = []
        pred = self._forward(x, acts)
        loss, d = self._loss(pred, target)
        stop = self.model.first_param_layer
        for i in range(len(layers) - 1, stop - 1, -1):
            L = layers[i]
            k = L.kind
            if k == "dense" or k == "conv1d":
                xin = acts[i - 1] if i > 0 else x
                w = self._pv[i][0]
                if k == "dense":
                    dx, dw, db = be.dense_backward_f32(d, xin, w)
                else:
                    dx, dw, db = be.conv1d_backward_f32(d, xin, w, L.stride, L.dilation, L.padding)
                gw, gb = self._gv[i]
                gw[...] = dw
                gb[...] = db
                d = dx
            elif k == "tanh":
                d = be.tanh_backward_f32(d, acts[i])
            elif k == "relu":
                d = be.relu_backward_f32(d, acts[i])  # from y: y > 0 exactly when x > 0
            else:  # flatten
                d = d.reshape((d.shape[0],) + L.in_shape)
        return loss

    def sgd_step(self, x, target, lr):
        """One SGD step on a batch, in place: theta -= lr * grad. Returns the loss before it."""
        loss = self.loss_and_grad(x, target)
        self.be.sgd_step_f32(self.theta, self.grad, lr)
        return loss

    def fit(self, x, target, steps, lr, batch=None):
        """`steps` SGD steps over (x, target) in mini-batches of `batch` (default: all of it),
        taken in order and wrapping around; no randomness. Returns the losses."""
        n = x.shape[0]
        batch = n if batch is None else min(batch, n)
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
