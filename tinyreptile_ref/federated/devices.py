"""Devices in the loop: the server's side of the wire protocol (docs/protocol.md) and the rig
that trains with real device clients instead of simulated ones.

A fleet is N devices with ids 0..N-1, which are also the training population the server
draws from (so `--devices host:N` trains like the simulation with `--devices N`):

  host:N   N host builds of the C device client (mcu/firmware/device_fw.c on
           mcu/port/link_host.c), each a process on pipes;
  qemu:N   N Cortex-M4F firmware images under QEMU (mps2-an386), each UART0 a QEMU chardev
           socket (a Unix socket the server connects to); QEMU's stdout, the devices'
           semihosting console, goes to DIR/qemu-I.log;
  twin:N   N Python twins of the client (runtime/client.py) in this process (tests).

Each round the server draws its devices exactly as the simulation does, sends each one θ
(ROUND, THETA chunks, COMMIT), and gets back φ (RESULT, PHI chunks, DONE); the device draws
its own samples, so nothing but θ, φ and control crosses the link. The transport is float32
(φ bit for bit the simulation's) or the library's chunked int8 transport, which the
simulation reproduces with `transport="int8"` (the device receives deq(q(θ)), the server
aggregates deq(q(φ))).

Faults. A device that does not answer in time, closes its link, sends frames that stay corrupt
after retransmission, answers for another round id, sends an ERROR, returns non-finite φ or
says HELLO again (it rebooted) has its result refused. The rule: the server keeps θ, logs
(round, attempt, device, reason), and repeats the same round with its next draw of devices;
the new devices' samples are those of (seed, device, round). So a fault log determines the
run: `train(..., skip=log)` in the simulation discards the same draws and gives the same θ.
Lost or corrupt chunks alone are not faults: they are requested again (NACK / RESEND).

Checkpoints: after every round, DIR/checkpoint.json (θ, the next round and attempt, the
round id counter, the fault log, the history) is replaced atomically; the server's draws are
counter-based (a function of seed, round and attempt), so that is its whole generator state.
`resume` continues from it and ends with the θ of an uninterrupted run.
"""
import base64
import ctypes
import hashlib
import json
import os
import pathlib
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections import deque

import numpy as np

from ..errors import ParameterError, ProtocolError
from ..runtime import client as wire
from . import algorithms as fl

F32 = np.float32
ROOT = pathlib.Path(__file__).resolve().parents[2]
KINDS = ("host", "qemu", "twin")
TRANSPORTS = wire.TRANSPORTS
CHUNK = 256
#: Attempts at completing a round's transfer (NACK / RESEND / COMMIT again) before refusing.
RETRIES = 3
#: Seconds a device may take for one round, by kind (QEMU's UART moves about 18 kB/s).
TIMEOUTS = {"host": 10.0, "qemu": 120.0, "twin": 10.0}
QEMU_MACHINE = "mps2-an386"
#: What a device image offers in HELLO (mcu/tools/device_gen.py builds the buffers for it):
#: samples per round, Reptile epochs, steps (losses) per round.
MAX_K, MAX_EPOCHS, MAX_STEPS = 64, 4, 256
DEVICE_CAPS = 1 | 2 | 4 | 8  # float32 and int8 transport, TinyReptile and batched rounds


def device_arena_bytes(model):
    """The arena of a device image: TinyReptile's fused step or batched Reptile with MAX_K
    stored samples, whichever is larger."""
    return max(model.memory_plan(1, 1, "fused").arena, model.memory_plan(1, MAX_K, "accum").arena)


def twin_client(model, family, device_id, boot, write):
    """A Python twin of the device client whose data source is the simulation's: device i's
    task from (seed, i), its samples of round r from (seed, i, r), drawn as fl.Device draws."""
    def samples(seed, dev_id, r, k, epochs):
        task = fl.device_task(family, seed, dev_id)
        rng = fl.device_rng(seed, dev_id, r)
        x, y = task.sample(rng, k)
        order = None
        if epochs:
            order = np.array([rng.permutation(k) for _ in range(epochs)], np.int32).reshape(epochs, k)
        return x, y, order
    return wire.Client(model, device_id, boot, DEVICE_CAPS, device_arena_bytes(model), MAX_K,
                       MAX_EPOCHS, MAX_STEPS, write, samples)


