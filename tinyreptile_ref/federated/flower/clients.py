"""The client side of a fleet on Flower: ClientApps that answer the server's train messages
(strategy.py) as a device would.

  simulated  the node trains as any device of the population, the simulation's device round
             on the C backend (`devices._simulated_round`, i.e. `algorithms.Device`): device
             i's task from (seed, i), its samples in round r from the counter-based generator
             keyed by (seed, i, r). Nothing but θ, φ and control crosses the message.
  proxy      the node fronts devices on links (the rig's host builds or QEMU images; MCUs on
             serial links the same way): device i of the message gets θ over the wire
             protocol (docs/protocol.md) and sends φ back, which the node relays. A device's
             refused result (devices.DeviceFault) becomes an error reply, so the server
             applies the rig's rule.

The node's options come from its node config (flower-supernode --node-config):
  devices   "host:N" or "qemu:N": a proxy fronting devices first .. first+N-1; absent: simulated
  first     the index of the first device it fronts (default 0)
  task      the task of the devices (default "sine")
  backend   the simulated device's backend (default "c")
  inject    fault injection for tests, "ROUND_ID:KIND,...": KIND error (the client raises),
            nan (φ non-finite), malformed (φ of the wrong length), wrong-round (another round
            id in the reply), hang (the client touches the file named by the node config's
            `marker`, if any, and does not answer for 60 s: a test kills its SuperNode then)
"""
import functools
import json
import os
import time
import types

import numpy as np

from flwr.app import ConfigRecord, Message, RecordDict
from flwr.clientapp import ClientApp

from ...errors import ParameterError
from .. import algorithms as fl
from .. import devices as dv
from .. import tasks as tk
from ...runtime import client as wire
from .strategy import result_content

F32 = np.float32
INJECT = ("error", "nan", "malformed", "wrong-round", "hang")


def parse_inject(text):
    """'ROUND_ID:KIND,...' -> {round_id: kind}; ParameterError naming `inject` else."""
    out = {}
    for part in filter(None, str(text or "").split(",")):
        rid, sep, kind = part.partition(":")
        if not sep or not rid.isdigit() or int(rid) < 1 or kind not in INJECT:
            raise ParameterError(f"inject: {part!r} is not ROUND_ID:KIND with ROUND_ID >= 1 and "
                                 f"KIND one of {', '.join(INJECT)}")
        out[int(rid)] = kind
    return out


def _control(msg):
    c = msg.content["config"]
    cfg = fl.Config(**json.loads(c["cfg"]))
    theta = msg.content["theta"]["theta"].numpy()
    return c, cfg, np.array(theta, F32)


@functools.lru_cache(maxsize=4)
def _simulator(task, seed, backend):
    """What a simulated device keeps between messages in one process: the task family, the
    model's workspace (its RAM) and the backend."""
    from ...backend import get_backend
    be = get_backend(backend)
    fam = tk.family(task, seed)
    model = fam.model()
    return be, fam, model.workspace(be)


def simulated_round(msg, backend="c"):
    """The reply content of a train message, computed as the simulation computes the device."""
    c, cfg, theta = _control(msg)
    be, fam, ws = _simulator(c["task"], int(c["seed"]), backend)
    phi, losses = dv._simulated_round(be, ws, fam, int(c["seed"]), int(c["device"]),
                                      int(c["round"]), cfg, c["transport"], theta, int(c["chunk"]))
    return result_content(c["device"], c["round_id"], phi, losses)


