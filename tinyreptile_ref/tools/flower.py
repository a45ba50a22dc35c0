"""Fleets on Flower on the command line (the optional extra `[flower]`: flwr 1.42, Python >= 3.11).

  flower-sim    TinyReptile, Reptile or FedAvg in Flower's simulation engine (Ray backend),
                N virtual SuperNodes that train as simulated devices; writes DIR/params.f32
                and DIR/results.json as `train` does (the same θ bit for bit)
  server_app / client_app
                the ServerApp and ClientApp of a deployment (examples/flower/ is the Flower App
                that `flwr run` submits to a SuperLink): the ServerApp reads its options from
                the run config (the keys of OPTIONS), the ClientApp from the node config
                (federated/flower/clients.py)
"""
import os
import sys

#: The ServerApp's options (run config keys) and their defaults. Hyper-parameters left at
#: None take the task/algorithm defaults of `train`.
OPTIONS = {"task": "sine", "algo": "tinyreptile", "seed": 0, "out": "out/flower",
           "rounds": None, "k": None, "inner_lr": None, "epochs": None, "batch": None,
           "meta_batch": None, "eps0": None, "eps_end": None, "anneal": None, "devices": None,
           "eval_tasks": 100, "eval_steps": None, "curve_points": 20,
           "min_nodes": 1, "routing": "any", "reply_timeout": 60.0, "node_wait": 120.0,
           "backend": "c", "quiet": True}
HYPER = ("k", "inner_lr", "epochs", "batch", "meta_batch", "eps0", "eps_end", "anneal",
         "devices")


def options(run_config):
    """OPTIONS updated from a run config (hyphens or underscores; a value "" is None)."""
    opts = dict(OPTIONS)
    for key, v in dict(run_config or {}).items():
        key = key.replace("-", "_")
        if key not in OPTIONS:
            from ..errors import ParameterError
            raise ParameterError(f"run_config: {key!r} is not one of {', '.join(OPTIONS)}")
        opts[key] = None if v == "" else v
    return opts