class DeviceFault(Exception):
    """A device's result is refused; str() is the reason that goes into the fault log."""


def parse_devices(text):
    """'host:N', 'qemu:N' or 'twin:N' -> (kind, N); ParameterError naming `devices` else."""
    kind, sep, n = str(text).partition(":")
    if not sep or kind not in KINDS or not n.isdigit() or int(n) < 1:
        raise ParameterError(f"devices: {text!r} is not KIND:N with KIND one of "
                             f"{', '.join(KINDS)} and N >= 1")
    return kind, int(n)


# --------------------------------------------------------------------------------- links

def _die_with_parent():  # pragma: no cover - runs in the child
    """The child gets SIGKILL when the server dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class ProcessLink:
    """A byte link to a child process: its stdin and stdout are the device's link."""

    def __init__(self, argv, env=None, stderr=None):
        self.argv, self.env, self.stderr_path = list(argv), env, stderr
        self.sent = self.received = 0
        self._start()

    def _start(self):
        err = open(self.stderr_path, "ab") if self.stderr_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, env=self.env, bufsize=0,
                                         preexec_fn=_die_with_parent)
        finally:
            if self.stderr_path:
                err.close()
        self.rfd = self.proc.stdout.fileno()
        self.wfd = self.proc.stdin.fileno()
        os.set_blocking(self.rfd, False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.rfd, selectors.EVENT_READ)

    def restart(self, env=None):
        """Kill the process and start it again (a device reset)."""
        self.close()
        if env is not None:
            self.env = env
        self._start()

    def send(self, data):
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.wfd, view)
                view = view[n:]
                self.sent += n
        except (BrokenPipeError, OSError) as exc:
            raise DeviceFault(f"link closed while sending ({exc.__class__.__name__})") from None

    def recv(self, timeout):
        """Bytes that arrived within `timeout` seconds (b'' if none); DeviceFault on EOF."""
        if not self.sel.select(max(timeout, 0.0)):
            return b""
        try:
            data = os.read(self.rfd, 1 << 16)
        except BlockingIOError:
            return b""
        if not data:
            raise DeviceFault("link closed (the device exited)")
        self.received += len(data)
        return data

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.sel.close()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class SocketLink(ProcessLink):
    """A byte link to an emulator's UART on a Unix socket: QEMU listens on `sock`
    (-chardev socket,server=on,wait=on), the link connects once it exists. The emulator's own
    stdout (the device's semihosting console) goes to `console`, never onto the link."""

    def __init__(self, argv, sock, console=None, connect_timeout=20.0):
        self.argv, self.sock_path, self.console = list(argv), sock, console
        self.connect_timeout = connect_timeout
        self.sent = self.received = 0
        self._start()

    def _start(self):
        import socket
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        out = open(self.console, "ab") if self.console else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        finally:
            if self.console:
                out.close()
        deadline = time.monotonic() + self.connect_timeout
        self.sk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sk.connect(self.sock_path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.sk.close()
                    self.proc.kill()
                    self.proc.wait()
                    raise DeviceFault(f"the emulator did not open its UART socket "
                                      f"(exit status {self.proc.returncode})") from None
                time.sleep(0.02)
        self.rfd = self.wfd = self.sk.fileno()
        os.set_blocking(self.rfd, False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.rfd, selectors.EVENT_READ)

    def send(self, data):
        os.set_blocking(self.wfd, True)
        try:
            return super().send(data)
        finally:
            os.set_blocking(self.wfd, False)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.sel.close()
        self.sk.close()
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)


