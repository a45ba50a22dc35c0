"""The command line: python -m tinyreptile_ref {train,demo,plan,export-model,export-c,xcheck} ...

  train   train one algorithm on one task; writes DIR/results.json and DIR/params.f32
  demo    the main job: TinyReptile, Reptile and FedAvg on sine, a table, JSON and a figure
  plan    the layer table, memory plan and per-round costs of a task's model
  export-model  a train run's θ as a C header for firmware (tools/export_model.py)
  export-c  the C library (and the golden-vector runner) as a folder for a firmware project
  xcheck  where a device's trace or theta leaves the reference, and why (tools/xcheck.py)
  sweep   many runs (seeds x hyper-parameters) in parallel, locally or on Ray
  flower-sim    train in Flower's simulation engine (tools/flower.py, the extra [flower])
"""
import argparse
import json
import os
import sys

from ..federated import algorithms as fl
from ..federated import tasks as tk
from .._version import __version__
from ..errors import TinyReptileError
from . import export_c, export_model, rig, sweep, xcheck
from .output import check_out_dir, progress_reporter, write_outputs

DESCRIPTION = """\
TinyReptile (federated meta-learning for microcontrollers) and its baselines on the
bit-exact reference kernels. Every run is determined by its seed; the NumPy and the C
backend give the same parameters bit for bit."""

TRAIN_EPILOG = """\
defaults per task and algorithm (any option given on the command line overrides them):
""" + "\n".join(f"  {t:6s} {a:11s} " + ", ".join(f"{k}={v}" for k, v in d.items())
                for (t, a), d in tk.DEFAULTS.items()) + """

outputs:
  DIR/results.json  configuration, evaluation before/after adaptation (mean, std, 95% CI
                    over the held-out tasks) for the trained and the untrained θ, device costs
                    (memory plan in bytes, bytes sent, multiply-accumulates), wall time,
                    learning curve, and the SHA-256 of params.f32
  DIR/params.f32    the final θ: raw little-endian float32, in the layer table's order
                    (`python -m tinyreptile_ref plan` prints the table)
"""


