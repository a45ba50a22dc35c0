"""The wire protocol (docs/protocol.md): the C client (csrc/client.c) and its Python twin
(tinyreptile_ref/runtime/client.py) give the same bytes. CRC-32 against zlib, COBS framing and
the decoder's resynchronisation, the fingerprint, and whole sessions: the same input stream fed
to the C client (a host process, built under ASan + UBSan) and to the twin must produce
byte-identical output, including garbage, lost and corrupt frames, refusals and int8 rounds."""
import os
import pathlib
import struct
import subprocess
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref._version import __version__
from tinyreptile_ref.backend._tinyreptile_c import ffi, lib
from tinyreptile_ref.errors import ProtocolError
from tinyreptile_ref.federated import devices as dv
from tinyreptile_ref.federated import tasks as tk
from tinyreptile_ref.runtime import client as w
from tinyreptile_ref.runtime.model import Conv1d, Dense, Flatten, Model, ReLU, Tanh

ROOT = pathlib.Path(__file__).resolve().parent.parent
F32 = np.float32
SINE = tk.family("sine", 0).model()
payloads = st.binary(min_size=1, max_size=w.MAX_PAYLOAD)


# --------------------------------------------------------------------------- C functions

def c_crc(data):
    out = ffi.new("uint32_t *")
    assert lib.tr_proto_crc32(out, data, len(data)) == 0
    return out[0]


def c_encode(payload):
    wire = ffi.new(f"uint8_t[{w.MAX_WIRE}]")
    n = ffi.new("int32_t *")
    st_ = lib.tr_proto_frame_encode(wire, n, payload, len(payload), w.MAX_WIRE)
    assert st_ == 0, st_
    return bytes(ffi.buffer(wire, n[0]))


def c_decode(frame):
    out = ffi.new(f"uint8_t[{w.MAX_PAYLOAD + 4}]")
    n = ffi.new("int32_t *")
    st_ = lib.tr_proto_frame_decode(out, n, frame, len(frame), w.MAX_PAYLOAD + 4)
    return st_, bytes(ffi.buffer(out, n[0]))


def test_the_twin_constants_are_the_c_header_constants():
    assert (w.VERSION, w.MAX_PAYLOAD, w.MAX_WIRE, w.CHUNK_MAX, w.MAX_CHUNKS) == (
        lib.TR_PROTO_VERSION, lib.TR_PROTO_MAX_PAYLOAD, lib.TR_PROTO_MAX_WIRE,
        lib.TR_PROTO_CHUNK_MAX, lib.TR_PROTO_MAX_CHUNKS)
    for name in ("HELLO", "WHO", "ROUND", "THETA", "COMMIT", "RESEND", "NACK", "RESULT", "PHI",
                 "DONE", "ERROR"):
        assert getattr(w, name) == getattr(lib, f"TR_MSG_{name}")
    assert (w.CAP_F32, w.CAP_S8, w.CAP_TINYREPTILE, w.CAP_BATCHED) == (
        lib.TR_CAP_F32, lib.TR_CAP_S8, lib.TR_CAP_TINYREPTILE, lib.TR_CAP_BATCHED)
    assert ".".join(map(str, w.LIB_VERSION)) == __version__
    assert w.MAX_WIRE == (w.MAX_PAYLOAD + 4) + (w.MAX_PAYLOAD + 4) // 254 + 2


@given(st.binary(max_size=3000))
def test_crc32_is_zlibs_in_c_and_in_the_twin(data):
    assert c_crc(data) == w.crc32(data) == zlib.crc32(data)


def test_crc32_check_value():
    assert c_crc(b"123456789") == 0xCBF43926  # the CRC-32 catalogue's check value


@given(payloads)
def test_frames_are_byte_identical_in_c_and_in_the_twin_and_decode_back(payload):
    frame = w.frame_encode(payload)
    assert c_encode(payload) == frame
    assert frame[-1] == 0 and 0 not in frame[:-1]
    assert len(frame) <= w.MAX_WIRE
    assert w.frame_decode(frame[:-1]) == payload
    assert c_decode(frame[:-1]) == (0, payload)