class TwinLink:
    """The Python twin of the client in this process: what is sent is fed to it at once."""

    def __init__(self, make_client):
        self.make_client = make_client
        self.sent = self.received = 0
        self.restart()

    def restart(self, env=None):
        self.out = bytearray()
        self.client = self.make_client(self.out.extend)

    def send(self, data):
        self.sent += len(data)
        self.client.feed(data)

    def recv(self, timeout):
        data, self.out[:] = bytes(self.out), b""
        self.received += len(data)
        return data

    def close(self):
        pass


# ------------------------------------------------------------------------------ the server

class RemoteDevice:
    """One device as the server sees it: a link, a frame decoder, the HELLO it sent."""

    def __init__(self, device_id, link, timeout):
        self.id = device_id
        self.link = link
        self.timeout = timeout
        self.dec = wire.Decoder()
        self.pending = deque()
        self.hello = None
        self.refused = None  # the reason when the device was refused at HELLO
        self.stale = 0       # late answers to refused attempts, dropped
        self.expect = None   # (fingerprint, n_params, caps) of the handshake
        self.corrupt = 0     # corrupt frames dropped in the last round

    def _next(self, deadline):
        """The next parsed message; DeviceFault('timeout') when none arrives in time."""
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                cut = (f" (it stopped in the middle of a frame, after {len(self.dec.buf)} bytes)"
                       if self.dec.buf else "")
                raise DeviceFault(f"timeout: no complete answer within {self.timeout:g} s{cut}")
            self.pending.extend(self.dec.feed(self.link.recv(min(left, 1.0))))
        p = self.pending.popleft()
        try:
            return wire.parse(p)
        except ProtocolError as exc:
            return "INVALID", {"why": str(exc)}

    def handshake(self, fp, n_params, need_caps):
        """Wait for HELLO (ask with WHO once) and check it: protocol version, model
        fingerprint, parameter count, capabilities. A device that fails is refused for the
        whole run (self.refused says why)."""
        self.expect = (fp, n_params, need_caps)
        deadline = time.monotonic() + self.timeout
        asked = False
        while True:
            try:
                name, f = self._next(min(deadline, time.monotonic() + 2.0) if not asked
                                     else deadline)
            except DeviceFault:
                if asked:
                    self.refused = "no HELLO"
                    return False
                asked = True
                self.link.send(wire.frame_encode(wire.encode_who()))
                continue
            if name == "HELLO":
                break
        self.hello = f
        why = None
        if f["proto"] != wire.VERSION:
            why = f"protocol version {f['proto']}, server speaks {wire.VERSION}"
        elif f["fingerprint"] != fp:
            why = f"model fingerprint 0x{f['fingerprint']:08x}, server's is 0x{fp:08x}"
        elif f["n_params"] != n_params:
            why = f"{f['n_params']} parameters, server's model has {n_params}"
        elif f["caps"] & need_caps != need_caps:
            why = f"capabilities 0x{f['caps']:02x} lack 0x{need_caps & ~f['caps']:02x}"
        elif f["device_id"] != self.id:
            why = f"device id {f['device_id']}, expected {self.id}"
        self.refused = why
        return why is None

    def run_round(self, round_id, r, seed, fp, cfg, transport, theta, chunk=CHUNK):
        """One round on this device: θ down, φ and the step losses up. Returns (φ as the
        server receives it, losses); raises DeviceFault when the result is refused."""
        if self.refused:
            raise DeviceFault(f"device refused at HELLO: {self.refused}")
        t = TRANSPORTS.index(transport)
        algo = 0 if cfg.algo == "tinyreptile" else 1
        P = theta.size
        nc = wire.n_chunks(P, chunk)
        chunks = wire.encode_chunks(wire.THETA, round_id, theta, chunk, t)
        head = wire.encode_round(round_id, r, seed, fp, algo, t, chunk, cfg.k,
                                 cfg.epochs if algo else 0, cfg.device_batch if algo else 0,
                                 F32(cfg.inner_lr))
        commit = wire.frame_encode(wire.encode_commit(round_id))
        self.pending.clear()
        self.link.send(wire.frame_encode(head) + b"".join(wire.frame_encode(c) for c in chunks)
                       + commit)
        deadline = time.monotonic() + self.timeout
        phi = np.zeros(P, F32)
        got, result, tries = set(), None, 0
        bad0 = self.dec.bad
        while True:
            name, f = self._next(deadline)
            rid = f.get("round_id")
            if name == "HELLO":
                self.hello = f
                raise DeviceFault(f"rebooted: HELLO (boot {f['boot']}) during the round")
            if name == "INVALID":
                raise DeviceFault(f"invalid message: {f['why']}")
            if name == "ERROR" and 0 < rid < round_id:
                self.stale += 1
                continue
            if name == "ERROR":
                raise DeviceFault(f"device ERROR {wire.ERRORS.get(f['code'], f['code'])} "
                                  f"(detail {f['detail']}) for round id {rid}")
            if rid is not None and rid < round_id and name != "INVALID":
                self.stale += 1  # a late answer to an earlier, refused attempt: dropped
                continue
            if rid != round_id:
                raise DeviceFault(f"answered for round id {rid}, expected {round_id}")
            if name == "NACK":
                tries += 1
                if tries > RETRIES:
                    raise DeviceFault(f"theta chunks still missing after {RETRIES} retransmissions")
                self.link.send(b"".join(wire.frame_encode(chunks[i]) for i in f["indices"]
                                        if i < nc) + commit)
            elif name == "RESULT":
                if f["status"] != 0:
                    raise DeviceFault(f"device status {f['status']}")
                result = f
            elif name == "PHI":
                i, count = f["index"], f["count"]
                if i >= nc or count != min(chunk, P - i * chunk) or f["transport"] != t:
                    raise DeviceFault(f"PHI chunk {i} of {count} values does not fit the round")
                if t == 0:
                    v = f["values"]
                else:
                    if not np.isfinite(f["scale"][0]) or f["scale"][0] < 0:
                        raise DeviceFault(f"non-finite phi: chunk {i} scale {f['scale'][0]}")
                    v = wire._quant.transport_dequantize_s8(f["q"], f["scale"], max(count, 1))
                if not np.all(np.isfinite(v)):
                    raise DeviceFault(f"non-finite phi in chunk {i}")
                phi[i * chunk:i * chunk + count] = v
                got.add(i)
            elif name == "DONE":
                missing = [i for i in range(nc) if i not in got]
                if result is not None and not missing:
                    self.corrupt = self.dec.bad - bad0
                    return phi, result["losses"]
                tries += 1
                if tries > RETRIES:
                    raise DeviceFault(f"result incomplete after {RETRIES} requests "
                                      f"({self.dec.bad - bad0} corrupt frames dropped)")
                if result is None:
                    self.link.send(commit)  # RESULT lost: the device sends everything again
                else:
                    self.link.send(wire.frame_encode(
                        wire.encode_bitmap(wire.RESEND, round_id, nc, missing)))
            else:
                raise DeviceFault(f"unexpected {name} during the round")


