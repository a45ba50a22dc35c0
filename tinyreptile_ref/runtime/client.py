"""The wire protocol, version 1 (docs/protocol.md): the Python twin of csrc/client.c.

Framing: a frame on the wire is COBS(payload || CRC-32(payload) little-endian) || 0x00;
payloads hold 1..MAX_PAYLOAD bytes, frames at most MAX_WIRE bytes. `frame_encode`,
`frame_decode` and `Decoder` (streaming, resynchronising on the next 0x00) are the C
functions' twins; `fingerprint` is tr_model_fingerprint; the `encode_*` functions build each
message's payload and `parse` checks and splits any payload (the server uses them); `Client` is
the device's side (tr_client_*), which answers the same bytes with the same bytes as the C
client, training with the NumPy model runtime. All integers little-endian; floats travel as
their IEEE-754 bits.
"""
import struct
import zlib

import numpy as np

from ..errors import ProtocolError
from ..kernels import quant as _quant
from . import model as _model

F32 = np.float32

VERSION = 1
MAX_PAYLOAD = 1040
MAX_WIRE = 1050
CHUNK_MAX = 256
MAX_CHUNKS = 1024
LIB_VERSION = (0, 1, 0)

HELLO, WHO, ROUND, THETA, COMMIT, RESEND = 0x01, 0x02, 0x10, 0x11, 0x12, 0x13
NACK, RESULT, PHI, DONE, ERROR = 0x20, 0x21, 0x22, 0x23, 0x7F
NAMES = {HELLO: "HELLO", WHO: "WHO", ROUND: "ROUND", THETA: "THETA", COMMIT: "COMMIT",
         RESEND: "RESEND", NACK: "NACK", RESULT: "RESULT", PHI: "PHI", DONE: "DONE",
         ERROR: "ERROR"}
TRANSPORTS = ("float32", "int8")
ALGOS = ("tinyreptile", "batched")
CAP_F32, CAP_S8, CAP_TINYREPTILE, CAP_BATCHED = 1, 2, 4, 8
RESULT_NONFINITE, RESULT_SAMPLES = -100, -101
E_LENGTH, E_TYPE, E_FINGERPRINT, E_UNSUPPORTED, E_RANGE, E_VALUE = 1, 2, 3, 4, 5, 6
ERRORS = {E_LENGTH: "length", E_TYPE: "type", E_FINGERPRINT: "fingerprint",
          E_UNSUPPORTED: "unsupported", E_RANGE: "range", E_VALUE: "value"}

HELLO_FMT = "<BHBBBIIIIIBHHHH"     # 35 bytes
ROUND_FMT = "<BIIQIBBHHHHI"        # 35 bytes (lr as its bits)
CHUNK_HDR = "<BIHH"                # 9 bytes, then [scale] values
RESULT_HDR = "<BIhH"               # 9 bytes, then losses
DONE_FMT = "<BIH"                  # 7
ERROR_FMT = "<BIHI"                # 11
BITMAP_HDR = "<BIH"                # 7, then the bitmap


# ------------------------------------------------------------------------------- CRC, COBS

def crc32(data):
    """CRC-32 (IEEE 802.3, reflected 0xEDB88320, init and final xor 0xFFFFFFFF)."""
    return zlib.crc32(bytes(data)) & 0xFFFFFFFF


def frame_encode(payload):
    """wire = COBS(payload || crc32 LE) || 0x00 (tr_proto_frame_encode)."""
    payload = bytes(payload)
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ProtocolError(f"payload: {len(payload)} bytes, not in [1, {MAX_PAYLOAD}]")
    body = payload + struct.pack("<I", crc32(payload))
    out = bytearray()
    for piece in body.split(b"\x00"):  # the pieces between zeros, each then cut every 254
        while len(piece) >= 254:
            out.append(0xFF)
            out += piece[:254]
            piece = piece[254:]
        out.append(len(piece) + 1)
        out += piece
    out.append(0)
    return bytes(out)


