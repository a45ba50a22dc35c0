"""make rig-bench: devices in the loop, measured. TinyReptile on sine over a host fleet (C client
processes on pipes) and a QEMU fleet (Cortex-M4F images, UART on a socket), float32 and int8
transport: rounds per second of the server's loop, and the bytes that crossed the links per
round (θ down, φ up, framing and control included), against the raw parameter bytes.

    python -m tinyreptile_ref.tools.rig_bench [--host-devices 100] [--host-rounds 2000]
                                              [--qemu-devices 2] [--qemu-rounds 10]
"""
import argparse
import json
import time

from ..backend import get_backend
from ..federated import devices as dv
from ..federated import tasks as tk


def measure(kind, n, rounds, transport, algo="tinyreptile"):
    fam = tk.family("sine", 0)
    model = fam.model()
    cfg = tk.config("sine", algo, rounds=rounds, devices=n)
    t0 = time.perf_counter()
    fleet = dv.Fleet(kind, n, "sine", model, dv.caps_needed(cfg, transport))
    start = time.perf_counter() - t0
    try:
        d0, u0 = fleet.wire_bytes()
        t = dv.Trainer(fleet, transport=transport, log=lambda s: None)
        t(model, get_backend("c"), fam, cfg, 0)
        d1, u1 = fleet.wire_bytes()
    finally:
        fleet.close()
    raw = (4 if transport == "float32" else 1) * model.n_params * cfg.devices_per_round
    return {"devices": f"{kind}:{n}", "algo": algo, "transport": transport, "rounds": rounds,
            "rounds_per_s": rounds / t.wall, "fleet_start_s": start,
            "down_per_round": (d1 - d0) / rounds, "up_per_round": (u1 - u0) / rounds,
            "raw_per_direction": raw, "faults": len(t.fault_log)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host-devices", type=int, default=100)
    ap.add_argument("--host-rounds", type=int, default=2000)
    ap.add_argument("--qemu-devices", type=int, default=2)
    ap.add_argument("--qemu-rounds", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = []
    for transport in ("float32", "int8"):
        rows.append(measure("host", args.host_devices, args.host_rounds, transport))
    rows.append(measure("host", args.host_devices, args.host_rounds // 4, "float32", "fedavg"))
    if args.qemu_devices:
        for transport, scale in (("float32", 1), ("int8", 3)):
            rows.append(measure("qemu", args.qemu_devices, args.qemu_rounds * scale, transport))
    print("| fleet | algorithm | transport | rounds | rounds/s | down B/round | up B/round "
          "| raw B per device and direction | overhead |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        m = 5 if r["algo"] == "fedavg" else 1
        over = (r["down_per_round"] + r["up_per_round"]) / (2 * r["raw_per_direction"]) - 1
        print(f"| {r['devices']} | {r['algo']} | {r['transport']} | {r['rounds']:,} | "
              f"{r['rounds_per_s']:,.1f} | {r['down_per_round']:,.0f} | {r['up_per_round']:,.0f} "
              f"| {r['raw_per_direction'] // m:,} | {100 * over:.1f} % |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
