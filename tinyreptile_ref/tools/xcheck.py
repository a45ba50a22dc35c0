"""xcheck: where a device's numbers leave the reference, and why.

    python -m tinyreptile_ref xcheck TRACE              # a device's trace (docs/trace-format.md)
    python -m tinyreptile_ref xcheck --theta PHI JOB    # a device's final theta and the run's job
    python -m tinyreptile_ref xcheck job --out JOB ...  # write a job for a traced device round
    python -m tinyreptile_ref xcheck case ID --out JOB  # the job of a runner's failing case

A trace carries the job it ran (model table, theta, samples, lr, mode), so the reference
recomputes the same round with the NumPy twin (runtime/model.py), record by record. xcheck
prints the FIRST record that differs (step, layer, tensor, element as [o][i] / [co][k][ci]),
both values, their ulp distance and the operands of that element's computation, then
recomputes the element under the usual culprits and names the one that reproduces the
device's bits exactly:

  fma          a*b+c contracted into one fused multiply-add (one rounding)
  ftz          subnormal inputs and results flushed to zero (FPSCR.FZ, MXCSR FTZ/DAZ)
  extended     the sum kept in float64 (or the x87's 80 bits) and rounded once
  reversed, pairwise, lanes4, lanes8   another reduction order (as a vectoriser would)
  libm-tanhf   the C library's tanhf in place of the library's own

A culprit counts when it reproduces every element of the diverging tensor; when several do,
the later tensors of the same step (recomputed from the device's own operands) decide; when
none does, xcheck says so and shows the nearest.

The ulp distance of two float32 values: their bit patterns mapped to a monotone integer
line (negative values mirrored below +0, so -0 and +0 are the same point, 0 ulp apart) and
subtracted, device minus reference; the sign says which way the device is off. Infinities
sit one step beyond the largest finite value. Two NaNs are equal (0 ulp, whatever their
payloads); a NaN against a number has no distance (printed as "nan").
"""
import argparse
import ctypes
import ctypes.util
import struct
import sys
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import ParameterError, TinyReptileError
from ..runtime import model as rt

F32 = np.float32
JOB_MAGIC = 0x424F4A54    # "TJOB"
TRACE_MAGIC = 0x43525454  # "TTRC"
VERSION = 1
TRACE_END = 255
JOB_HEADER_WORDS = 14
RECORD_WORDS = 10
TENSORS = rt.TRACE_TENSORS
MODES = rt.MODES


class TraceError(TinyReptileError, ValueError):
    """A trace or job file that is not version 1 of docs/trace-format.md."""


# ------------------------------------------------------------------------------ bits, ulps

def f32(v):
    return np.float32(v)


def f32_bits(v):
    return int(np.array(v, F32).view(np.uint32))


def from_bits(u):
    return np.array(u & 0xFFFFFFFF, np.uint32).view(F32)[()]


def _ordinal(u):
    """A float32's bits on a monotone integer line, +0 and -0 both at 0."""
    return u if u < 0x80000000 else -(u - 0x80000000)


def ulp_distance(got, want):
    """Signed ulp distance got - want (module docstring's rule); None for NaN vs number."""
    g, w = f32(got), f32(want)
    if np.isnan(g) or np.isnan(w):
        return 0 if np.isnan(g) and np.isnan(w) else None
    return _ordinal(f32_bits(g)) - _ordinal(f32_bits(w))


def same_bits(a, b):
    a, b = f32(a), f32(b)
    if np.isnan(a) and np.isnan(b):
        return True
    return f32_bits(a) == f32_bits(b)


def fmt(v):
    v = f32(v)
    return f"0x{f32_bits(v):08x} ({float(v):.9g})"


def fnv1a(a):
    """FNV-1a 32 over the little-endian bytes of a float32 array (the trace's digest)."""
    h = 2166136261
    for byte in np.ascontiguousarray(a, "<f4").tobytes():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


# ------------------------------------------------------------------------------ job, trace