class Proxy:
    """Devices first .. first+n-1 of one kind on links, started when first addressed and kept
    for the life of the process (a SuperNode's ClientApp process lives for one message, so
    there each message opens its device's link and greets it anew)."""

    def __init__(self, kind, n, first=0, task="sine", timeout=None):
        if kind not in ("host", "qemu"):
            raise ParameterError(f"devices: {kind!r} is not host or qemu")
        self.kind, self.n, self.first, self.task = kind, n, first, task
        self.timeout = dv.TIMEOUTS[kind] if timeout is None else timeout
        self.links = {}
        self.model = tk.family(task, 0).model()
        self.fp = wire.fingerprint(self.model)

    def fronts(self, i):
        return self.first <= i < self.first + self.n

    def device(self, i, caps):
        d = self.links.get(i)
        if d is None:
            ns = types.SimpleNamespace(kind=self.kind, boots={i: 0}, log_dir=None,
                                       binary=dv.device_binary(self.kind, self.task))
            argv, env = dv.Fleet._argv_env(ns, i)  # the rig's way of starting device i
            d = dv.RemoteDevice(i, dv.ProcessLink(argv, env), self.timeout)
            self.links[i] = d
            d.handshake(self.fp, self.model.n_params, caps)
        return d

    def round(self, msg):
        c, cfg, theta = _control(msg)
        i = int(c["device"])
        if not self.fronts(i):
            raise ParameterError(f"device: {i} is not fronted by this node "
                                 f"({self.first}..{self.first + self.n - 1})")
        if c["task"] != self.task:
            raise ParameterError(f"task: {c['task']!r}, this node's devices run {self.task!r}")
        d = self.device(i, dv.caps_needed(cfg, c["transport"]))
        try:
            phi, losses = d.run_round(int(c["round_id"]), int(c["round"]), int(c["seed"]),
                                      self.fp, cfg, c["transport"], theta, int(c["chunk"]))
        except dv.DeviceFault:
            self.links.pop(i).link.close()  # a refused device is greeted anew next time
            raise
        return result_content(i, c["round_id"], phi, losses, self.kind)

    def close(self):
        for d in self.links.values():
            d.link.close()
        self.links.clear()


_PROXIES = {}


def _proxy(node_config):
    kind, n = dv.parse_devices(node_config["devices"])
    key = (kind, n, int(node_config.get("first", 0)), node_config.get("task", "sine"))
    if key not in _PROXIES:
        _PROXIES[key] = Proxy(kind, n, key[2], key[3])
    return _PROXIES[key]


def _inject(kind, msg, content, marker=None):
    """Rewrite a reply (or act) as fault `kind`."""
    if kind == "error":
        raise RuntimeError("injected client error")
    if kind == "hang":  # mid-round: the node does not answer (a test kills its SuperNode)
        if marker:
            with open(marker, "w") as f:
                f.write(f"{os.getpid()}\n")
        time.sleep(60)
        raise RuntimeError("hang: the SuperNode was not stopped")
    phi = content["phi"]["phi"].numpy().copy()
    losses = content["phi"]["losses"].numpy()
    res = content["result"]
    dev, rid, src = res["device"], res["round_id"], res["source"]
    if kind == "nan":
        phi[len(phi) // 2] = np.nan
    elif kind == "malformed":
        phi = phi[:-1]
    elif kind == "wrong-round":
        rid += 7
    return result_content(dev, rid, phi, losses, src)


def handle(msg, node_config, inject=None, backend=None):
    """The reply to one message: a "query" says which devices the node fronts; a "train"
    runs device `config.device`'s round (simulated, or on the proxy's device)."""
    mtype = msg.metadata.message_type
    proxied = "devices" in node_config
    if mtype.startswith("query"):
        if proxied:
            p = _proxy(node_config)
            d = {"devices": "range", "first": p.first, "count": p.n}
        else:
            d = {"devices": "any"}
        return Message(RecordDict({"devices": ConfigRecord(d)}), reply_to=msg)
    if not mtype.startswith("train"):
        raise ParameterError(f"message_type: {mtype!r} is not train or query")
    inject = dict(inject if inject is not None else parse_inject(node_config.get("inject")))
    kind = inject.get(int(msg.content["config"]["round_id"]))
    if kind in ("error", "hang"):
        _inject(kind, msg, None, node_config.get("marker"))
    if proxied:
        content = _proxy(node_config).round(msg)
    else:
        content = simulated_round(msg, backend or node_config.get("backend", "c"))
    if kind is not None:
        content = _inject(kind, msg, content)
    return Message(content, reply_to=msg)


def client_app(inject=None, backend=None):
    """A ClientApp answering train and query messages (options from the node config; `inject`
    and `backend` override them, for the simulation engine where node configs are Flower's)."""
    app = ClientApp()

    @app.train()
    def train(msg, context):
        return handle(msg, context.node_config, inject, backend)

    @app.query()
    def query(msg, context):
        return handle(msg, context.node_config, inject, backend)

    return app
