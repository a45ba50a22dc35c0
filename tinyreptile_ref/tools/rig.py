"""The rig on the command line: `train --devices KIND:N` trains with N devices on links
(federated/devices.py), `--transport int8` uses the chunked int8 transport (with or without
devices), `--resume` continues from DIR/checkpoint.json, `--inject-faults` puts faults between
server and devices, `--device-timeout` bounds a device's round."""
import argparse
import contextlib
import json
import os
import sys

from ..federated import devices as dv


def devices_arg(text):
    """--devices: an integer population size (the simulation) or KIND:N (a fleet of N)."""
    if text.isdigit():
        if int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text} is less than 1")
        return int(text)
    try:
        return dv.parse_devices(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None


devices_arg.__name__ = "integer >= 1 or KIND:N"


def add_options(p):
    g = p.add_argument_group("devices in the loop (docs/protocol.md)")
    g.add_argument("--transport", choices=dv.TRANSPORTS, default="float32",
                   help="how theta and phi travel: raw float32 (default) or the library's int8 "
                        "transport, one scale per chunk of 256 values (the simulation applies "
                        "the same round trips)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run from DIR/checkpoint.json (written after every round; "
                        "the options must be the run's own; without a checkpoint: a new run)")
    g.add_argument("--inject-faults", metavar="ID:KIND,...", type=dv.parse_faults, default={},
                   help="fault injection between server and devices at the given round ids: "
                        + ", ".join(dv.FAULTS))
    g.add_argument("--device-timeout", type=float, metavar="S",
                   help="seconds a device may take for one round (default: host 10, qemu 120)")


def split_devices(args):
    """(population size or None, (kind, N) or None) from --devices."""
    d = args.devices
    if isinstance(d, tuple):
        return d[1], d
    return d, None


@contextlib.contextmanager
def trainer(args, task, cfg, model, family):
    """The trainer for tasks.run (None: the plain simulation) and its fleet, closed after."""
    _, spec = split_devices(args)
    if spec is None and args.transport == "float32" and not args.resume and not args.inject_faults:
        yield None
        return
    os.makedirs(args.out, exist_ok=True)
    fleet = None
    log_path = os.path.join(args.out, "faults.log")
    log_file = open(log_path, "a" if args.resume else "w")

    def log(line):
        log_file.write(line + "\n")
        log_file.flush()
        if not args.quiet:  # over the progress line, which the next round draws again
            print(f"\r{line}", file=sys.stderr, flush=True)

    try:
        if spec is not None:
            kind, n = spec
            fleet = dv.Fleet(kind, n, task, model, dv.caps_needed(cfg, args.transport),
                             timeout=args.device_timeout, log_dir=args.out, seed=args.seed,
                             make_twin=lambda i, boot, write: dv.twin_client(model, family, i,
                                                                             boot, write))
            for d in fleet.devices:
                if d.refused:
                    log(f"refused at HELLO: device {d.id}: {d.refused}")
        elif args.inject_faults:
            raise dv.ParameterError("inject_faults: needs --devices KIND:N")
        t = dv.Trainer(fleet, transport=args.transport, faults=args.inject_faults,
                       checkpoint=args.out, resume=args.resume, log=log)
        t.kind = spec
        yield t
    finally:
        if fleet is not None:
            fleet.close()
        log_file.close()


def report(res, t):
    """The rig's figures in results.json: wire bytes per round, rounds per second, faults."""
    if t is None:
        return
    r = {"transport": t.transport, "chunk": t.chunk, "faults": t.fault_log,
         "rounds_in_this_process": t.rounds_done, "loop_wall_s": t.wall}
    if t.fleet is not None:
        down, up = t.fleet.wire_bytes()
        r.update({"devices": f"{t.fleet.kind}:{t.fleet.n}", "bytes_down": down, "bytes_up": up})
        if t.rounds_done:
            r["bytes_per_round"] = (down + up) / t.rounds_done
            r["rounds_per_s"] = t.rounds_done / t.wall if t.wall > 0 else None
    res["rig"] = r
    with open(os.path.join(os.path.dirname(t.ckpt), "rig.json"), "w") as f:
        json.dump(r, f, indent=1)