@dataclass
class Job:
    """A traced TinyReptile device round: what the device and the reference both compute."""
    model: rt.Model
    theta: np.ndarray
    x: np.ndarray
    target: np.ndarray
    lr: np.float32
    mode: str = "fused"
    compact: bool = False
    drill: tuple = (-1, 0, 0)  # (step, layer, tensor) written in full in compact mode

    def to_bytes(self):
        m = self.model
        loss = rt.LOSSES.index(m.loss)
        head = [JOB_MAGIC, VERSION, MODES.index(self.mode), len(self.x), f32_bits(self.lr),
                int(self.compact), *self.drill, len(m.layers), m.n_params, loss, 0, 0]
        out = struct.pack("<14i", *[v - (1 << 32) if v >= 1 << 31 else v for v in head])
        out += m.layer_table().astype("<i4").tobytes()
        out += np.ascontiguousarray(self.theta, "<f4").tobytes()
        out += np.ascontiguousarray(self.x, "<f4").tobytes()
        if m.loss == "mse":
            out += np.ascontiguousarray(self.target, "<f4").tobytes()
        else:
            out += np.ascontiguousarray(self.target, "<i4").tobytes()
        return out

    @classmethod
    def from_bytes(cls, data):
        if len(data) < 4 * JOB_HEADER_WORDS:
            raise TraceError("job: shorter than its header")
        h = struct.unpack_from("<14i", data)
        if h[0] != JOB_MAGIC or h[1] != VERSION:
            raise TraceError(f"job: not a version-{VERSION} job (magic {h[0]:#x}, version {h[1]})")
        mode, k, lrbits, flags, ds, dl, dt, nl, n_params, loss = h[2:12]
        if not 0 <= mode < len(MODES) or k < 0 or not 1 <= nl <= 64 or loss not in (0, 1):
            raise TraceError("job: bad header fields")
        off = 4 * JOB_HEADER_WORDS
        table = np.frombuffer(data, "<i4", 13 * nl, off).reshape(nl, 13).astype(np.int32)
        off += 52 * nl
        model = rt.Model.from_table(table, rt.LOSSES[loss])
        if model.n_params != n_params:
            raise TraceError("job: n_params does not match the table")
        in_n, out_n = rt._prod(model.input_shape), rt._prod(model.output_shape)
        tgt = out_n if loss == 0 else 1
        need = off + 4 * (n_params + k * (in_n + tgt))
        if len(data) < need:
            raise TraceError(f"job: {len(data)} bytes, its header promises {need}")
        theta = np.frombuffer(data, "<f4", n_params, off).astype(F32)
        off += 4 * n_params
        x = np.frombuffer(data, "<f4", k * in_n, off).astype(F32).reshape((k,) + model.input_shape)
        off += 4 * k * in_n
        if loss == 0:
            target = np.frombuffer(data, "<f4", k * out_n, off).astype(F32)
            target = target.reshape((k,) + model.output_shape)
        else:
            target = np.frombuffer(data, "<i4", k, off).astype(np.int32)
        return cls(model, theta, x, target, from_bits(lrbits), MODES[mode], bool(flags & 1),
                   (ds, dl, dt))


@dataclass
class Record:
    step: int
    layer: int
    tensor: int
    shape: tuple
    digest: int
    data: np.ndarray = None  # None in compact mode (only the digest travelled)

    @property
    def key(self):
        return (self.step, self.layer, self.tensor)


@dataclass
class Trace:
    job: Job
    compact: bool
    records: list = field(default_factory=list)
    status: int = 0


def read_trace(data):
    """A Trace from a trace file's bytes (docs/trace-format.md); TraceError when malformed."""
    if len(data) < 16:
        raise TraceError("trace: shorter than its header")
    magic, version, flags, job_len = struct.unpack_from("<4i", data)
    if magic != TRACE_MAGIC or version != VERSION:
        raise TraceError(f"trace: not a version-{VERSION} trace (magic {magic & 0xFFFFFFFF:#x}, "
                         f"version {version})")
    if job_len < 0 or 16 + job_len > len(data):
        raise TraceError("trace: the job's length runs past the end")
    job = Job.from_bytes(data[16:16 + job_len])
    off = 16 + (job_len + 3) // 4 * 4
    tr = Trace(job, bool(flags & 1))
    while True:
        if off + 4 * RECORD_WORDS > len(data):
            raise TraceError(f"trace: cut off after {len(tr.records)} records (no end record)")
        w = struct.unpack_from("<10i", data, off)
        off += 4 * RECORD_WORDS
        step, layer, tensor, rank, d0, d1, d2, n, digest, full = w
        if tensor == TRACE_END:
            tr.status = step
            return tr
        if not 0 <= tensor < len(TENSORS) or not 1 <= rank <= 3 or n != d0 * d1 * d2 or n < 0:
            raise TraceError(f"trace: record {len(tr.records)}: bad header {w}")
        shape = (d0, d1, d2)[:rank]
        a = None
        if full:
            if off + 4 * n > len(data):
                raise TraceError(f"trace: record {len(tr.records)}: data runs past the end")
            a = np.frombuffer(data, "<f4", n, off).astype(F32).reshape(shape)
            off += 4 * n
        tr.records.append(Record(step, layer, tensor, shape, digest & 0xFFFFFFFF, a))


def write_trace(job, records, status=0):
    """The bytes of a full-mode trace of `records` (the format trace_fw.c writes)."""
    jb = job.to_bytes()
    out = struct.pack("<4i", TRACE_MAGIC, VERSION, 0, len(jb)) + jb + b"\0" * (-len(jb) % 4)
    for r in records:
        d = np.ascontiguousarray(r.data, "<f4")
        dims = list(r.shape) + [1] * (3 - len(r.shape))
        dg = r.digest - (1 << 32) if r.digest >= 1 << 31 else r.digest
        out += struct.pack("<10i", r.step, r.layer, r.tensor, len(r.shape), *dims, d.size, dg, 1)
        out += d.tobytes()
    return out + struct.pack("<10i", status, 0, TRACE_END, 0, 0, 0, 0, 0, 0, 0)


@dataclass
class Reference:
    records: list
    theta_before: list  # theta at the start of each step
    phi: np.ndarray


def reference(job):
    """The NumPy twin's records of the job's round (tr_tinyreptile_device_round_traced_f32's)."""
    recs, before = [], []
    phi = job.theta.copy()
    for j in range(len(job.x)):  # one step at a time, for theta before each step
        before.append(phi.copy())
        phi, _ = rt.tinyreptile_device_round_f32(
            phi, job.x[j:j + 1], job.target[j:j + 1], job.model, job.lr, job.mode,
            trace=lambda s, layer, t, a, j=j: recs.append(
                Record(j, layer, t, a.shape, fnv1a(a), a)))
    return Reference(recs, before, phi)