@pytest.mark.parametrize("n", [1, 249, 250, 251, 253, 254, 255, 507, 508, w.MAX_PAYLOAD])
def test_cobs_block_boundaries_and_the_largest_frame(n):
    for fill in (b"\x01", b"\x00", b"\xff"):
        payload = (fill * n)[:n]
        frame = w.frame_encode(payload)
        assert c_encode(payload) == frame and w.frame_decode(frame[:-1]) == payload
        assert len(frame) <= w.MAX_WIRE


def test_a_payload_beyond_the_maximum_is_refused_by_both():
    with pytest.raises(ProtocolError, match="^payload: "):
        w.frame_encode(b"x" * (w.MAX_PAYLOAD + 1))
    wire = ffi.new(f"uint8_t[{w.MAX_WIRE}]")
    n = ffi.new("int32_t *")
    assert lib.tr_proto_frame_encode(wire, n, b"x" * 1041, 1041, w.MAX_WIRE) == lib.TR_ERR_PARAM
    assert lib.tr_proto_frame_encode(wire, n, b"x" * 10, 10, 15) == lib.TR_ERR_BUFFER
    assert lib.tr_proto_frame_encode(wire, n, b"x" * 10, 10, 16) == 0


@given(payloads, st.integers(0, 10 ** 6), st.integers(1, 255))
def test_a_changed_byte_is_caught_by_both_decoders(payload, where, xor):
    frame = bytearray(w.frame_encode(payload)[:-1])
    frame[where % len(frame)] ^= xor
    st_, _ = c_decode(bytes(frame))
    try:
        w.frame_decode(bytes(frame))
        twin_ok = True
    except ProtocolError:
        twin_ok = False
    # CRC-32 catches every one-byte change; a zero byte or bad code fails COBS first
    assert st_ == lib.TR_ERR_FRAME and not twin_ok


def test_the_decoder_resynchronises_after_garbage_a_lost_byte_and_an_overlong_frame():
    a, b, c = b"\x10first", b"\x11second", b"\x12third"
    fa, fb, fc = (w.frame_encode(p) for p in (a, b, c))
    stream = (b"garbage\x00" + fa + fb[:5] + fb[6:]   # a byte lost in b: b dropped
              + b"\x07" * 3000 + b"\x00"              # longer than any frame: skipped
              + fc)
    d = w.Decoder()
    assert d.feed(stream) == [a, c]
    assert d.bad == 3  # the garbage, the damaged frame, the overlong run
    # byte by byte gives the same
    d2 = w.Decoder()
    got = [p for i in range(len(stream)) for p in d2.feed(stream[i:i + 1])]
    assert got == [a, c] and d2.bad == 3


def test_the_fingerprint_is_the_same_in_c_and_in_the_twin_and_tells_models_apart():
    models = [SINE, tk.family("sine", 0, hidden=32).model(),
              Model((1,), [Dense(64), Tanh(), Dense(64), Tanh(), Dense(1)], loss="mse"),
              Model((8, 8), [Conv1d(16, 3), ReLU(), Conv1d(16, 3), ReLU(), Flatten(), Dense(5)],
                    loss="softmax_xent"),
              Model((8, 8), [Conv1d(16, 3), ReLU(), Conv1d(16, 3, padding="same"), ReLU(),
                             Flatten(), Dense(5)], loss="softmax_xent")]
    fps = []
    for m in models:
        rows = m.layer_table()
        layers = ffi.new(f"tr_layer[{len(rows)}]")
        for i, r in enumerate(rows.tolist()):
            layers[i] = (r[0], r[1], (r[2], r[3]), r[4], (r[5], r[6]), *r[7:])
        cm = ffi.new("tr_model *", (layers, len(rows), m.n_params,
                                    ("mse", "softmax_xent").index(m.loss)))
        out = ffi.new("uint32_t *")
        assert lib.tr_model_fingerprint(out, cm) == 0
        assert out[0] == w.fingerprint(m)
        fps.append(out[0])
    assert fps[0] == fps[2]  # the same table
    assert len(set(fps)) == 4


# ------------------------------------------------------------- whole sessions, C vs twin

def device_binary():
    subprocess.run(["make", "--no-print-directory", "-s", "build/device/host/device-test"],
                   cwd=ROOT, check=True)
    return ROOT / "build" / "device" / "host" / "device-test"