# ------------------------------------------------------------------------------ the fleet

def _tool(cmd):
    from shutil import which
    return which(cmd)


def device_binary(kind, task, seed=0):
    """The device image for `kind`, `task` (and, for digits, whose image holds the seed's
    training pool, `seed`), built with the project's make rules when missing or out of date
    (mk/device_rig.mk; QEMU digits images exist for seed 0)."""
    name = f"device-{task}" if task == "sine" else f"device-{task}-s{seed}"
    if kind == "qemu" and task != "sine" and seed != 0:
        raise ParameterError(f"devices: qemu {task} images are built for seed 0 only "
                             f"(mk/device_rig.mk), not seed {seed}")
    target = {"host": f"build/device/host/{name}", "qemu": f"build/mcu/m4f/{name}.elf"}[kind]
    cmd = ["make", "--no-print-directory", "-s", target]
    res = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    if res.returncode != 0:
        raise ParameterError(f"devices: building {target} failed:\n{res.stdout}")
    return ROOT / target


class Fleet:
    """N devices, ids 0..N-1, of one kind, started and greeted."""

    def __init__(self, kind, n, task, model, need_caps, timeout=None, log_dir=None,
                 make_twin=None, seed=0):
        self.kind, self.n = kind, n
        self.timeout = TIMEOUTS[kind] if timeout is None else timeout
        self.fp = wire.fingerprint(model)
        self.boots = [0] * n
        self.devices = []
        self.log_dir = pathlib.Path(log_dir) if log_dir else None
        if kind in ("host", "qemu"):
            self.binary = device_binary(kind, task, seed)
        self.make_twin = make_twin
        try:
            for i in range(n):
                self.devices.append(RemoteDevice(i, self._link(i), self.timeout))
            for d in self.devices:
                d.handshake(self.fp, model.n_params, need_caps)
        except BaseException:
            self.close()
            raise

    def _argv_env(self, i):
        boot = self.boots[i]
        if self.kind == "host":
            env = dict(os.environ, TR_DEVICE_ID=str(i), TR_DEVICE_BOOT=str(boot))
            return [str(self.binary)], env
        qemu = os.environ.get("QEMU", "qemu-system-arm")
        return [qemu, "-M", QEMU_MACHINE, "-display", "none", "-monitor", "none",
                "-chardev", f"socket,id=uart,path={self._sock(i)},server=on,wait=on",
                "-serial", "chardev:uart", "-semihosting-config", "enable=on,target=native",
                "-kernel", str(self.binary), "-append", f"device={i} boot={boot}"], None

    def _sock(self, i):
        if not hasattr(self, "_sock_dir"):
            import tempfile
            self._sock_dir = tempfile.mkdtemp(prefix="tr-uart-")
        return os.path.join(self._sock_dir, f"uart{i}")

    def _link(self, i):
        if self.kind == "twin":
            return TwinLink(lambda write, i=i: self.make_twin(i, self.boots[i], write))
        argv, env = self._argv_env(i)
        if self.kind == "qemu":
            log = (self.log_dir / f"qemu-{i}.log") if self.log_dir else None
            return SocketLink(argv, self._sock(i), log)
        return ProcessLink(argv, env)  # a host device's console (stderr) is discarded

    def reboot(self, i, greet=False):
        """Reset device i (a fault injection): a new boot value, a new process; with `greet`,
        its HELLO is awaited and checked again."""
        self.boots[i] += 1
        d = self.devices[i]
        if self.kind == "twin":
            d.link.restart()
        else:
            argv, env = self._argv_env(i)
            d.link.argv = argv
            if self.kind == "qemu":
                d.link.restart()
            else:
                d.link.restart(env)
        d.pending.clear()
        d.dec = wire.Decoder()
        if greet:
            d.handshake(*d.expect)

    def __getitem__(self, i):
        return self.devices[i]

    def wire_bytes(self):
        return (sum(d.link.sent for d in self.devices), sum(d.link.received for d in self.devices))

    def close(self):
        for d in self.devices:
            try:
                d.link.close()
            except OSError:
                pass
        if hasattr(self, "_sock_dir"):
            shutil.rmtree(self._sock_dir, ignore_errors=True)