# ------------------------------------------------------------------------------ arithmetic

def _fr(v):
    return Fraction(float(v))


def round_f32(q):
    """A rational rounded once to float32, to nearest even (exact, no double rounding)."""
    d = float(q)  # nearest double; only a double exactly halfway between floats misleads
    c = np.float32(d)
    if np.isinf(c) or Fraction(d) == _fr(c):
        return c
    lo, hi = (c, np.nextafter(c, F32(np.inf))) if _fr(c) < q else (np.nextafter(c, F32(-np.inf)), c)
    mid = (_fr(lo) + _fr(hi)) / 2
    if q < mid:
        return lo
    if q > mid:
        return hi
    return lo if f32_bits(lo) % 2 == 0 else hi


def fma32(a, b, c):
    """fmaf(a, b, c): a*b+c with one rounding."""
    a, b, c = f32(a), f32(b), f32(c)
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)):
        with np.errstate(all="ignore"):
            return f32(float(a) * float(b) + float(c))
    q = _fr(a) * _fr(b) + _fr(c)
    if q == 0:  # the sign of an exact zero: that of a*b + c in round to nearest
        with np.errstate(all="ignore"):
            return f32(a * b) + c
    return round_f32(q)


def _ftz(v):
    v = f32(v)
    if v != 0 and abs(v) < np.finfo(F32).tiny:
        return F32(-0.0) if np.signbit(v) else F32(0.0)
    return v


class Arith:
    """float32 operations of one culprit (plain: the numerics contract)."""

    def __init__(self, ftz=False):
        self.ftz = ftz

    def _o(self, v):
        return _ftz(v) if self.ftz else f32(v)

    def _i(self, v):
        return _ftz(v) if self.ftz else f32(v)

    def mul(self, a, b):
        with np.errstate(all="ignore"):
            return self._o(self._i(a) * self._i(b))

    def add(self, a, b):
        with np.errstate(all="ignore"):
            return self._o(self._i(a) + self._i(b))

    def sub(self, a, b):
        with np.errstate(all="ignore"):
            return self._o(self._i(a) - self._i(b))


PLAIN, FTZ = Arith(), Arith(ftz=True)


def A_div(A, a, b):
    with np.errstate(all="ignore"):
        return A._o(A._i(a) / A._i(b))