def test_samples(seed, dev, r, k, epochs, model=SINE):
    """tests/c/client_test_data.c, in Python."""
    v = np.array([(seed % 101 + 31 * (dev % 101) + 7 * (r % 101) + 3 * j) % 101
                  for j in range(k)])
    x = (v.astype(F32) / F32(10) - F32(5)).astype(F32).reshape(k, 1)
    y = (((v * 13) % 17).astype(F32) / F32(4) - F32(2)).astype(F32).reshape(k, 1)
    order = None
    if epochs:
        order = np.array([[(j + e + r % k) % k for j in range(k)] for e in range(epochs)],
                         np.int32).reshape(epochs, k)
    return x, y, order


test_samples.__test__ = False


def twin_output(stream, dev=3, boot=9):
    out = bytearray()
    c = w.Client(SINE, dev, boot, dv.DEVICE_CAPS, dv.device_arena_bytes(SINE), dv.MAX_K,
                 dv.MAX_EPOCHS, dv.MAX_STEPS, out.extend, test_samples)
    c.feed(stream)
    return bytes(out)


def c_output(stream, dev=3, boot=9):
    res = subprocess.run([str(device_binary())], input=stream, capture_output=True,
                         env=dict(os.environ, TR_DEVICE_ID=str(dev), TR_DEVICE_BOOT=str(boot)),
                         timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


def session(round_id, r, algo, transport, theta, k=10, epochs=1, batch=3, lr=0.02, chunk=256,
            fp=None, drop=(), commit=True):
    fp = w.fingerprint(SINE) if fp is None else fp
    out = w.frame_encode(w.encode_round(round_id, r, 12345, fp, algo, transport, chunk, k,
                                        epochs, batch, F32(lr)))
    for i, c in enumerate(w.encode_chunks(w.THETA, round_id, theta, chunk, transport)):
        if i not in drop:
            out += w.frame_encode(c)
    if commit:
        out += w.frame_encode(w.encode_commit(round_id))
    return out


def parsed(stream):
    return [w.parse(p) for p in w.Decoder().feed(stream)]


@pytest.fixture(scope="module")
def theta():
    return SINE.init(np.random.default_rng(5))


def sessions(theta):
    th = theta
    nan = th.copy()
    nan[100] = np.nan
    big = th.copy()
    big[7] = F32(3e38)
    lost = session(2, 4, 0, 0, th, drop=(3, 17))
    return {
        "tinyreptile float32": session(1, 0, 0, 0, th),
        "tinyreptile int8": session(1, 0, 0, 1, th),
        "batched float32": session(5, 9, 1, 0, th, k=12, epochs=2, batch=5),
        "batched int8, odd chunk": session(6, 3, 1, 1, th, k=7, epochs=3, batch=7, chunk=97),
        "lost chunks, NACK, retransmission, RESEND, COMMIT again": (
            lost + w.frame_encode(w.encode_chunks(w.THETA, 2, th, 256, 0)[3])
            + w.frame_encode(w.encode_chunks(w.THETA, 2, th, 256, 0)[17])
            + w.frame_encode(w.encode_commit(2))
            + w.frame_encode(w.encode_bitmap(w.RESEND, 2, 18, [0, 5, 17]))
            + w.frame_encode(w.encode_commit(2))),
        "garbage and a corrupt frame between frames": (
            b"\x00\x13\x37garbage\x00" + session(3, 1, 0, 0, th)[:500] + b"\xaa"
            + session(3, 1, 0, 0, th)[501:]
            + b"\x01\x02\x03" * 800 + b"\x00" + session(4, 1, 0, 0, th)),
        "fingerprint mismatch refused": session(1, 0, 0, 0, th, fp=0xDEADBEEF),
        "non-finite theta refused": session(1, 0, 0, 0, nan),
        "huge theta trains into non-finite phi": session(1, 0, 0, 0, big, lr=1e30),
        "out of range k, chunk, epochs, lr": (
            session(1, 0, 0, 0, th, k=65, commit=False) + session(2, 0, 0, 0, th, chunk=257, commit=False)
            + session(3, 0, 1, 0, th, epochs=5, commit=False) + session(4, 0, 0, 0, th, lr=-1.0, commit=False)
            + session(5, 0, 1, 0, th, k=4, batch=5, commit=False)),
        "stale and unknown messages, WHO": (
            w.frame_encode(w.encode_commit(99)) + w.frame_encode(bytes([0x55, 1, 2]))
            + w.frame_encode(w.encode_who()) + w.frame_encode(b"\x12\x01")
            + session(8, 0, 0, 0, th, commit=False)
            + w.frame_encode(w.encode_chunks(w.THETA, 8, th, 256, 0)[0][:-4])  # short chunk
            + w.frame_encode(w.encode_commit(8))),
        "a new ROUND abandons the one in progress": (
            session(1, 0, 0, 0, th, commit=False) + session(2, 1, 0, 1, th)),
    }


@pytest.mark.parametrize("name", list(sessions(np.zeros(SINE.n_params, F32))))
def test_the_c_client_and_its_twin_answer_every_session_with_the_same_bytes(name, theta):
    stream = sessions(theta)[name]
    c, py = c_output(stream), twin_output(stream)
    assert c == py
    msgs = [m for m, _ in parsed(c)]
    assert msgs[0] == "HELLO"
    if name.startswith(("tinyreptile", "batched")):
        assert msgs[1:] == ["RESULT"] + ["PHI"] * w.n_chunks(SINE.n_params, 256 if "odd" not in name else 97) + ["DONE"]
    if "refused" in name or "range" in name:
        assert "ERROR" in msgs and "RESULT" not in msgs
    f = [f for _, f in parsed(c)]
    expect = {  # docs/protocol.md, "Device behaviour"
        "fingerprint mismatch refused": lambda: f[1]["code"] == w.E_FINGERPRINT,
        "non-finite theta refused": lambda: (f[1]["code"], f[1]["detail"]) == (w.E_VALUE, 100),
        "huge theta trains into non-finite phi": lambda: (
            msgs == ["HELLO", "RESULT", "DONE"] and f[1]["status"] == w.RESULT_NONFINITE),
        "out of range k, chunk, epochs, lr": lambda: [x["code"] for x in f[1:]] == [w.E_RANGE] * 5,
        "lost chunks, NACK, retransmission, RESEND, COMMIT again": lambda: (
            f[1]["indices"] == [3, 17] and msgs.count("RESULT") == 2 and msgs.count("PHI") == 39),
        "stale and unknown messages, WHO": lambda: msgs == ["HELLO", "ERROR", "HELLO", "ERROR",
                                                            "ERROR"],
    }
    assert expect.get(name, lambda: True)()


def test_a_round_over_the_link_equals_the_runtime(theta, cb):
    """The C client's φ and losses are the runtime's for the same θ and samples."""
    for algo in (0, 1):
        out = parsed(c_output(session(1, 4, algo, 0, theta, k=10, epochs=2, batch=3)))
        phi = np.concatenate([f["values"] for m, f in out if m == "PHI"])
        losses = [f["losses"] for m, f in out if m == "RESULT"][0]
        x, y, order = test_samples(12345, 3, 4, 10, 2 if algo else 0)
        if algo == 0:
            ref, ref_l = cb.tinyreptile_device_round_f32(theta, x, y, SINE, F32(0.02), "fused")
        else:
            ref, ref_l = cb.reptile_device_round_f32(theta, x, y, order, SINE, 2, 3, F32(0.02))
        assert phi.view(np.uint32).tolist() == ref.view(np.uint32).tolist()
        assert losses.view(np.uint32).tolist() == ref_l.view(np.uint32).tolist()


def test_the_session_checks_can_fail(theta):
    """A changed input changes the output: the comparison is not vacuous."""
    a = twin_output(session(1, 0, 0, 0, theta))
    b = twin_output(session(1, 1, 0, 0, theta))  # another round: other samples
    assert a != b
    assert twin_output(session(1, 0, 0, 0, theta), dev=4) != a


def test_parse_names_the_bad_length():
    with pytest.raises(ProtocolError, match="^payload: ROUND of 3 bytes"):
        w.parse(b"\x10\x00\x00")
    with pytest.raises(ProtocolError, match="^payload: unknown message type 0x55"):
        w.parse(b"\x55")
    with pytest.raises(ProtocolError, match="^payload: THETA of 12 bytes for 5 values"):
        w.parse(struct.pack("<BIHH", w.THETA, 1, 0, 5) + b"abc")