# ------------------------------------------------------------------------ the training loop

def _simulated_round(backend, ws, family, seed, dev_id, r, cfg, transport, theta, chunk):
    """The simulation of one device's round, with the transport's round trips."""
    dev = fl.Device(dev_id, fl.device_task(family, seed, dev_id))
    rng = fl.device_rng(seed, dev_id, r)
    t_in = theta
    if transport == "int8":
        q, s = backend.transport_quantize_s8(theta, chunk)
        t_in = backend.transport_dequantize_s8(q, s, chunk)
    if cfg.algo == "tinyreptile":
        phi, losses = dev.tinyreptile_round(ws, t_in, cfg.k, cfg.inner_lr, rng)
    else:
        phi, losses = dev.batched_round(ws, t_in, cfg.k, cfg.inner_lr, cfg.epochs,
                                        cfg.device_batch, rng)
    if transport == "int8":
        q, s = backend.transport_quantize_s8(phi, chunk)
        phi = backend.transport_dequantize_s8(q, s, chunk)
    return phi, losses


def select(server, r, attempt):
    """The devices of round r at its `attempt`-th try: attempt 0 is server.select(r), the
    simulation's draw; each repeat after a refused result takes the next draw of the same
    counter-based stream (seed, KEY_SERVER, 0, r), i.e. the selection drawn attempt + 1 times
    in a row from one cursor."""
    if attempt == 0:
        return server.select(r)
    rng = fl.draws(server.seed, fl.KEY_SERVER, 0, r)
    m = server.cfg.devices_per_round
    for _ in range(attempt + 1):
        ids = ([rng.integers(server.cfg.devices)] if m == 1 else
               [int(i) for i in rng.choice(server.cfg.devices, size=m, replace=False)])
    return ids