def serve(grid, opts, log=None):
    """The ServerApp's work: wait for the nodes, run the federated loop over the Grid
    (federated/flower/strategy.py), evaluate as `train` does and write DIR/params.f32 and
    DIR/results.json. Returns the results dict."""
    from ..backend import get_backend
    from ..federated import tasks as tk
    from ..federated.flower import strategy as st
    from .output import write_outputs
    over = {h: opts[h] for h in HYPER}
    cfg = tk.config(opts["task"], opts["algo"], rounds=opts["rounds"], **over)
    fleet = st.GridFleet(grid, opts["task"], cfg.devices, min_nodes=int(opts["min_nodes"]),
                         routing=opts["routing"], timeout=float(opts["reply_timeout"]),
                         wait=float(opts["node_wait"]))
    lines = []

    def fault_line(line):
        lines.append(line)
        (log or (lambda s: print(s, file=sys.stderr)))(line)

    trainer = st.FlowerTrainer(fleet, log=fault_line)
    theta, res = tk.run(opts["task"], opts["algo"], get_backend(opts["backend"]), opts["seed"],
                        rounds=opts["rounds"], eval_tasks=opts["eval_tasks"],
                        eval_steps=opts["eval_steps"], curve_points=opts["curve_points"],
                        trainer=trainer, **over)
    res["backend"] = opts["backend"]
    res["flower"] = trainer.summary()
    os.makedirs(opts["out"], exist_ok=True)
    if lines:
        with open(os.path.join(opts["out"], "faults.log"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return write_outputs(opts["out"], theta, res)


def server_app(opts=None, sink=None):
    """A ServerApp running `serve` with `opts`, or with the options of its run config; the
    results dict goes into sink["res"] when a dict is given."""
    from flwr.serverapp import ServerApp
    app = ServerApp()

    @app.main()
    def main(grid, context):
        res = serve(grid, opts if opts is not None else options(context.run_config))
        if sink is not None:
            sink["res"] = res

    return app


def client_app():
    from ..federated.flower.clients import client_app as make
    return make()


def _flwr_missing():
    try:
        import flwr  # noqa: F401
        import ray  # noqa: F401
    except ImportError as exc:
        return (f"flower: {exc.name} is not installed; install the extra: "
                f"pip install -e '.[flower]' (flwr 1.42 needs Python >= 3.11)")
    return None


def add_parser(sub, add_hyper, add_eval, int_type):
    """The flower-sim subcommand (registered by cli.py)."""
    from ..federated import algorithms as fl
    from ..federated import tasks as tk
    p = sub.add_parser("flower-sim", help="train in Flower's simulation engine (extra [flower])",
                       description="Train one algorithm on one task in Flower's simulation "
                                   "engine (Ray backend): N virtual SuperNodes train as "
                                   "simulated devices; the server draws devices with the "
                                   "project's seeded rule and aggregates with its kernels, so "
                                   "params.f32 equals `train`'s for the same seed and options.")
    p.add_argument("--task", choices=tk.TASKS, default="sine", help="task (default sine)")
    p.add_argument("--algo", choices=fl.ALGOS, required=True, help="algorithm")
    p.add_argument("--seed", type=int_type(0), default=0, metavar="S", help="seed (default 0)")
    p.add_argument("--clients", type=int_type(1), default=10, metavar="N",
                   help="virtual SuperNodes (default 10); device i runs on the i mod N-th")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--ray-cpus", type=int_type(1), default=None, metavar="C",
                   help="CPUs of the local Ray instance (default: all), one per ClientApp actor")
    p.add_argument("--reply-timeout", type=float, default=60.0, metavar="S",
                   help="seconds to wait for a node's reply (default 60)")
    p.add_argument("--quiet", action="store_true", help="no summary, Flower's log at WARNING")
    add_hyper(p)
    add_eval(p)
    return p


def cmd_sim(args):
    """flower-sim: run_simulation with server_app(opts) and the simulated-device ClientApp."""
    why = _flwr_missing()
    if why:
        from ..errors import ParameterError
        raise ParameterError(why)
    import logging

    from flwr.simulation import run_simulation
    from ..federated.flower.clients import client_app as make_client
    if isinstance(args.devices, tuple):
        from ..errors import ParameterError
        raise ParameterError("devices: flower-sim simulates the devices; give a population "
                             "size (devices on links are for a deployment's proxy SuperNode)")
    opts = dict(OPTIONS, task=args.task, algo=args.algo, seed=args.seed, out=args.out,
                rounds=args.rounds, eval_tasks=args.eval_tasks, eval_steps=args.eval_steps,
                curve_points=args.curve_points, min_nodes=args.clients,
                reply_timeout=args.reply_timeout, **{h: getattr(args, h) for h in HYPER})
    from ..federated import tasks as tk
    tk.config(args.task, args.algo, rounds=args.rounds,
              **{h: getattr(args, h) for h in HYPER})  # validates before Ray starts
    if args.quiet:
        logging.getLogger("flwr").setLevel(logging.WARNING)
    init = {"include_dashboard": False, "logging_level": logging.ERROR,
            "log_to_driver": False}
    if args.ray_cpus:
        init["num_cpus"] = args.ray_cpus
    holder = {}
    run_simulation(server_app=server_app(opts, holder), client_app=make_client(), num_supernodes=args.clients,
                   backend_name="ray",
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": init})
    res = holder.get("res")
    if res is None:
        from ..errors import ParameterError
        raise ParameterError("flower-sim: the ServerApp did not finish (see Flower's log)")
    if not args.quiet:
        f = res["flower"]
        print(f"{args.algo} on {args.task} in Flower's simulation, {args.clients} virtual "
              f"clients, {res['config']['rounds']} rounds: {f['rounds_per_s']:.2f} rounds/s; "
              f"wrote {os.path.join(args.out, 'params.f32')} (sha256 "
              f"{res['params_f32']['sha256'][:16]}...)")
    return 0

