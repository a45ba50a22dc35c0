"""The server side of a fleet on Flower: the federated loop of the device rig
(federated/devices.py, `Trainer`) over a Flower `Grid` instead of links.

Nothing of Flower's own sampling or aggregation is used: each round the server draws its
devices with the project's seeded rule (`devices.select`, which is `algorithms.Server.select`
at the first attempt), sends each drawn device index in the message's config record to the
node that hosts it, and aggregates the returned φ with the project's kernels in device order
(`algorithms.Server.aggregate`: the reptile interpolation, the running mean). So θ equals
`train`'s bit for bit for the same seed and options when the clients are simulated devices
or host devices, whatever the node ids, the reply order or the number of nodes.

A message to a node (message type "train") carries
  RecordDict {"theta": ArrayRecord {"theta": float32[P]},
              "config": ConfigRecord {task, seed, device, round, round_id, transport, chunk,
                                      cfg (the Config as JSON)}}
and its reply
  RecordDict {"phi": ArrayRecord {"phi": float32[P], "losses": float32[steps]},
              "result": ConfigRecord {device, round_id}}.
A "query" message asks a node which devices it fronts; the reply's ConfigRecord holds
{"devices": "any"} (it simulates any device) or {"devices": "range", "first": a, "count": n}.

Faults are the rig's (docs/protocol.md): no reply in time (the node disappeared), an error
reply (the client raised, or its device's result was refused), a malformed reply (missing or
mis-shaped arrays, another round id or device) or non-finite φ: the result is refused, θ is
kept, the fault is logged, and the same round is repeated with the server's next draw. The
fault log replayed into the simulation (`devices.Trainer(skip=...)`) gives the same θ.
"""
import json
import time

import numpy as np

from flwr.app import ArrayRecord, ConfigRecord, Message, RecordDict

from ...errors import ParameterError
from .. import devices as dv

F32 = np.float32
ROUTINGS = ("any", "query")
#: Seconds to wait for a node's reply to a train message, by default.
REPLY_TIMEOUT = 60.0
#: Refused attempts in a row after which the run stops (no node can serve the draws).
MAX_ATTEMPTS = 50


def cfg_json(cfg):
    return json.dumps(cfg.as_dict(), sort_keys=True)


def train_message(theta, task, seed, dev_id, r, round_id, cfg, transport, chunk):
    """The content of a train message: θ and the round's control, the device index in it."""
    conf = ConfigRecord({"task": task, "seed": int(seed), "device": int(dev_id), "round": int(r),
                         "round_id": int(round_id), "transport": transport, "chunk": int(chunk),
                         "cfg": cfg_json(cfg)})
    return RecordDict({"theta": ArrayRecord({"theta": _array(theta)}), "config": conf})


def _array(a):
    from flwr.app import Array
    return Array(np.ascontiguousarray(a))


def result_content(dev_id, round_id, phi, losses, source="simulated"):
    """The content of a train reply: φ, the step losses, the echo of the control, and what
    computed φ (`source`: "simulated", or the kind of the proxied device, "host" or "qemu")."""
    return RecordDict({"phi": ArrayRecord({"phi": _array(np.asarray(phi, F32)),
                                           "losses": _array(np.asarray(losses, F32))}),
                       "result": ConfigRecord({"device": int(dev_id), "round_id": int(round_id),
                                               "source": str(source)})})


