"""`python -m tinyreptile_ref sweep`: many runs, seeds x hyper-parameters, in parallel over the
local cores (default) or on a Ray cluster (--ray ADDRESS; --ray local starts a private local
Ray instance), into one results table (DIR/sweep.json and DIR/sweep.csv, each written to a
temporary file and renamed, so a reader never sees half a table) and a plot of quality
against device cost (DIR/sweep.png, when matplotlib is installed).

The grid is the product of --seeds, --algos and every hyper-parameter's list, given by
`--set name=v1,v2` (repeatable) or a JSON file `--grid FILE` ({"inner_lr": [0.01, 0.02],
"k": [5, 10]}). Each run is `tasks.run` with that configuration; every run is determined by
its seed and parameters, so the table does not depend on where or in which order they ran.
"""
import csv
import itertools
import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

from ..errors import ParameterError
from ..federated import algorithms as fl
from ..federated import tasks as tk

#: the hyper-parameters a grid may vary, and how their values are read
PARAMS = {"rounds": int, "k": int, "inner_lr": float, "epochs": int, "batch": int,
          "meta_batch": int, "eps0": float, "eps_end": float, "devices": int, "anneal": str}
COLUMNS = ("task", "algo", "seed", "params", "metric", "after_mean", "after_std",
           "before_mean", "init_after_mean", "rounds", "device_macs_per_round",
           "device_macs_total", "device_ram_bytes", "bytes_total", "wall_time_s",
           "theta_sha256")


def add_parser(sub):
    sw = sub.add_parser("sweep", help="many runs: seeds x hyper-parameters, locally or on Ray",
                        description=__doc__.split("\n\n")[0])
    sw.add_argument("--task", choices=tk.TASKS, default="sine", help="task (default sine)")
    sw.add_argument("--algos", default="tinyreptile", metavar="A,B",
                    help=f"comma-separated algorithms of {', '.join(fl.ALGOS)} (default "
                         "tinyreptile)")
    sw.add_argument("--seeds", default="0", metavar="S,S|A-B",
                    help="seeds: a comma list or a range A-B, inclusive (default 0)")
    sw.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2",
                    help=f"a hyper-parameter's values ({', '.join(PARAMS)}); repeatable")
    sw.add_argument("--grid", metavar="FILE", help="JSON object: name -> list of values")
    sw.add_argument("--eval-tasks", type=int, default=20, metavar="T",
                    help="held-out tasks per run (default 20)")
    sw.add_argument("--backend", choices=("numpy", "c"), default="c", help="default c")
    sw.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                    help="local processes (default: the number of cores)")
    sw.add_argument("--ray", metavar="ADDRESS",
                    help="run on the Ray cluster at ADDRESS (host:port), or 'local' for a "
                         "private local Ray instance (needs the `ray` extra)")
    sw.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sw.add_argument("--quiet", action="store_true", help="no per-run lines")
    return sw


def _seeds(text):
    try:
        if "-" in text:
            a, b = (int(v) for v in text.split("-", 1))
            seeds = list(range(a, b + 1))
        else:
            seeds = [int(v) for v in text.split(",")]
    except ValueError:
        raise ParameterError(f"seeds: {text!r} is not a comma list or a range A-B") from None
    if not seeds or min(seeds) < 0:
        raise ParameterError(f"seeds: {text!r} gives no seeds >= 0")
    return seeds


def _value(name, text):
    try:
        return PARAMS[name](text)
    except ValueError:
        raise ParameterError(f"{name}: {text!r} is not a valid value") from None


def grid_from(sets, grid_file):
    """{name: [values]} from --set strings and an optional JSON file."""
    grid = {}
    if grid_file:
        try:
            with open(grid_file) as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ParameterError(f"grid: cannot read {grid_file!r}: {exc}") from None
        if not isinstance(data, dict):
            raise ParameterError(f"grid: {grid_file!r} must hold a JSON object")
        for name, values in data.items():
            if name not in PARAMS:
                raise ParameterError(f"grid: {name!r} is not one of {', '.join(PARAMS)}")
            values = values if isinstance(values, list) else [values]
            grid[name] = [_value(name, str(v)) for v in values]
    for item in sets:
        name, sep, values = item.partition("=")
        if not sep or name not in PARAMS or not values:
            raise ParameterError(f"set: {item!r} is not NAME=V1,V2 with NAME one of "
                                 f"{', '.join(PARAMS)}")
        grid[name] = [_value(name, v) for v in values.split(",")]
    return grid


def jobs(task, algos, seeds, grid, eval_tasks, backend):
    """Every run of the sweep as a dict of its arguments, in a fixed order; each is checked
    (tasks.config) before anything runs."""
    names = sorted(grid)
    out = []
    for algo in algos:
        for combo in itertools.product(*(grid[n] for n in names)):
            params = dict(zip(names, combo))
            tk.config(task, algo, **params)  # validates
            for seed in seeds:
                out.append({"task": task, "algo": algo, "seed": seed, "params": params,
                            "eval_tasks": eval_tasks, "backend": backend})
    return out