def _int(lo):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{v} is less than {lo}")
        return v
    parse.__name__ = f"integer >= {lo}"
    return parse


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (v >= 0.0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number >= 0")
    return v


_nonneg_float.__name__ = "number >= 0"


def _add_hyper(p):
    g = p.add_argument_group("hyper-parameters (default: the task/algorithm table below)")
    g.add_argument("--rounds", type=_int(1), metavar="N", help="communication rounds")
    g.add_argument("--k", type=_int(1), metavar="K",
                   help="samples per device per round (TinyReptile streams them, one SGD step "
                        "each; Reptile and FedAvg store them)")
    g.add_argument("--inner-lr", type=_nonneg_float, metavar="LR",
                   help="the devices' SGD learning rate (also used when adapting at evaluation)")
    g.add_argument("--epochs", type=_int(1), metavar="E",
                   help="Reptile/FedAvg: passes over the stored samples per round")
    g.add_argument("--batch", type=_int(1), metavar="B",
                   help="Reptile/FedAvg: mini-batch size (TinyReptile always uses 1)")
    g.add_argument("--meta-batch", type=_int(1), metavar="M",
                   help="Reptile/FedAvg: devices per round (TinyReptile always uses 1)")
    g.add_argument("--eps0", type=_nonneg_float, metavar="EPS",
                   help="TinyReptile/Reptile: server interpolation step at round 0")
    g.add_argument("--eps-end", type=_nonneg_float, metavar="EPS",
                   help="the step the linear schedule reaches after the last round (default 0)")
    g.add_argument("--anneal", choices=fl.ANNEALS,
                   help="schedule of the server step: linear from eps0 to eps-end (default), "
                        "or constant eps0")
    g.add_argument("--devices", type=rig.devices_arg, metavar="D",
                   help="size of the training population the server samples devices from "
                        "(default 10000); or KIND:N, a fleet of N devices on links that is the "
                        "population: host:N (C client processes), qemu:N (Cortex-M4F under "
                        "QEMU), twin:N (the Python twin)")


def _add_eval(p):
    g = p.add_argument_group("evaluation")
    g.add_argument("--eval-tasks", type=_int(1), default=100, metavar="T",
                   help="held-out tasks for the final evaluation (default 100)")
    g.add_argument("--eval-steps", type=_int(0), metavar="S",
                   help="full-batch SGD steps of adaptation per task (default 32 for sine, "
                        "10 for digits)")
    g.add_argument("--curve-points", type=_int(0), default=20, metavar="P",
                   help="points of the learning curve, each on 20 held-out tasks (default 20; "
                        "0: none)")


def parser():
    ap = argparse.ArgumentParser(prog="python -m tinyreptile_ref", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"tinyreptile_ref {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    tr = sub.add_parser("train", help="train one algorithm on one task",
                        description="Train one algorithm on one task and evaluate the learned "
                                    "initialization on held-out tasks.",
                        epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    tr.add_argument("--task", choices=tk.TASKS, default="sine",
                    help="sine: sine-wave regression, 1-64-64-1 tanh (default); digits: 5-way "
                         "few-shot classification of scikit-learn's 8x8 digits with a conv1d model")
    tr.add_argument("--algo", choices=fl.ALGOS, required=True,
                    help="tinyreptile: one device per round, streamed batch-1 SGD; reptile: "
                         "stored samples, mini-batch SGD, optional meta-batch; fedavg: average "
                         "of the devices' models")
    tr.add_argument("--backend", choices=("numpy", "c"), default="c",
                    help="c: the C kernels through cffi (default); numpy: their NumPy twins "
                         "(same bits, slower)")
    tr.add_argument("--seed", type=_int(0), default=0, metavar="S",
                    help="the one seed every random choice derives from (default 0)")
    tr.add_argument("--out", required=True, metavar="DIR",
                    help="output directory (created if missing)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    tr.add_argument("--threads", type=_int(1), default=1, metavar="N",
                    help="threads for the devices of one round (Reptile, FedAvg; default 1)")
    _add_hyper(tr)
    _add_eval(tr)
    rig.add_options(tr)

    de = sub.add_parser("demo", help="the main job: TinyReptile, Reptile, FedAvg on sine",
                        description="Train TinyReptile, Reptile and FedAvg on sine-wave "
                                    "regression, print the comparison table, write JSON and a "
                                    "PNG figure (needs the `demo` extra: matplotlib, tqdm).")
    de.add_argument("--out", default=os.path.join("out", "demo"), metavar="DIR",
                    help="output directory (default out/demo)")
    de.add_argument("--backend", choices=("numpy", "c"), default="c",
                    help="backend (default c; numpy takes far longer)")
    de.add_argument("--seed", type=_int(0), default=0, metavar="S", help="seed (default 0)")
    de.add_argument("--scale", type=_nonneg_float, default=1.0, metavar="F",
                    help="multiply every algorithm's default rounds by F (default 1; e.g. 0.1 "
                         "for a quick look)")
    de.add_argument("--eval-tasks", type=_int(1), default=100, metavar="T",
                    help="held-out tasks for the final evaluation (default 100)")
    de.add_argument("--curve-points", type=_int(1), default=20, metavar="P",
                    help="points of each learning curve, each on 20 held-out tasks (default 20)")

    pl = sub.add_parser("plan", help="layer table, memory plan and per-round device costs",
                        description="Print the model's layer table and, per algorithm, the "
                                    "device memory plan and per-round costs at the defaults.")
    pl.add_argument("--task", choices=tk.TASKS, default="sine", help="task (default sine)")
    pl.add_argument("--json", action="store_true", help="print JSON instead of text")
    export_model.add_parser(sub)
    export_c.add_parser(sub)
    xcheck.add_parser(sub)
    sweep.add_parser(sub)
    from . import flower
    flower.add_parser(sub, _add_hyper, _add_eval, _int)
    return ap


HYPER = ("k", "inner_lr", "epochs", "batch", "meta_batch", "eps0", "eps_end", "anneal",
         "devices")


def cmd_train(args):
    from ..backend import get_backend
    over = {h: getattr(args, h) for h in HYPER}
    over["devices"] = rig.split_devices(args)[0]
    cfg = tk.config(args.task, args.algo, rounds=args.rounds, **over)  # validates early
    check_out_dir(args.out)
    fam = tk.family(args.task, args.seed)
    progress, close = progress_reporter(cfg.rounds, f"{args.algo} on {args.task}", args.quiet)
    try:
        with rig.trainer(args, args.task, cfg, fam.model(), fam) as trainer:
            theta, res = tk.run(args.task, args.algo, get_backend(args.backend), args.seed,
                                rounds=args.rounds, eval_tasks=args.eval_tasks,
                                eval_steps=args.eval_steps, curve_points=args.curve_points,
                                progress=progress, trainer=trainer,
                                threads=args.threads, **over)
            rig.report(res, trainer)
    finally:
        close()
    res["backend"] = args.backend
    res = write_outputs(args.out, theta, res)
    if not args.quiet:
        e = res["eval"]
        t, i = e["trained"], e["init"]
        m = res["metric"]
        print(f"{args.algo} on {args.task}, {cfg.rounds} rounds, backend {args.backend}, "
              f"seed {args.seed}: {res['wall_time_s']:.1f} s")
        print(f"  {m} after adaptation ({e['tasks']} held-out tasks, {e['steps']} steps): "
              f"{t['after']['mean']:.4g} ± {t['after']['std']:.3g} "
              f"(untrained init: {i['after']['mean']:.4g} ± {i['after']['std']:.3g})")
        print(f"  wrote {os.path.join(args.out, 'results.json')} and params.f32 "
              f"(sha256 {res['params_f32']['sha256'][:16]}...)")
    return 0


def cmd_plan(args):
    fam = tk.family(args.task, 0)
    model = fam.model()
    rows = {a: fl.costs(model, tk.config(args.task, a)) for a in fl.ALGOS}
    if args.json:
        print(json.dumps({"layers": model.describe().splitlines(), "costs": rows}, indent=1))
        return 0
    print(model.describe())
    print()
    print(f"{'algorithm':12s} {'batch':>5s} {'stored':>6s} {'params':>7s} {'grads':>7s} "
          f"{'acts':>6s} {'deltas':>6s} {'samples':>7s} {'RAM B':>7s} {'flash B':>7s} "
          f"{'MACs/round':>11s}")
    for a, c in rows.items():
        p = c["memory_plan"]
        print(f"{a:12s} {p['batch']:5d} {p['stored_samples']:6d} {p['params']:7d} "
              f"{p['grads']:7d} {p['activations']:6d} {p['deltas']:6d} {p['samples']:7d} "
              f"{p['ram']:7d} {p['flash']:7d} {c['device_macs_per_round']:11d}")
    return 0


def main(argv=None):
    ap = parser()
    args = ap.parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "flower-sim":
            from .flower import cmd_sim
            return cmd_sim(args)
        if args.command == "export-model":
            return export_model.cmd(args)
        if args.command == "export-c":
            return export_c.cmd_export_c(args)
        if args.command == "xcheck":
            return args.func(args)
        if args.command == "sweep":
            return sweep.cmd(args)
        from .demo import run_demo
        return run_demo(out=args.out, backend=args.backend, seed=args.seed, scale=args.scale,
                        eval_tasks=args.eval_tasks, curve_points=args.curve_points)
    except (TinyReptileError, ImportError, OSError) as exc:
        print(f"{ap.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{ap.prog} {args.command}: error: out of memory (try smaller sizes)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outputs are written atomically: nothing partial is left
        print(f"\n{ap.prog} {args.command}: interrupted", file=sys.stderr)
        return 130