def _atomic_write(path, text):
    """Write a new file and rename it over the old one: a reader (or a restart after the
    process was killed) sees the old or the new file, never a mix. (No fsync: that guards
    against power loss, not against a killed process, and would cost a disk flush per round.)"""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Trainer:
    """`tasks.run`'s trainer (the signature of algorithms.train): the federated loop over a
    fleet, or over the simulation (fleet None) with a transport and a fault log to replay.

    transport   "float32" or "int8" (chunks of `chunk` values, one scale each)
    skip        a fault log to replay: {round: number of refused draws}; the simulation
                discards that many draws at that round, as the fleet's server did
    faults      optional {round_id: kind} to inject into a fleet (FaultyLink kinds)
    checkpoint  a directory: DIR/checkpoint.json written atomically after every round
    resume      continue from DIR/checkpoint.json
    log         callable(str) for the fault log lines (default: stderr)
    """

    def __init__(self, fleet=None, transport="float32", chunk=CHUNK, skip=None, faults=None,
                 checkpoint=None, resume=False, log=None):
        if transport not in TRANSPORTS:
            raise ParameterError(f"transport: {transport!r} is not one of {', '.join(TRANSPORTS)}")
        self.fleet, self.transport, self.chunk = fleet, transport, chunk
        self.skip = dict(skip or {})
        self.inject = dict(faults or {})
        self.ckpt = pathlib.Path(checkpoint) / "checkpoint.json" if checkpoint else None
        self.resume = resume
        self.log = log or (lambda line: print(line, file=sys.stderr))
        self.fault_log = []
        self.rounds_done = 0
        self.wall = 0.0

    # the fault log: one entry per refused attempt
    def _fault(self, r, attempt, round_id, dev_id, reason):
        e = {"round": r, "attempt": attempt, "round_id": round_id, "device": dev_id,
             "reason": reason}
        self.fault_log.append(e)
        self.log(f"fault: round {r} attempt {attempt} (round id {round_id}) device {dev_id}: "
                 f"{reason}; theta kept, round repeated with the next draw")

    def _run_id(self, server):
        """What a checkpoint must agree on to be resumed: seed, configuration, transport."""
        return {"seed": server.seed, "config": server.cfg.as_dict(), "transport": self.transport,
                "chunk": self.chunk}

    def _save(self, server, r, attempt, round_id, hist, block):
        if self.ckpt is None:
            return
        state = {"version": 1, "run": self._run_id(server), "round": r, "attempt": attempt,
                 "round_id": round_id,
                 "theta": base64.b64encode(server.theta.astype("<f4").tobytes()).decode(),
                 "theta_sha256": hashlib.sha256(server.theta.astype("<f4").tobytes()).hexdigest(),
                 "faults": self.fault_log, "history": hist, "block": block}
        _atomic_write(self.ckpt, json.dumps(state, default=int))

    def _load(self, server):
        state = json.loads(self.ckpt.read_text())
        if state.get("run") != json.loads(json.dumps(self._run_id(server))):
            raise ParameterError(f"resume: {self.ckpt} was written by a run with other options "
                                 f"({state.get('run')}); start a new run or use its options")
        theta = np.frombuffer(base64.b64decode(state["theta"]), "<f4").astype(F32)
        if hashlib.sha256(theta.astype("<f4").tobytes()).hexdigest() != state["theta_sha256"]:
            raise ParameterError(f"resume: {self.ckpt}: theta does not match its checksum")
        if theta.size != server.theta.size:
            raise ParameterError(f"resume: {self.ckpt}: {theta.size} parameters, the model has "
                                 f"{server.theta.size}")
        server.theta = theta.copy()
        self.fault_log = state["faults"]
        return (state["round"], state["attempt"], state["round_id"], state["history"],
                state["block"])

    def __call__(self, model, backend, family, cfg, seed, theta0=None, evaluate=None,
                 eval_every=0, progress=None):
        if theta0 is None:
            theta0 = model.init(fl.stream(seed, fl.KEY_INIT))
        server = fl.Server(backend, theta0, cfg, seed)
        ws = model.workspace(backend)
        fp = wire.fingerprint(model)
        hist, block = {"curve": [], "device_loss": []}, []

        def record(r):
            if evaluate is not None:
                hist["curve"].append({"round": r, **evaluate(server.theta)})
            if block:
                hist["device_loss"].append({"round": r, "loss": float(np.mean(block))})
                block.clear()

        r, round_id, attempt = 0, 0, 0
        if self.resume and self.ckpt is not None and self.ckpt.exists():
            r, attempt, round_id, hist, block = self._load(server)
            self.log(f"resumed at round {r} attempt {attempt} from {self.ckpt}")
        else:
            record(0)
            self._save(server, 0, 0, 0, hist, block)
        t0 = time.perf_counter()
        while r < cfg.rounds:
            ids = select(server, r, attempt)
            round_id += 1
            if self.fleet is None:
                if attempt < self.skip.get(r, 0):  # a draw the fleet's server refused
                    attempt += 1
                    continue
                results = [_simulated_round(backend, ws, family, seed, i, r, cfg,
                                            self.transport, server.theta, self.chunk)
                           for i in ids]
            else:
                results = self._fleet_round(ids, round_id, r, attempt, seed, fp, cfg, server)
                if results is None:
                    attempt += 1
                    self._save(server, r, attempt, round_id, hist, block)
                    continue
            server.aggregate(r, [phi for phi, _ in results])
            block.extend(float(np.mean(losses, dtype=np.float64)) for _, losses in results)
            r += 1
            attempt = 0
            self.rounds_done += 1
            if progress is not None:
                progress(r)
            if eval_every and r % eval_every == 0 and r < cfg.rounds:
                record(r)
            self._save(server, r, 0, round_id, hist, block)
        self.wall = time.perf_counter() - t0
        record(cfg.rounds)
        return server.theta, hist

    def _fleet_round(self, ids, round_id, r, attempt, seed, fp, cfg, server):
        results = []
        for dev_id in ids:
            dev = self.fleet[dev_id]
            kind = self.inject.get(round_id)
            try:
                if kind is not None:
                    out = inject(self.fleet, dev, kind, round_id, r, seed, fp, cfg,
                                 self.transport, server.theta, self.chunk)
                else:
                    out = dev.run_round(round_id, r, seed, fp, cfg, self.transport,
                                        server.theta, self.chunk)
            except DeviceFault as exc:
                self._fault(r, attempt, round_id, dev_id, str(exc))
                return None
            if getattr(dev, "corrupt", 0):
                self.log(f"note: round {r} (round id {round_id}) device {dev_id}: "
                         f"{dev.corrupt} corrupt frame(s) dropped and retransmitted")
                dev.corrupt = 0
            results.append(out)
        return results

    def skip_log(self):
        """The fault log as `skip` for a replay: {round: refused draws}."""
        out = {}
        for e in self.fault_log:
            out[e["round"]] = out.get(e["round"], 0) + 1
        return out