def run_one(job):
    """One run of the sweep: its row of the results table."""
    import hashlib
    from ..backend import get_backend
    params = dict(job["params"])
    rounds = params.pop("rounds", None)
    theta, res = tk.run(job["task"], job["algo"], get_backend(job["backend"]), job["seed"],
                        rounds=rounds, eval_tasks=job["eval_tasks"],
                        curve_tasks=min(job["eval_tasks"], 20), curve_points=0, **params)
    e, c = res["eval"], res["costs"]
    return {"task": job["task"], "algo": job["algo"], "seed": job["seed"],
            "params": json.dumps(job["params"], sort_keys=True), "metric": res["metric"],
            "after_mean": e["trained"]["after"]["mean"], "after_std": e["trained"]["after"]["std"],
            "before_mean": e["trained"]["before"]["mean"],
            "init_after_mean": e["init"]["after"]["mean"], "rounds": res["config"]["rounds"],
            "device_macs_per_round": c["macs_per_round_all_devices"],
            "device_macs_total": c["macs_per_round_all_devices"] * res["config"]["rounds"],
            "device_ram_bytes": c["device_ram_bytes"], "bytes_total": c["bytes_total"],
            "wall_time_s": res["wall_time_s"],
            "theta_sha256": hashlib.sha256(theta.astype("<f4").tobytes()).hexdigest()}


def run_local(job_list, workers):
    if workers <= 1 or len(job_list) <= 1:
        return [run_one(j) for j in job_list]
    with ProcessPoolExecutor(max_workers=min(workers, len(job_list))) as pool:
        return list(pool.map(run_one, job_list))


def run_ray(job_list, address):
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray: pip install 'tinyreptile_ref[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kw = dict(include_dashboard=False, log_to_driver=False)
        if address == "local":  # always a new private instance, never a running cluster,
            # and on loopback only (Ray would otherwise bind its services to the host's address)
            ray.init(address="local", _node_ip_address="127.0.0.1", **kw)
        else:
            ray.init(address=address, **kw)
    try:
        remote = ray.remote(run_one)
        return ray.get([remote.remote(j) for j in job_list])
    finally:
        if started:
            ray.shutdown()


def _atomic_write(path, write):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_table(out, rows, meta):
    os.makedirs(out, exist_ok=True)
    _atomic_write(os.path.join(out, "sweep.json"),
                  lambda f: json.dump({"sweep": meta, "columns": list(COLUMNS), "rows": rows},
                                      f, indent=1))

    def csv_rows(f):
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    _atomic_write(os.path.join(out, "sweep.csv"), csv_rows)


def plot(out, rows):
    """Quality against device cost (total device multiply-accumulates), one marker per run.
    Returns the path, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in sorted({r["algo"] for r in rows}):
        pts = [r for r in rows if r["algo"] == algo]
        ax.scatter([r["device_macs_total"] for r in pts], [r["after_mean"] for r in pts],
                   label=algo, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("device multiply-accumulates, whole run (all devices)")
    ax.set_ylabel(f"{rows[0]['metric']} after adaptation (held-out mean)")
    ax.legend()
    ax.grid(alpha=0.3)
    path = os.path.join(out, "sweep.png")
    tmp = os.path.join(out, ".tmp-sweep.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def cmd(args):
    algos = [a for a in args.algos.split(",") if a]
    for a in algos:
        if a not in fl.ALGOS:
            raise ParameterError(f"algos: {a!r} is not one of {', '.join(fl.ALGOS)}")
    if not algos:
        raise ParameterError("algos: no algorithm given")
    if args.eval_tasks < 1:
        raise ParameterError(f"eval_tasks: {args.eval_tasks} is less than 1")
    if args.workers < 1:
        raise ParameterError(f"workers: {args.workers} is less than 1")
    job_list = jobs(args.task, algos, _seeds(args.seeds), grid_from(args.set, args.grid),
                    args.eval_tasks, args.backend)
    where = f"ray {args.ray}" if args.ray else f"{args.workers} local processes"
    if not args.quiet:
        print(f"sweep: {len(job_list)} runs on {where}", file=sys.stderr)
    rows = run_ray(job_list, args.ray) if args.ray else run_local(job_list, args.workers)
    meta = {"task": args.task, "algos": algos, "seeds": args.seeds, "runs": len(rows),
            "where": "ray" if args.ray else "local", "eval_tasks": args.eval_tasks,
            "backend": args.backend}
    write_table(args.out, rows, meta)
    png = plot(args.out, rows)
    if not args.quiet:
        for r in rows:
            print(f"  {r['algo']:11s} seed {r['seed']:3d} {r['params']}: {r['metric']} "
                  f"{r['after_mean']:.4g} at {r['device_macs_total']:.3g} device MACs")
        print(f"wrote {os.path.join(args.out, 'sweep.json')}, sweep.csv"
              + (", sweep.png" if png else " (no plot: matplotlib is not installed)"))
    return 0