def frame_decode(wire):
    """The payload of one frame without its delimiter (tr_proto_frame_decode); ProtocolError
    when COBS, the length or the CRC is wrong."""
    wire = bytes(wire)
    n = len(wire)
    out = bytearray()
    i = 0
    limit = MAX_PAYLOAD + 4
    while i < n:
        code = wire[i]
        if code == 0 or i + code > n:
            raise ProtocolError("wire: bad COBS code byte")
        block = wire[i + 1:i + code]
        if 0 in block or len(out) + len(block) > limit:
            raise ProtocolError("wire: zero byte in a COBS block or frame too long")
        out += block
        i += code
        if code != 0xFF and i < n:
            if len(out) >= limit:
                raise ProtocolError("wire: frame too long")
            out.append(0)
    if len(out) < 5:
        raise ProtocolError("wire: frame shorter than 5 bytes")
    if crc32(out[:-4]) != struct.unpack("<I", out[-4:])[0]:
        raise ProtocolError("wire: CRC mismatch")
    return bytes(out[:-4])


class Decoder:
    """Bytes in, payloads out (tr_proto_decoder): collects up to a 0x00; more than
    MAX_WIRE - 1 bytes without one make it skip to the next 0x00; a frame that does not decode
    is counted in `bad` and dropped."""

    def __init__(self):
        self.buf = bytearray()
        self.skipping = False
        self.frames = 0
        self.bad = 0

    def feed(self, data):
        """The payloads completed by `data`, in order. (Byte for byte the C decoder's rule,
        worked on the pieces between zeros rather than on single bytes.)"""
        out = []
        parts = bytes(data).split(b"\x00")
        for i, part in enumerate(parts):
            if not self.skipping:
                if len(self.buf) + len(part) > MAX_WIRE - 1:
                    self.skipping = True  # too long for any frame: skip to the next 0x00
                    self.bad += 1
                    self.buf.clear()
                else:
                    self.buf += part
            if i == len(parts) - 1:
                break  # no delimiter after the last piece: the frame goes on
            if not self.skipping and self.buf:
                try:
                    out.append(frame_decode(self.buf))
                    self.frames += 1
                except ProtocolError:
                    self.bad += 1
            self.skipping = False
            self.buf.clear()
        return out


# ------------------------------------------------------------------------------ fingerprint

def fingerprint(model):
    """CRC-32 of the canonical layer table, n_layers, n_params, loss (tr_model_fingerprint)."""
    rows = model.layer_table()
    tail = np.array([rows.shape[0], model.n_params, _model.LOSSES.index(model.loss)], "<i4")
    return crc32(rows.astype("<i4").tobytes() + tail.tobytes())


# --------------------------------------------------------------------------------- messages

def f32_bits(x):
    return int(np.asarray(x, F32).view(np.uint32))


def encode_hello(device_id, boot, fp, n_params, arena_bytes, caps, max_k, max_epochs,
                 max_steps):
    return struct.pack(HELLO_FMT, HELLO, VERSION, *LIB_VERSION, device_id, boot, fp, n_params,
                       arena_bytes, caps, MAX_PAYLOAD, max_k, max_epochs, max_steps)


def encode_who():
    return bytes([WHO])


def encode_round(round_id, round_, seed, fp, algo, transport, chunk, k, epochs, batch, lr):
    return struct.pack(ROUND_FMT, ROUND, round_id, round_, seed, fp, algo, transport, chunk, k,
                       epochs, batch, f32_bits(lr))