def _dot(init, pairs, how):
    """init + sum of a*b over pairs, evaluated the way `how` says."""
    A = FTZ if how == "ftz" else PLAIN
    if how in ("plain", "ftz"):
        acc = f32(init)
        for a, b in pairs:
            acc = A.add(acc, A.mul(a, b))
        return acc
    if how == "fma":
        acc = f32(init)
        for a, b in pairs:
            acc = fma32(a, b, acc)
        return acc
    if how == "extended":
        if not all(np.isfinite(v) for p in pairs for v in p) or not np.isfinite(init):
            return _dot(init, pairs, "plain")
        return round_f32(_fr(init) + sum((_fr(a) * _fr(b) for a, b in pairs), Fraction(0)))
    if how == "reversed":
        return _dot(init, pairs[::-1], "plain")
    prods = [PLAIN.mul(a, b) for a, b in pairs]
    if how == "pairwise":
        def pw(v):
            if len(v) == 0:
                return F32(0.0)
            if len(v) == 1:
                return v[0]
            h = len(v) // 2
            return PLAIN.add(pw(v[:h]), pw(v[h:]))
        return PLAIN.add(f32(init), pw(prods))
    if how in ("lanes4", "lanes8"):
        n = 4 if how == "lanes4" else 8
        lanes = [F32(0.0)] * n
        for i, p in enumerate(prods):
            lanes[i % n] = PLAIN.add(lanes[i % n], p)
        while len(lanes) > 1:
            lanes = [PLAIN.add(lanes[2 * i], lanes[2 * i + 1]) for i in range(len(lanes) // 2)]
        return PLAIN.add(f32(init), lanes[0])
    raise ValueError(how)


def _libm(fname):
    """The host C library's float function `fname` (tanhf, expf, logf), or None."""
    name = ctypes.util.find_library("m")
    if not name:
        return None
    try:
        fn = getattr(ctypes.CDLL(name), fname)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_float], ctypes.c_float
    return fn


_TANHF, _EXPF, _LOGF = _libm("tanhf"), _libm("expf"), _libm("logf")

DOT_CULPRITS = ("fma", "ftz", "extended", "reversed", "pairwise", "lanes4", "lanes8")
CULPRIT_TEXT = {
    "fma": "fused multiply-add contraction (a*b+c rounded once: -ffp-contract=fast on an FMA "
           "target)",
    "ftz": "flush-to-zero of subnormal inputs/results (FPSCR.FZ on Cortex-M, MXCSR FTZ/DAZ)",
    "extended": "extended-precision evaluation (the sum kept in float64/80-bit, rounded once)",
    "reversed": "another reduction order: reversed (i descending)",
    "pairwise": "another reduction order: pairwise (recursive halves)",
    "lanes4": "another reduction order: 4 partial sums (a 4-lane vectoriser)",
    "lanes8": "another reduction order: 8 partial sums (an 8-lane vectoriser)",
    "libm-tanhf": "libm's tanhf in place of the library's own tanh (csrc/mathf.c)",
    "libm-expf": "libm's expf in place of the library's own exp (csrc/mathf.c)",
    "libm-logf": "libm's logf in place of the library's own log (csrc/mathf.c)",
}


# ------------------------------------------------------------------------ element models

class Context:
    """Operands as the device used them: the device's records where it sent their data, the
    reference's where the digests agree (the same bits)."""

    def __init__(self, job, dev, ref):
        self.job, self.ref = job, ref
        self.dev = {r.key: r for r in dev.records}
        self.refmap = {r.key: r for r in ref.records}

    def data(self, key):
        d, r = self.dev.get(key), self.refmap.get(key)
        if d is not None and d.data is not None:
            return d.data
        if d is not None and r is not None and d.digest == r.digest:
            return r.data
        return None

    def params(self, step, layer):
        """(w, b) of `layer` at the start of `step` on the device."""
        if step == 0:
            w, b = self.job.model.views(self.job.theta)[layer]
            return w, b
        return self.data((step - 1, layer, rt.TRACE_W)), self.data((step - 1, layer, rt.TRACE_B))

    def layer_input(self, step, layer):
        if layer == 0:
            return self.job.x[step]
        return self.data((step, layer - 1, rt.TRACE_OUT))


def element_model(ctx, rec):
    """For a record whose elements xcheck can recompute: a function idx -> (operands text,
    {culprit: value}); None otherwise."""
    m = ctx.job.model
    L = m.layers[rec.layer] if rec.layer >= 0 else None
    if rec.tensor == rt.TRACE_OUT and L is not None and L.kind == "dense":
        w, b = ctx.params(rec.step, rec.layer)
        x = ctx.layer_input(rec.step, rec.layer)
        if w is None or b is None or x is None:
            return None
        x = np.asarray(x).reshape(-1)

        def ev(idx):
            o = idx[0]
            pairs = [(w[o, i], x[i]) for i in range(x.size)]
            out = {h: _dot(b[o], pairs, h) for h in ("plain",) + DOT_CULPRITS}
            ops = (f"y[{o}] = b[{o}] + sum over i ascending of w[{o}][i]*x[i], I = {x.size}; "
                   f"b[{o}] = {fmt(b[o])}; " + "; ".join(
                       f"w[{o}][{i}] = {fmt(w[o, i])}, x[{i}] = {fmt(x[i])}"
                       for i in range(min(x.size, 4))) + ("; ..." if x.size > 4 else ""))
            return ops, out
        return ev
    if rec.tensor == rt.TRACE_OUT and L is not None and L.kind == "conv1d":
        w, b = ctx.params(rec.step, rec.layer)
        x = ctx.layer_input(rec.step, rec.layer)
        if w is None or b is None or x is None:
            return None
        x = np.asarray(x).reshape(L.in_shape)

        def ev(idx):
            t, co = idx
            pairs, shown = [], []
            for k in range(w.shape[1]):
                p = t * L.stride + k * L.dilation - L.pad_before
                if 0 <= p < x.shape[0]:
                    for ci in range(x.shape[1]):
                        pairs.append((w[co, k, ci], x[p, ci]))
                        if len(shown) < 3:
                            shown.append(f"w[{co}][{k}][{ci}] = {fmt(w[co, k, ci])}, "
                                         f"x[{p}][{ci}] = {fmt(x[p, ci])}")
            out = {h: _dot(b[co], pairs, h) for h in ("plain",) + DOT_CULPRITS}
            ops = (f"y[{t}][{co}] = b[{co}] + sum over k ascending, then ci ascending (valid "
                   f"taps), of w[{co}][k][ci]*x[{t}*{L.stride} + k*{L.dilation} - "
                   f"{L.pad_before}][ci], {len(pairs)} terms; b[{co}] = {fmt(b[co])}; "
                   + "; ".join(shown) + ("; ..." if len(pairs) > 3 else ""))
            return ops, out
        return ev
    if rec.tensor == rt.TRACE_LOSS:
        last = len(m.layers) - 1
        pred = ctx.data((rec.step, last, rt.TRACE_OUT))
        if pred is None:
            return None
        pred = np.asarray(pred).reshape(-1)
        target = ctx.job.target[rec.step]
        if m.loss == "mse":
            t = np.asarray(target, F32).reshape(-1)

            def ev(idx):
                n = F32(pred.size)
                out = {}
                for h, A in (("plain", PLAIN), ("ftz", FTZ)):
                    acc = F32(0.0)
                    for j in range(pred.size):
                        d = A.sub(pred[j], t[j])
                        acc = A.add(acc, A.mul(d, d))
                    out[h] = A_div(A, acc, n)
                acc = F32(0.0)
                for j in range(pred.size):
                    d = PLAIN.sub(pred[j], t[j])
                    acc = fma32(d, d, acc)
                out["fma"] = A_div(PLAIN, acc, n)
                if np.isfinite(pred).all():
                    out["extended"] = round_f32(sum(((_fr(p) - _fr(q)) ** 2 for p, q in
                                                     zip(pred, t)), Fraction(0)) / pred.size)
                return (f"loss = (0 + sum over j ascending of (pred[j] - target[j])^2) / "
                        f"{pred.size}; pred[0] = {fmt(pred[0])}, target[0] = {fmt(t[0])}"), out
            return ev
        label = int(np.asarray(target).reshape(-1)[0])

        def ev(idx):
            from ..kernels import mathf
            own_exp = lambda v: mathf.exp_f32(np.array([v], F32))[0]  # noqa: E731
            own_log = lambda v: mathf.log_f32(np.array([v], F32))[0]  # noqa: E731
            variants = {"plain": (own_exp, own_log)}
            if _EXPF is not None:
                variants["libm-expf"] = (lambda v: f32(_EXPF(float(v))), own_log)
            if _LOGF is not None:
                variants["libm-logf"] = (own_exp, lambda v: f32(_LOGF(float(v))))
            out = {}
            for h, (ex, lg) in variants.items():
                mx = pred[0]
                for c in range(1, pred.size):
                    mx = pred[c] if pred[c] > mx else mx
                sm = F32(0.0)
                for c in range(pred.size):
                    sm = PLAIN.add(sm, ex(PLAIN.sub(pred[c], mx)))
                out[h] = PLAIN.add(F32(0.0), PLAIN.sub(lg(sm), PLAIN.sub(pred[label], mx)))
            return (f"loss = log(sum over c ascending of exp(z[c] - max z)) - (z[{label}] - "
                    f"max z), C = {pred.size}; z[0] = {fmt(pred[0])}"), out
        return ev
    if rec.tensor == rt.TRACE_DOUT and rec.layer == len(m.layers) - 1:
        return _dpred_model(ctx, rec)
    if rec.tensor == rt.TRACE_DOUT and rec.layer + 1 < len(m.layers):
        nxt = m.layers[rec.layer + 1]
        dy = ctx.data((rec.step, rec.layer + 1, rt.TRACE_DOUT))
        if dy is None:
            return None
        if nxt.kind == "dense":  # dx[i] = 0 + sum over o ascending of dy[o]*w[o][i]
            w, _ = ctx.params(rec.step, rec.layer + 1)
            if w is None:
                return None
            dyv = np.asarray(dy).reshape(-1)

            def ev(idx):
                i = int(np.ravel_multi_index(idx, rec.shape))
                pairs = [(dyv[o], w[o, i]) for o in range(dyv.size)]
                out = {h: _dot(F32(0.0), pairs, h) for h in ("plain",) + DOT_CULPRITS}
                ops = (f"dx[{i}] = 0 + sum over o ascending of dy[o]*w[o][{i}] (layer "
                       f"{rec.layer + 1}'s backward), O = {dyv.size}; " + "; ".join(
                           f"dy[{o}] = {fmt(dyv[o])}, w[{o}][{i}] = {fmt(w[o, i])}"
                           for o in range(min(dyv.size, 3))) + ("; ..." if dyv.size > 3 else ""))
                return ops, out
            return ev
        if nxt.kind == "tanh":  # dx = dy * (1 - y*y), y the tanh's output
            y = ctx.data((rec.step, rec.layer + 1, rt.TRACE_OUT))
            if y is None:
                return None

            def ev(idx):
                g, v = f32(dy[idx]), f32(y[idx])
                out = {}
                for h, A in (("plain", PLAIN), ("ftz", FTZ)):
                    out[h] = A.mul(g, A.sub(F32(1.0), A.mul(v, v)))
                out["fma"] = PLAIN.mul(g, fma32(-v, v, F32(1.0)))
                out["extended"] = round_f32(_fr(g) * (1 - _fr(v) * _fr(v))) if \
                    np.isfinite(g) and np.isfinite(v) else out["plain"]
                return (f"dx{list(idx)} = dy*(1 - y*y) (tanh backward), dy = {fmt(g)}, "
                        f"y = {fmt(v)}"), out
            return ev
        return None
    if rec.tensor == rt.TRACE_OUT and L is not None and L.kind in ("tanh", "relu"):
        xin = ctx.layer_input(rec.step, rec.layer)
        if xin is None:
            return None
        xin = np.asarray(xin)

        def ev(idx):
            v = f32(xin[idx])
            if L.kind == "tanh":
                from ..kernels import mathf
                own = mathf.tanh_f32(np.array([v], F32))[0]
                out = {"plain": own,
                       "ftz": _ftz(mathf.tanh_f32(np.array([_ftz(v)], F32))[0])}
                if _TANHF is not None:
                    out["libm-tanhf"] = f32(_TANHF(float(v)))
            else:
                out = {"plain": F32(0.0) if v < 0 else v, "ftz": _ftz(F32(0.0) if v < 0 else v)}
            return f"y{list(idx)} = {L.kind}(x{list(idx)}), x{list(idx)} = {fmt(v)}", out
        return ev
    if rec.tensor in (rt.TRACE_W, rt.TRACE_B) and L is not None and L.kind == "dense":
        w0, b0 = ctx.params(rec.step, rec.layer)
        dy = ctx.data((rec.step, rec.layer, rt.TRACE_DOUT))
        x = ctx.layer_input(rec.step, rec.layer)
        if w0 is None or dy is None or x is None:
            return None
        x, lr = np.asarray(x).reshape(-1), ctx.job.lr

        def ev(idx):
            if rec.tensor == rt.TRACE_W:
                o, i = idx
                old, g_a, g_b, name = w0[o, i], dy[o], x[i], f"w[{o}][{i}]"
            else:
                o, = idx
                old, g_a, g_b, name = b0[o], dy[o], F32(1.0), f"b[{o}]"
            out = {}
            for h, A in (("plain", PLAIN), ("ftz", FTZ)):
                g = A.add(F32(0.0), A.mul(g_a, g_b))
                out[h] = A.sub(old, A.mul(lr, g))
            g = fma32(g_a, g_b, F32(0.0))
            out["fma"] = fma32(-lr, g, old)
            out["extended"] = round_f32(_fr(old) - _fr(lr) * _fr(g_a) * _fr(g_b)) if all(
                np.isfinite([old, g_a, g_b, lr])) else out["plain"]
            ops = (f"{name}' = {name} - lr*(0 + dy[{o}]*x), {name} = {fmt(old)}, "
                   f"dy[{o}] = {fmt(g_a)}, x = {fmt(g_b)}, lr = {fmt(lr)}")
            return ops, out
        return ev
    return None


# ------------------------------------------------------------------------------ the check

def _dpred_model(ctx, rec):
    """The loss' gradient dpred (the last layer's DOUT), elementwise."""
    from ..kernels import mathf
    m = ctx.job.model
    pred = ctx.data((rec.step, len(m.layers) - 1, rt.TRACE_OUT))
    if pred is None:
        return None
    pred = np.asarray(pred).reshape(-1)
    target = ctx.job.target[rec.step]
    if m.loss == "mse":
        t = np.asarray(target, F32).reshape(-1)
        scale = F32(2.0) / F32(pred.size)

        def ev(idx):
            j = int(np.ravel_multi_index(idx, rec.shape))
            out = {h: A.mul(A.sub(pred[j], t[j]), scale) for h, A in (("plain", PLAIN),
                                                                       ("ftz", FTZ))}
            return (f"dpred[{j}] = (pred[{j}] - target[{j}]) * (2/{pred.size}), pred = "
                    f"{fmt(pred[j])}, target = {fmt(t[j])}"), out
        return ev
    label = int(np.asarray(target).reshape(-1)[0])
    exps = {"plain": lambda v: mathf.exp_f32(np.array([v], F32))[0]}
    if _EXPF is not None:
        exps["libm-expf"] = lambda v: f32(_EXPF(float(v)))

    def ev(idx):
        c = int(np.ravel_multi_index(idx, rec.shape))
        out = {}
        for h, ex in exps.items():
            mx = pred[0]
            for q in range(1, pred.size):
                mx = pred[q] if pred[q] > mx else mx
            sm = F32(0.0)
            for q in range(pred.size):
                sm = PLAIN.add(sm, ex(PLAIN.sub(pred[q], mx)))
            p = A_div(PLAIN, ex(PLAIN.sub(pred[c], mx)), sm)
            if c == label:
                p = PLAIN.sub(p, F32(1.0))
            out[h] = A_div(PLAIN, p, F32(1.0))
        return (f"dz[{c}] = exp(z[{c}] - max z) / (sum over q ascending of exp(z[q] - max z))"
                f"{' - 1' if c == label else ''}, z[{c}] = {fmt(pred[c])}"), out
    return ev


def _name(model, rec):
    if rec.layer < 0:
        return f"step {rec.step}, loss"
    L = model.layers[rec.layer]
    return f"step {rec.step}, layer {rec.layer} ({L.kind}), {TENSORS[rec.tensor]}"


def _index_text(model, rec, idx):
    if rec.tensor == rt.TRACE_W:
        names = ("o", "i") if len(idx) == 2 else ("co", "k", "ci")
    else:
        names = ("o",) if len(idx) == 1 else ("t", "c")
    return "".join(f"[{v}]" for v in idx) + " (" + "][".join(names).join("[]") + ")"


def _differs(a, b):
    ua = np.where(np.isnan(a), 0x7FC00000, a.view(np.uint32))
    ub = np.where(np.isnan(b), 0x7FC00000, b.view(np.uint32))
    return ua != ub


def _score(ctx, rec, ev, devdata):
    """Per culprit: elements of rec reproduced, of all."""
    hits = {}
    for idx in np.ndindex(*rec.shape):
        _, out = ev(idx)
        for h, v in out.items():
            if h != "plain":
                hits[h] = hits.get(h, 0) + same_bits(v, devdata[idx])
    return hits, int(np.prod(rec.shape))


def check(dev, ref=None, out=None):
    """Compares a device Trace with the reference; prints the report; returns a dict with
    'diverged' (bool), 'record', 'index', 'culprit' (None when none reproduces), 'drill'."""
    out = out or sys.stdout
    job = dev.job
    ref = ref or reference(job)
    model = job.model
    say = lambda s="": print(s, file=out)  # noqa: E731
    say(f"xcheck: {len(dev.records)} device records ({'compact' if dev.compact else 'full'}), "
        f"{len(ref.records)} reference records; model {model!r}, k {len(job.x)}, "
        f"lr {fmt(job.lr)}, mode {job.mode}")
    if dev.status != 0:
        say(f"the device's round ended with status {dev.status}")
    result = {"diverged": False, "record": None, "index": None, "culprit": None, "drill": None}
    first = None
    for n, (d, r) in enumerate(zip(dev.records, ref.records)):
        if d.key != r.key or tuple(d.shape) != tuple(r.shape):
            say(f"record {n}: the device sent {d.key} {d.shape}, the reference {r.key} {r.shape}:"
                " the two runtimes do not take the same steps")
            result["diverged"] = True
            return result
        if d.digest != r.digest:
            first = (n, d, r)
            break
    if first is None:
        if len(dev.records) != len(ref.records):
            say(f"the device sent {len(dev.records)} records, the reference makes "
                f"{len(ref.records)}")
            result["diverged"] = True
        else:
            say("no divergence: every record has the reference's bits")
        return result
    n, d, r = first
    result.update(diverged=True, record=d.key)
    say(f"FIRST DIVERGENCE at record {n}: {_name(model, d)} {list(d.shape)}")
    if d.data is None:
        result["drill"] = d.key
        say(f"  digests differ (device {d.digest:#010x}, reference {r.digest:#010x}); the trace "
            f"is compact: rerun the device with --drill {d.step},{d.layer},{d.tensor} for "
            f"this record's data")
        return result
    diff = _differs(d.data, r.data)
    idxs = [tuple(int(v) for v in i) for i in np.argwhere(diff)]
    idx = idxs[0]
    result["index"] = idx
    ulps = [ulp_distance(d.data[i], r.data[i]) for i in idxs]
    finite = [u for u in ulps if u is not None]
    say(f"  {len(idxs)} of {d.data.size} values differ"
        + (f", ulp distances {min(finite)} to {max(finite)}" if finite else ""))
    say(f"  first element {_index_text(model, d, idx)}: device {fmt(d.data[idx])}, "
        f"reference {fmt(r.data[idx])}, {ulp_distance(d.data[idx], r.data[idx])} ulp")
    ctx = Context(job, dev, ref)
    ev = element_model(ctx, d)
    if ev is None:
        say("  diagnosis: xcheck has no element model for this tensor; no culprit tested")
        return result
    ops, vals = ev(idx)
    say(f"  operands: {ops}")
    say("  recomputed under each culprit (first element):")
    for h, v in vals.items():
        mark = "  <- device" if same_bits(v, d.data[idx]) else ""
        say(f"    {h:11s} {fmt(v)}{mark}")
    hits, total = _score(ctx, d, ev, d.data)
    full = [h for h in hits if hits[h] == total]
    if len(full) > 1:
        full = _tiebreak(ctx, dev, n, full)
    if full:
        result["culprit"] = full[0]
        say(f"DIAGNOSIS: {CULPRIT_TEXT[full[0]]}: reproduces all {total} values of "
            f"{_name(model, d)} bit for bit")
        if len(full) > 1:
            say(f"  equally consistent with this step's records: {', '.join(full[1:])}")
    else:
        best = max(hits, key=lambda h: hits[h])
        say(f"DIAGNOSIS: none of the culprits reproduces the device's bits; nearest: {best} "
            f"({hits[best]} of {total} values), " + ", ".join(
                f"{h} {hits[h]}" for h in hits if h != best))
    return result


def _tiebreak(ctx, dev, start, cands):
    """Among culprits that all reproduce one tensor: keep those that also reproduce the later
    recomputable tensors of the same step (from the device's own operands)."""
    step = dev.records[start].step
    for rec in dev.records[start + 1:]:
        if rec.step != step or len(cands) == 1:
            break
        if rec.data is None:
            continue
        ev = element_model(ctx, rec)
        if ev is None:
            continue
        hits, total = _score(ctx, rec, ev, rec.data)
        keep = [h for h in cands if hits.get(h, 0) == total]
        if keep and len(keep) < len(cands):
            cands = keep
    return cands


def check_theta(job, phi, out=None):
    """A device's final theta against the reference's: per tensor, the values that differ,
    the first one's index, both values and their ulp distance."""
    out = out or sys.stdout
    ref = reference(job)
    model = job.model
    bad = 0
    for L in model.layers:
        if not L.has_params:
            continue
        for name, dv, rv in (("w", *[model.views(a)[L.index][0] for a in (phi, ref.phi)]),
                             ("b", *[model.views(a)[L.index][1] for a in (phi, ref.phi)])):
            diff = _differs(dv, rv)
            if not diff.any():
                continue
            bad += 1
            i = tuple(int(v) for v in np.argwhere(diff)[0])
            print(f"theta: layer {L.index} ({L.kind}) {name}: {int(diff.sum())} of {dv.size} "
                  f"values differ; first {''.join(f'[{v}]' for v in i)}: device {fmt(dv[i])}, "
                  f"reference {fmt(rv[i])}, {ulp_distance(dv[i], rv[i])} ulp", file=out)
    if not bad:
        print("theta: every value has the reference's bits", file=out)
    else:
        print("theta differs: trace the round (mcu/firmware/trace_fw.c) and run xcheck on the "
              "trace for the first diverging step, layer and element, and the cause", file=out)
    return bad


# ------------------------------------------------------------------------------ job maker

def make_job(task="sine", k=4, seed=0, lr=0.02, mode="fused", x_scale=None, zero_bias=False,
             compact=False, drill=(-1, 0, 0)):
    """A job from a task's model and one of its sampled tasks (federated/tasks.py);
    x_scale multiplies the inputs (e.g. 1e-39 makes them subnormal), zero_bias clears the
    biases (so a layer's output is the products alone)."""
    from ..federated import tasks as tk
    rng = np.random.default_rng(seed)
    fam = tk.family(task, seed)
    model = fam.model()
    theta = model.init(rng)
    x, y = fam.device_task(rng).sample(rng, k)
    if x_scale is not None:
        x = (x.astype(np.float64) * x_scale).astype(F32)
    if zero_bias:
        for L, v in zip(model.layers, model.views(theta)):
            if v is not None:
                v[1][...] = 0
    return Job(model, theta, x, y, F32(lr), mode, compact, tuple(drill))


def job_from_case(vectors, case_id, compact=False, drill=(-1, 0, 0)):
    """The job of a golden-vector case (a failing FAIL line's case): a tinyreptile_device_round
    case, or a batch-1 model_train_step case (one step), in mode fused or grad; running the
    traced round on it shows where a build leaves the reference on that case's inputs."""
    from ..vectors.format import f32_from_param, load_manifest, read_blob
    try:
        cases = load_manifest(vectors)["cases"]
    except OSError as e:
        raise ParameterError(f"vectors: cannot read {vectors!r}: {e.strerror}") from None
    c = next((c for c in cases if c["id"] == case_id), None)
    if c is None:
        raise ParameterError(f"case: no case {case_id!r} in {vectors}")
    p = c["params"]
    if c["kernel"] not in ("tinyreptile_device_round_f32", "model_train_step_f32") or \
            p.get("mode") not in ("fused", "grad") or p.get("B", 1) != 1:
        raise ParameterError(f"case: {case_id!r} is not a traceable round (a tinyreptile_device"
                             f"_round_f32 or batch-1 model_train_step_f32 case, fused or grad)")
    blobs = {b["name"]: read_blob(vectors, b) for b in c["blobs"] if b["role"] == "input"}
    model = rt.Model.from_table(blobs["layers"], p["loss"])
    target = blobs["target"] if "target" in blobs else blobs["labels"]
    x = blobs["x"].reshape((-1,) + model.input_shape)
    return Job(model, blobs["theta"].reshape(-1), x, target.reshape((len(x),) + target.shape[1:]),
               f32_from_param(p["lr"]), p["mode"], compact, tuple(drill))


# ------------------------------------------------------------------------------ CLI

def _drill(text):
    try:
        s, l, t = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not STEP,LAYER,TENSOR") from None
    return (s, l, t)


def add_parser(sub):
    p = sub.add_parser("xcheck", help="where a device's trace or theta leaves the reference, "
                       "and why", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="TRACE; or JOB with --theta; or 'job' (a new job) or 'case ID' (a "
                        "vector case's job) to write a job to --out")
    p.add_argument("--vectors", default="vectors", help="with 'case': the vectors directory")
    p.add_argument("--theta", help="a device's final theta (raw little-endian float32)")
    p.add_argument("--out", help="with 'job': the job file to write")
    p.add_argument("--task", default="sine", choices=("sine", "digits"))
    p.add_argument("--k", type=int, default=4, help="samples (steps) of the round")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--mode", default="fused", choices=("fused", "grad"))
    p.add_argument("--x-scale", type=float, help="multiply the inputs (1e-39: subnormal)")
    p.add_argument("--zero-bias", action="store_true", help="clear every bias")
    p.add_argument("--compact", action="store_true", help="the device sends digests only")
    p.add_argument("--drill", type=_drill, default=(-1, 0, 0),
                   help="STEP,LAYER,TENSOR sent in full in compact mode")
    p.set_defaults(func=run)
    return p


def _read(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ParameterError(f"{what}: cannot read {path!r}: {e.strerror}") from None


def run(args):
    files = args.files
    if files[:1] == ["job"]:
        if not args.out:
            raise ParameterError("--out: 'xcheck job' needs the job file to write")
        job = make_job(args.task, args.k, args.seed, args.lr, args.mode, args.x_scale,
                       args.zero_bias, args.compact, args.drill)
        with open(args.out, "wb") as f:
            f.write(job.to_bytes())
        print(f"job: {args.out}: {job.model!r}, k {args.k}, mode {args.mode}")
        return 0
    if files[:1] == ["case"]:
        if len(files) != 2 or not args.out:
            raise ParameterError("files: 'xcheck case ID --out JOB' takes one case id")
        job = job_from_case(args.vectors, files[1], args.compact, args.drill)
        with open(args.out, "wb") as f:
            f.write(job.to_bytes())
        print(f"job: {args.out}: case {files[1]}: {job.model!r}, k {len(job.x)}, "
              f"mode {job.mode}")
        return 0
    if args.theta:
        if len(files) != 1:
            raise ParameterError("files: --theta takes one JOB file")
        job = Job.from_bytes(_read(files[0], "job"))
        raw = _read(args.theta, "theta")
        if len(raw) != 4 * job.model.n_params:
            raise ParameterError(f"theta: {len(raw)} bytes, the model has "
                                 f"{job.model.n_params} parameters")
        return 1 if check_theta(job, np.frombuffer(raw, "<f4").astype(F32)) else 0
    if len(files) != 1:
        raise ParameterError("files: give one TRACE (or 'job --out JOB', or JOB --theta PHI)")
    res = check(read_trace(_read(files[0], "trace")))
    return 1 if res["diverged"] else 0