# --------------------------------------------------------------------------- fault injection

FAULTS = ("timeout", "drop", "corrupt", "corrupt-once", "wrong-round", "nan", "reboot", "exit")


class _Tap:
    """Wraps a device's link for one round and rewrites what the device sends."""

    def __init__(self, link, kind):
        self.link, self.kind = link, kind
        self.dec = wire.Decoder()
        self.sent_bytes = 0
        self.done_once = False

    def __getattr__(self, name):
        return getattr(self.link, name)

    def send(self, data):
        return self.link.send(data)

    def recv(self, timeout):
        data = self.link.recv(timeout)
        if not data:
            return data
        k = self.kind
        if k == "timeout":
            return b""
        if k == "drop":  # the device stops in the middle of its first frame
            if self.done_once:
                return b""
            self.done_once = True
            return data[:max(1, min(len(data), 40) // 2)]
        out = bytearray()
        for p in self.dec.feed(data):
            p = bytearray(p)
            if k in ("corrupt", "corrupt-once") and p[0] == wire.PHI:
                if k == "corrupt" or not self.done_once:
                    self.done_once = True
                    w = bytearray(wire.frame_encode(bytes(p)))
                    w[len(w) // 2] ^= 0x5A if w[len(w) // 2] != 0x5A else 0x33
                    out += w
                    continue
            if k == "wrong-round" and p[0] in (wire.RESULT, wire.PHI, wire.DONE):
                p[1:5] = (int.from_bytes(p[1:5], "little") + 7).to_bytes(4, "little")
            if k == "nan" and p[0] == wire.PHI and not self.done_once:
                self.done_once = True
                if len(p) == 9 + 4 * int.from_bytes(p[7:9], "little"):
                    p[9:13] = np.array([np.nan], "<f4").tobytes()
                else:
                    p[9:13] = np.array([np.inf], "<f4").tobytes()
            out += wire.frame_encode(bytes(p))
        return bytes(out)


def inject(fleet, dev, kind, round_id, r, seed, fp, cfg, transport, theta, chunk):
    """Run one round on `dev` with the fault `kind` (FAULTS) between it and the server: a proxy
    on the link rewrites or withholds the device's bytes, or the device is reset or killed."""
    if kind not in FAULTS:
        raise ParameterError(f"faults: {kind!r} is not one of {', '.join(FAULTS)}")
    if kind == "reboot":
        fleet.reboot(dev.id)  # the device resets as the round starts: its HELLO arrives first
        return dev.run_round(round_id, r, seed, fp, cfg, transport, theta, chunk)
    if kind == "exit":
        if isinstance(dev.link, TwinLink):
            raise ParameterError("faults: 'exit' needs a device process (host or qemu)")
        dev.link.proc.kill()  # the device dies; the server's ends of the link stay open
        dev.link.proc.wait()
        try:
            return dev.run_round(round_id, r, seed, fp, cfg, transport, theta, chunk)
        finally:
            fleet.reboot(dev.id, greet=True)
    real = dev.link
    dev.link = _Tap(real, kind)
    timeout = dev.timeout
    if kind in ("timeout", "drop"):
        dev.timeout = min(dev.timeout, 2.0)
    try:
        return dev.run_round(round_id, r, seed, fp, cfg, transport, theta, chunk)
    finally:
        dev.link = real
        dev.timeout = timeout
        if kind in ("timeout", "drop"):
            # what the device sent meanwhile belongs to the refused round: drain and resync
            time.sleep(0.05)
            while real.recv(0.2):
                pass
        dev.pending.clear()
        dev.dec = wire.Decoder()


def parse_faults(text):
    """'ROUND_ID:KIND,ROUND_ID:KIND,...' -> {round_id: kind}."""
    out = {}
    for part in filter(None, (text or "").split(",")):
        rid, sep, kind = part.partition(":")
        if not sep or not rid.isdigit() or int(rid) < 1 or kind not in FAULTS:
            raise ParameterError(f"inject_faults: {part!r} is not ROUND_ID:KIND with ROUND_ID "
                                 f">= 1 and KIND one of {', '.join(FAULTS)}")
        out[int(rid)] = kind
    return out


def caps_needed(cfg, transport):
    c = wire.CAP_TINYREPTILE if cfg.algo == "tinyreptile" else wire.CAP_BATCHED
    return c | (wire.CAP_F32 if transport == "float32" else wire.CAP_S8)
