"""The main job (`make demo`): TinyReptile, Reptile and FedAvg learn an initialization for
sine-wave regression on the C backend; then a table of quality and device cost, the results
as JSON and a figure (learning curves; one held-out task before and after adaptation).

python -m tinyreptile_ref demo [--out DIR] [--backend c|numpy] [--seed S] [--scale F]
"""
import io
import json
import os
import time

import numpy as np

from ..federated import algorithms as fl
from ..backend import get_backend
from ..federated import tasks as tk
from .output import check_out_dir, progress_reporter, provenance, write_atomic, write_outputs

F32 = np.float32
ALGOS = ("tinyreptile", "reptile", "fedavg")
LABELS = {"tinyreptile": "TinyReptile", "reptile": "Reptile", "fedavg": "FedAvg",
          "init": "untrained init"}
COLORS = {"tinyreptile": "C0", "reptile": "C1", "fedavg": "C2", "init": "0.5"}


def _si(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def table(results, init):
    """The comparison table as text."""
    head = (f"{'algorithm':14s} {'rounds':>6s} {'MSE after adapt.':>17s} {'before':>6s} "
            f"{'RAM/step':>9s} {'sent/round':>10s} {'sent total':>10s} {'MACs/round':>10s} "
            f"{'wall':>7s}")
    lines = [head, "-" * len(head)]
    for a, r in results.items():
        t = r["eval"]["trained"]
        c = r["costs"]
        lines.append(
            f"{LABELS[a]:14s} {r['config']['rounds']:6d} "
            f"{t['after']['mean']:8.3f} ± {t['after']['std']:6.3f} {t['before']['mean']:6.2f} "
            f"{c['device_ram_bytes']:7d} B {_si(c['bytes_per_round']) + 'B':>10s} "
            f"{_si(c['bytes_total']) + 'B':>10s} {_si(c['device_macs_per_round']):>10s} "
            f"{r['wall_time_s']:6.1f}s")
    lines.append(f"{LABELS['init']:14s} {'-':>6s} {init['after']['mean']:8.3f} ± "
                 f"{init['after']['std']:6.3f} {init['before']['mean']:6.2f}")
    return "\n".join(lines)


def notes(results):
    e = next(iter(results.values()))["eval"]
    return (f"MSE: 50-point grid over [-5, 5] after {e['steps']} full-batch SGD steps (lr "
            f"{e['lr']}) on {e['shots']} shots, mean ± std over {e['tasks']} held-out tasks; "
            f"'before' = without adaptation.\nRAM/step: the memory plan of one device training "
            f"step as the runtime trains (parameters + kept activations + backward deltas + "
            f"samples in RAM, + a gradient buffer except in TinyReptile's fused step). sent: θ down and φ up, float32, all devices of a round. MACs: one "
            f"device's multiply-accumulates in a round (forward, backward, SGD). wall: "
            f"training only.")


def figure(path, results, theta_init, seed, be):
    """learning curves and one held-out task before/after adaptation, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fam = tk.Sine(seed)
    model = fam.model()
    task = _first_eval_task(seed)
    xs, ys, _, _ = fam.eval_tasks(fl.draws(seed, fl.KEY_EVAL), 1)[0]
    grid = np.linspace(-5, 5, 201).astype(F32).reshape(-1, 1)
    steps, lr = tk.EVAL_STEPS["sine"], results["reptile"]["config"]["inner_lr"]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for a, r in results.items():
        # x: the devices' multiply-accumulates so far, all devices together (a cost axis on
        # which algorithms with different rounds, devices per round and steps compare)
        per_round = r["costs"]["macs_per_round_all_devices"]
        curve = r["history"]["curve"]
        ax1.plot([c["round"] * per_round / 1e9 for c in curve], [c["after"] for c in curve],
                 marker="o", ms=3, color=COLORS[a], label=f"{LABELS[a]} ({r['config']['rounds']} rounds)")
    ax1.set_xlabel("device multiply-accumulates so far, all devices (G)")
    ax1.set_ylabel("MSE after adaptation (20 held-out tasks)")
    ax1.set_yscale("log")
    ax1.set_title("learning curves (sine)")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend()

    ax2.plot(grid[:, 0], task.f(grid)[:, 0], "k-", lw=2, label="true task")
    ax2.plot(xs[:, 0], ys[:, 0], "k^", ms=8, label=f"{len(xs)} shots")
    for a, theta in [("init", theta_init)] + [(a, r["theta"]) for a, r in results.items()]:
        ws = model.workspace(be, theta)
        before = ws.forward(grid)[:, 0]
        ws.fit(xs, ys, steps, lr)
        after = ws.forward(grid)[:, 0]
        ax2.plot(grid[:, 0], after, color=COLORS[a], label=f"{LABELS[a]}, after {steps} steps")
        ax2.plot(grid[:, 0], before, ls=":", color=COLORS[a], label=f"{LABELS[a]}, before")
    ax2.set_title("one held-out task: before (dotted) and after adaptation")
    ax2.set_xlabel("x")
    ax2.set_ylabel("y")
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def _first_eval_task(seed):
    """The SineTask behind the first held-out task (Sine.eval_tasks draws the task first)."""
    rng = fl.draws(seed, fl.KEY_EVAL)
    return tk.Sine(seed).device_task(rng)


def run_demo(out="out/demo", backend="c", seed=0, scale=1.0, eval_tasks=100, curve_points=20):
    be = get_backend(backend)
    check_out_dir(out)
    os.makedirs(out, exist_ok=True)
    results = {}
    t_start = time.perf_counter()
    for a in ALGOS:
        rounds = max(1, int(round(tk.DEFAULTS[("sine", a)]["rounds"] * scale)))
        progress, close = progress_reporter(rounds, f"{LABELS[a]:11s}")
        try:
            theta, res = tk.run("sine", a, be, seed, rounds=rounds, eval_tasks=eval_tasks,
                                curve_points=curve_points, progress=progress)
        finally:
            close()
        res["backend"] = backend
        res = write_outputs(os.path.join(out, a), theta, res)
        res["theta"] = theta
        results[a] = res
    init = results["tinyreptile"]["eval"]["init"]
    text = table(results, init)
    print()
    print(text)
    print()
    print(notes(results))
    tr, rp = results["tinyreptile"]["costs"], results["reptile"]["costs"]
    bt, br = tr["bytes_per_round"], rp["bytes_per_round"]
    ratio = (f"TinyReptile vs Reptile on the device: RAM per step {rp['device_ram_bytes']} / "
             f"{tr['device_ram_bytes']} B = {rp['device_ram_bytes'] / tr['device_ram_bytes']:.2f}x,"
             f" MACs per round {rp['device_macs_per_round'] / tr['device_macs_per_round']:.2f}x,"
             + (f" bytes sent per round equal ({bt} B)." if bt == br else
                f" bytes sent per round {br / bt:.2f}x."))
    print(ratio)
    theta0 = tk.family("sine", seed).model().init(fl.stream(seed, fl.KEY_INIT))
    png = os.path.join(out, "demo.png")
    try:
        figure(png, results, theta0, seed, be)
        print(f"\nwrote {png}")
    except ImportError:
        print("\nmatplotlib is not installed: no figure (pip install 'tinyreptile_ref[demo]')")
    summary = {"seed": seed, "backend": backend, "scale": scale,
               "total_time_s": time.perf_counter() - t_start, "table": text.splitlines(),
               "ratio": ratio, "untrained_init": init,
               "results": {a: {k: v for k, v in r.items() if k != "theta"}
                           for a, r in results.items()}}
    summary["provenance"] = provenance()
    write_atomic(os.path.join(out, "demo.json"), (json.dumps(summary, indent=1) + "\n").encode())
    print(f"wrote {os.path.join(out, 'demo.json')} (per algorithm: {out}/<algo>/results.json, "
          f"params.f32)")
    return 0