def check_reply(reply, dev_id, round_id, n_params):
    """(φ, losses) of a train reply; DeviceFault naming what is wrong with it."""
    if reply.has_error():
        e = reply.error
        raise dv.DeviceFault(f"client error {e.code}: {e.reason}")
    c = reply.content
    try:
        res = c["result"]
        arrs = c["phi"]
        phi = arrs["phi"].numpy()
        losses = arrs["losses"].numpy()
        got_dev, got_rid = res["device"], res["round_id"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise dv.DeviceFault(f"malformed reply: {exc.__class__.__name__} {exc}") from None
    if got_rid != round_id:
        raise dv.DeviceFault(f"answered for round id {got_rid}, expected {round_id}")
    if got_dev != dev_id:
        raise dv.DeviceFault(f"answered for device {got_dev}, expected {dev_id}")
    if phi.dtype != F32 or phi.shape != (n_params,):
        raise dv.DeviceFault(f"malformed reply: phi is {phi.dtype}{list(phi.shape)}, expected "
                             f"float32[{n_params}]")
    if losses.dtype != F32 or losses.ndim != 1:
        raise dv.DeviceFault(f"malformed reply: losses are {losses.dtype}{list(losses.shape)}")
    if not np.all(np.isfinite(phi)):
        raise dv.DeviceFault("non-finite phi")
    return np.array(phi, F32), np.array(losses, F32), str(res.get("source", "?"))


def wait_for_nodes(grid, n, timeout, poll=0.2):
    """The sorted node ids once at least `n` nodes are connected; ParameterError naming
    `min_nodes` when they are not there within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        ids = sorted(grid.get_node_ids())
        if len(ids) >= n:
            return ids
        if time.monotonic() >= deadline:
            raise ParameterError(f"min_nodes: {len(ids)} of {n} nodes connected within "
                                 f"{timeout:g} s")
        time.sleep(poll)


class GridDevice:
    """Device `id` as the server sees it through the Grid: run_round sends it θ and checks
    the reply, like devices.RemoteDevice over a link (the same signature)."""

    corrupt = 0

    def __init__(self, fleet, device_id):
        self.fleet, self.id = fleet, device_id

    def run_round(self, round_id, r, seed, fp, cfg, transport, theta, chunk=dv.CHUNK):
        f = self.fleet
        node = f.route(self.id)
        content = train_message(theta, f.task, seed, self.id, r, round_id, cfg, transport, chunk)
        msg = Message(content=content, dst_node_id=node, message_type="train")
        t0 = time.perf_counter()
        replies = list(f.grid.send_and_receive([msg], timeout=f.timeout))
        f.round_trips.append(time.perf_counter() - t0)
        if not replies:
            f.lost(node)
            raise dv.DeviceFault(f"timeout: no reply from node {node} within {f.timeout:g} s "
                                 f"(the node disappeared?)")
        reply = replies[0]
        if reply.has_error() and reply.error.code in f.node_gone_codes:
            f.lost(node)
        phi, losses, source = check_reply(reply, self.id, round_id, theta.size)
        f.sources[source] = f.sources.get(source, 0) + 1
        return phi, losses


class GridFleet:
    """The population 0..devices-1 behind the Grid's nodes, for devices.Trainer.

    routing "any"    every node simulates any device: device i goes to the i mod n-th of the
                     nodes in id order (which node runs a device does not change its result)
    routing "query"  each node is asked which devices it fronts (a "query" message): a range
                     of device indices (a proxy to devices on links) or any (simulated)
    """

    kind = "flower"

    def __init__(self, grid, task, devices, min_nodes=1, routing="any", timeout=REPLY_TIMEOUT,
                 wait=120.0):
        if routing not in ROUTINGS:
            raise ParameterError(f"routing: {routing!r} is not one of {', '.join(ROUTINGS)}")
        self.grid, self.task, self.n = grid, task, devices
        self.routing, self.timeout, self.wait = routing, timeout, wait
        self.round_trips = []
        self.sources = {}  # results accepted, by what computed them
        self.node_gone_codes = set()
        self.gone = set()
        self.nodes = wait_for_nodes(grid, min_nodes, wait)
        self.fronts = {}
        self.any_nodes = list(self.nodes)
        if routing == "query":
            self._query(self.nodes)

    def _query(self, nodes):
        msgs = [Message(content=RecordDict({"query": ConfigRecord({"what": "devices"})}),
                        dst_node_id=n, message_type="query") for n in nodes]
        self.any_nodes = []
        for rep in self.grid.send_and_receive(msgs, timeout=self.timeout):
            node = rep.metadata.src_node_id
            if rep.has_error() or "devices" not in rep.content:
                continue
            d = rep.content["devices"]
            if d.get("devices") == "any":
                self.any_nodes.append(node)
            elif d.get("devices") == "range":
                for i in range(int(d["first"]), int(d["first"]) + int(d["count"])):
                    self.fronts.setdefault(i, node)
        self.any_nodes.sort()

    def lost(self, node):
        """A node that did not answer is not routed to again."""
        self.gone.add(node)
        self.any_nodes = [n for n in self.any_nodes if n != node]
        self.fronts = {i: n for i, n in self.fronts.items() if n != node}

    def route(self, dev_id):
        if dev_id in self.fronts:
            return self.fronts[dev_id]
        if not self.any_nodes:
            raise dv.DeviceFault(f"no node fronts device {dev_id}")
        return self.any_nodes[dev_id % len(self.any_nodes)]

    def __getitem__(self, dev_id):
        return GridDevice(self, dev_id)

    def wire_bytes(self):
        return (0, 0)

    def close(self):
        pass


class FlowerTrainer(dv.Trainer):
    """The rig's loop (devices.Trainer: selection, fault rule, aggregation, checkpoints) over a
    GridFleet; stops with a ParameterError after MAX_ATTEMPTS refused attempts in a row."""

    def _fault(self, r, attempt, round_id, dev_id, reason):
        super()._fault(r, attempt, round_id, dev_id, reason)
        if attempt + 1 >= MAX_ATTEMPTS:
            raise ParameterError(f"devices: round {r} refused {MAX_ATTEMPTS} times in a row; "
                                 f"last: device {dev_id}: {reason}")

    def summary(self):
        rt = self.fleet.round_trips
        return {"nodes": len(self.fleet.nodes), "routing": self.fleet.routing,
                "faults": self.fault_log, "rounds": self.rounds_done, "loop_wall_s": self.wall,
                "rounds_per_s": self.rounds_done / self.wall if self.wall > 0 else None,
                "round_trip_s_mean": float(np.mean(rt)) if rt else None,
                "results_by_source": dict(self.fleet.sources)}