def n_chunks(n_params, chunk):
    return -(-n_params // chunk)


def encode_chunk(kind, round_id, index, values, transport):
    """THETA or PHI chunk `index` of float32 `values` (the chunk's slice): float32 raw, or int8
    with one scale (tr_transport_quantize_s8 over the chunk)."""
    values = np.ascontiguousarray(values, F32)
    head = struct.pack(CHUNK_HDR, kind, round_id, index, values.size)
    if transport == 0:
        return head + values.astype("<f4").tobytes()
    q, s = _quant.transport_quantize_s8(values, max(values.size, 1))
    return head + s.astype("<f4").tobytes() + q.tobytes()


def encode_chunks(kind, round_id, vec, chunk, transport):
    return [encode_chunk(kind, round_id, i, vec[i * chunk:(i + 1) * chunk], transport)
            for i in range(n_chunks(vec.size, chunk))]


def encode_commit(round_id):
    return struct.pack("<BI", COMMIT, round_id)


def encode_bitmap(kind, round_id, nc, indices):
    bm = bytearray((nc + 7) // 8)
    for i in indices:
        bm[i >> 3] |= 1 << (i & 7)
    return struct.pack(BITMAP_HDR, kind, round_id, nc) + bytes(bm)


def encode_result(round_id, status, losses):
    losses = np.ascontiguousarray(losses, F32)
    return struct.pack(RESULT_HDR, RESULT, round_id, status, losses.size) + \
        losses.astype("<f4").tobytes()


def encode_done(round_id, nc):
    return struct.pack(DONE_FMT, DONE, round_id, nc)


def encode_error(round_id, code, detail):
    return struct.pack(ERROR_FMT, ERROR, round_id, code, detail)


def _need(payload, n, exact=True):
    if (len(payload) != n) if exact else (len(payload) < n):
        raise ProtocolError(f"payload: {NAMES.get(payload[0], hex(payload[0]))} of "
                            f"{len(payload)} bytes, expected {'' if exact else 'at least '}{n}")


def parse(payload):
    """(type name, fields dict) of a payload, lengths checked (ProtocolError otherwise).
    Chunks give `index`, `count` and `values` (float32 array, dequantized for int8 with
    `scale`, `q` kept); bitmaps give `indices`."""
    if not payload:
        raise ProtocolError("payload: empty")
    t = payload[0]
    if t == HELLO:
        _need(payload, 35)
        f = struct.unpack(HELLO_FMT, payload)
        keys = ("proto", "lib_major", "lib_minor", "lib_patch", "device_id", "boot",
                "fingerprint", "n_params", "arena_bytes", "caps", "max_payload", "max_k",
                "max_epochs", "max_steps")
        return "HELLO", dict(zip(keys, f[1:]))
    if t == WHO:
        _need(payload, 1)
        return "WHO", {}
    if t == ROUND:
        _need(payload, 35)
        f = struct.unpack(ROUND_FMT, payload)
        keys = ("round_id", "round", "seed", "fingerprint", "algo", "transport", "chunk", "k",
                "epochs", "batch", "lr_bits")
        return "ROUND", dict(zip(keys, f[1:]))
    if t in (THETA, PHI):
        _need(payload, 9, exact=False)
        _, rid, index, count = struct.unpack_from(CHUNK_HDR, payload)
        body = payload[9:]
        d = {"round_id": rid, "index": index, "count": count}
        if len(body) == 4 * count:
            d["transport"] = 0
            d["values"] = np.frombuffer(body, "<f4").astype(F32)
        elif len(body) == 4 + count:
            d["transport"] = 1
            d["scale"] = np.frombuffer(body[:4], "<f4").astype(F32)
            d["q"] = np.frombuffer(body[4:], np.int8).copy()
        else:
            raise ProtocolError(f"payload: {NAMES[t]} of {len(payload)} bytes for {count} values")
        return NAMES[t], d
    if t == COMMIT:
        _need(payload, 5)
        return "COMMIT", {"round_id": struct.unpack_from("<I", payload, 1)[0]}
    if t in (NACK, RESEND):
        _need(payload, 7, exact=False)
        _, rid, nc = struct.unpack_from(BITMAP_HDR, payload)
        _need(payload, 7 + (nc + 7) // 8)
        bm = payload[7:]
        idx = [i for i in range(nc) if bm[i >> 3] >> (i & 7) & 1]
        return NAMES[t], {"round_id": rid, "n_chunks": nc, "indices": idx}
    if t == RESULT:
        _need(payload, 9, exact=False)
        _, rid, status, nl = struct.unpack_from(RESULT_HDR, payload)
        _need(payload, 9 + 4 * nl)
        return "RESULT", {"round_id": rid, "status": status,
                          "losses": np.frombuffer(payload[9:], "<f4").astype(F32)}
    if t == DONE:
        _need(payload, 7)
        _, rid, nc = struct.unpack(DONE_FMT, payload)
        return "DONE", {"round_id": rid, "n_chunks": nc}
    if t == ERROR:
        _need(payload, 11)
        _, rid, code, detail = struct.unpack(ERROR_FMT, payload)
        return "ERROR", {"round_id": rid, "code": code, "detail": detail}
    raise ProtocolError(f"payload: unknown message type 0x{t:02x}")


def _finite_bits(u):
    return (u & 0x7F800000) != 0x7F800000


# ----------------------------------------------------------------------- the device (twin)

IDLE, RECEIVING, SENT = 0, 1, 2


class Client:
    """The device's side of the protocol (tr_client_init / tr_client_feed), trained with the
    NumPy model runtime. `write(bytes)` is the link; `samples(seed, device_id, round, k,
    epochs)` returns (x, target or labels, order or None), the device's own data."""

    def __init__(self, model, device_id, boot, caps, arena_bytes, max_k, max_epochs, max_steps,
                 write, samples):
        self.model = model
        self.device_id, self.boot, self.caps = device_id, boot, caps
        self.arena_bytes = arena_bytes
        self.max_k, self.max_epochs, self.max_steps = max_k, max_epochs, max_steps
        self.write, self.samples = write, samples
        self.fp = fingerprint(model)
        self.params = np.zeros(model.n_params, F32)
        self.dec = Decoder()
        self.state = IDLE
        self.round_id = 0
        self.rounds_done = self.rejected = 0
        self._send(encode_hello(device_id, boot, self.fp, model.n_params, arena_bytes, caps,
                                max_k, max_epochs, max_steps))

    def _send(self, payload):
        self.write(frame_encode(payload))

    def _error(self, rid, code, detail):
        self.rejected += 1
        self._send(encode_error(rid, code, detail & 0xFFFFFFFF))

    def feed(self, data):
        for p in self.dec.feed(data):
            self._handle(p)

    def _count(self, i):
        return min(self.chunk, self.model.n_params - i * self.chunk)

    def _handle(self, p):
        t, n = p[0], len(p)
        if t == WHO:
            if n != 1:
                return self._error(0, E_LENGTH, n)
            self.state = IDLE
            return self._send(encode_hello(self.device_id, self.boot, self.fp,
                                           self.model.n_params, self.arena_bytes, self.caps,
                                           self.max_k, self.max_epochs, self.max_steps))
        if t == ROUND:
            return self._on_round(p)
        if t == THETA:
            return self._on_theta(p)
        if t == COMMIT:
            if n != 5:
                return self._error(0, E_LENGTH, n)
            rid = struct.unpack_from("<I", p, 1)[0]
            if rid != self.round_id or self.state == IDLE:
                return None
            if self.state == SENT:
                return self._send_result(None)
            missing = [i for i in range(self.n_chunks) if i not in self.have]
            if missing:
                return self._send(encode_bitmap(NACK, rid, self.n_chunks, missing))
            self._train()
            self.state = SENT
            self.rounds_done += 1
            return self._send_result(None)
        if t == RESEND:
            if n < 7:
                return self._error(0, E_LENGTH, n)
            if self.state != SENT or struct.unpack_from("<I", p, 1)[0] != self.round_id:
                return None
            nc = struct.unpack_from("<H", p, 5)[0]
            if nc != self.n_chunks or n != 7 + (self.n_chunks + 7) // 8:
                return self._error(self.round_id, E_LENGTH, n)
            want = {i for i in range(nc) if p[7 + (i >> 3)] >> (i & 7) & 1}
            return self._send_result(want)
        return self._error(0, E_TYPE, t)

    def _on_round(self, p):
        if len(p) != 35:
            return self._error(0, E_LENGTH, len(p))
        (_, rid, rnd, seed, fp, algo, transport, chunk, k, epochs, batch,
         lr_bits) = struct.unpack(ROUND_FMT, p)
        self.state = IDLE
        caps = self.caps
        if fp != self.fp:
            return self._error(rid, E_FINGERPRINT, self.fp)
        if ((algo == 0 and not caps & CAP_TINYREPTILE) or (algo == 1 and not caps & CAP_BATCHED)
                or algo > 1 or (transport == 0 and not caps & CAP_F32)
                or (transport == 1 and not caps & CAP_S8) or transport > 1):
            return self._error(rid, E_UNSUPPORTED, algo << 8 | transport)
        if not 1 <= chunk <= CHUNK_MAX or not 1 <= k <= self.max_k:
            return self._error(rid, E_RANGE, 1)
        nc = n_chunks(self.model.n_params, chunk)
        if nc > MAX_CHUNKS:
            return self._error(rid, E_RANGE, 2)
        if algo == 0:
            steps = k
        else:
            if not 1 <= epochs <= self.max_epochs or not 1 <= batch <= k:
                return self._error(rid, E_RANGE, 3)
            steps = epochs * -(-k // batch)
        if steps > self.max_steps:
            return self._error(rid, E_RANGE, 4)
        if not _finite_bits(lr_bits) or lr_bits & 0x80000000:
            return self._error(rid, E_RANGE, 5)
        self.round_id, self.round, self.seed = rid, rnd, seed
        self.algo, self.transport, self.chunk, self.n_chunks = algo, transport, chunk, nc
        self.k = k
        self.epochs = 0 if algo == 0 else epochs
        self.batch = 1 if algo == 0 else batch
        self.lr = np.array(lr_bits, np.uint32).view(F32)[()]
        self.n_losses = steps
        self.have = set()
        self.state = RECEIVING
        return None

    def _on_theta(self, p):
        if len(p) < 9:
            return self._error(0, E_LENGTH, len(p))
        _, rid, index, count = struct.unpack_from(CHUNK_HDR, p)
        if self.state != RECEIVING or rid != self.round_id:
            return None
        size = 9 + (4 + count if self.transport == 1 else 4 * count)
        if index >= self.n_chunks or count != self._count(index) or len(p) != size:
            self.state = IDLE
            return self._error(rid, E_LENGTH, index)
        off = index * self.chunk
        if self.transport == 0:
            bits = np.frombuffer(p[9:], "<u4")
            bad = np.flatnonzero((bits & 0x7F800000) == 0x7F800000)
            if bad.size:
                self.state = IDLE
                return self._error(rid, E_VALUE, off + int(bad[0]))
            self.params[off:off + count] = bits.astype(np.uint32).view(F32)
        else:
            sb = struct.unpack_from("<I", p, 9)[0]
            q = np.frombuffer(p[13:], np.int8)
            if not _finite_bits(sb) or sb & 0x80000000:
                self.state = IDLE
                return self._error(rid, E_VALUE, off)
            bad = np.flatnonzero(q == -128)
            if bad.size:
                self.state = IDLE
                return self._error(rid, E_VALUE, off + int(bad[0]))
            scale = np.array([sb], np.uint32).view(F32)
            self.params[off:off + count] = _quant.transport_dequantize_s8(q.copy(), scale, count)
        self.have.add(index)
        return None

    def _train(self):
        m = self.model
        try:
            x, y, order = self.samples(self.seed, self.device_id, self.round, self.k, self.epochs)
        except Exception:  # the port's failure is the device's status, as in C
            self.status = RESULT_SAMPLES
            return
        if self.algo == 0:
            phi, losses = _model.tinyreptile_device_round_f32(self.params, x, y, m, self.lr,
                                                              "fused")
        else:
            phi, losses = _model.reptile_device_round_f32(self.params, x, y, order, m,
                                                          self.epochs, self.batch, self.lr)
        self.params[:] = phi
        self.losses = losses
        self.status = 0
        if not np.all(np.isfinite(phi)):
            self.status = RESULT_NONFINITE

    def _send_result(self, want):
        ok = self.status == 0
        if want is None:
            self._send(encode_result(self.round_id, self.status,
                                     self.losses if ok else np.zeros(0, F32)))
        if ok:
            for i in range(self.n_chunks):
                if want is None or i in want:
                    c = self.chunk
                    self._send(encode_chunk(PHI, self.round_id, i, self.params[i * c:(i + 1) * c],
                                            self.transport))
        self._send(encode_done(self.round_id, self.n_chunks if ok else 0))
