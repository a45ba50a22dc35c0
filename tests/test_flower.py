"""Fleets on Flower (tinyreptile_ref/federated/flower/, tools/flower.py): Flower's simulation
engine on a real local Ray instance, and a localhost deployment of real SuperLink and
SuperNode processes, give `train`'s θ bit for bit; faults follow the device rig's rule.

Run by `make flower-test` (TR_FLOWER=1; the extra [flower] installed, the host device built)."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

if os.environ.get("TR_FLOWER") != "1":
    pytest.skip("Flower tests run in `make flower-test` (TR_FLOWER=1)", allow_module_level=True)

import flwr  # noqa: E402  (TR_FLOWER=1: the extra must be installed)

from tinyreptile_ref import get_backend  # noqa: E402
from tinyreptile_ref.errors import ParameterError  # noqa: E402
from tinyreptile_ref.federated import devices as dv  # noqa: E402
from tinyreptile_ref.federated import tasks as tk  # noqa: E402
from tinyreptile_ref.federated.flower import clients  # noqa: E402
from tinyreptile_ref.tools import flower as tf  # noqa: E402
from tinyreptile_ref.tools.cli import main  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
SMALL = ("--eval-tasks", "5", "--curve-points", "2")


def cli(*args):
    """The command line in a child process (Ray and Flower's logging stay out of pytest)."""
    return subprocess.run([sys.executable, "-m", "tinyreptile_ref", *args], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)


def params(d):
    return (pathlib.Path(d) / "params.f32").read_bytes()


def results(d):
    return json.loads((pathlib.Path(d) / "results.json").read_text())


def test_flwr_is_the_version_the_extra_pins():
    assert flwr.__version__ == "1.42.0"


# ------------------------------------------------------------------------------ simulation

@pytest.mark.parametrize("algo,extra", [("tinyreptile", ()), ("reptile", ("--meta-batch", "3")),
                                        ("fedavg", ("--meta-batch", "3"))])
def test_flower_sim_writes_trains_params_and_results(tmp_path, algo, extra):
    opts = ("--task", "sine", "--algo", algo, "--rounds", "4", "--seed", "5", "--devices", "50",
            *extra, *SMALL)
    r = cli("flower-sim", *opts, "--clients", "7", "--out", str(tmp_path / "f"), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    t = cli("train", *opts, "--out", str(tmp_path / "t"), "--quiet")
    assert t.returncode == 0, t.stderr
    assert params(tmp_path / "f") == params(tmp_path / "t")
    a, b = results(tmp_path / "f"), results(tmp_path / "t")
    fl_ = a.pop("flower")
    assert fl_["nodes"] == 7 and fl_["faults"] == [] and fl_["rounds"] == 4
    assert fl_["results_by_source"] == {"simulated": 4 * (1 if algo == "tinyreptile" else 3)}
    for k in ("wall_time_s",):
        a.pop(k), b.pop(k)
    assert a == b  # the same evaluation, costs, configuration and learning curve


def _sim(tmp_path, inject, rounds=4, clients_=3, algo="tinyreptile"):
    """serve() in Flower's simulation engine in this process, with a fault-injecting client."""
    from flwr.simulation import run_simulation
    out = tmp_path / "f"
    opts = dict(tf.OPTIONS, task="sine", algo=algo, seed=2, rounds=rounds, devices=40,
                out=str(out), eval_tasks=5, curve_points=0, min_nodes=clients_,
                reply_timeout=30.0)
    sink = {}
    run_simulation(server_app=tf.server_app(opts, sink),
                   client_app=clients.client_app(inject=inject), num_supernodes=clients_,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": {"include_dashboard": False,
                                                 "log_to_driver": False}})
    return out, sink["res"]


def test_client_errors_and_bad_results_are_refused_and_the_log_replays(tmp_path):
    inject = {2: "error", 3: "nan", 4: "malformed", 6: "wrong-round"}
    out, res = _sim(tmp_path, inject)
    log = res["flower"]["faults"]
    assert [(e["round"], e["attempt"], e["round_id"]) for e in log] == \
        [(1, 0, 2), (1, 1, 3), (1, 2, 4), (2, 0, 6)]
    why = [e["reason"] for e in log]
    assert why[0].startswith("client error") and "injected client error" in why[0]
    assert why[1] == "non-finite phi"
    assert why[2].startswith("malformed reply: phi is float32[")
    assert why[3] == "answered for round id 13, expected 6"
    assert (out / "faults.log").read_text().count("theta kept") == 4
    # the rig's replay of the fault log in the simulation: the same θ
    skip = {}
    for e in log:
        skip[e["round"]] = skip.get(e["round"], 0) + 1
    theta, _ = tk.run("sine", "tinyreptile", get_backend("c"), 2, rounds=4, devices=40,
                      eval_tasks=5, curve_points=0, trainer=dv.Trainer(skip=skip))
    assert params(out) == theta.astype("<f4").tobytes()
    clean, _ = tk.run("sine", "tinyreptile", get_backend("c"), 2, rounds=4, devices=40,
                      eval_tasks=5, curve_points=0)
    assert params(out) != clean.astype("<f4").tobytes()  # the faults changed the draws


def test_bad_flower_options_are_refused_with_the_option_named(tmp_path):
    r = cli("flower-sim", "--algo", "tinyreptile", "--devices", "host:4", "--out",
            str(tmp_path / "x"))
    assert r.returncode == 2 and "error: devices: flower-sim simulates the devices" in r.stderr
    assert not (tmp_path / "x").exists()
    r = cli("flower-sim", "--algo", "nope", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--algo: invalid choice" in r.stderr
    r = cli("flower-sim", "--algo", "fedavg", "--meta-batch", "9", "--devices", "4",
            "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "error: meta_batch: 9 devices per round exceed" in r.stderr
    with pytest.raises(ParameterError, match="^run_config: 'bogus' is not one of"):
        tf.options({"bogus": 1})
    with pytest.raises(ParameterError, match="^inject: '3:boom' is not ROUND_ID:KIND"):
        clients.parse_inject("3:boom")
    assert tf.options({"meta-batch": 3, "k": ""})["meta_batch"] == 3


# ------------------------------------------------------------------------------ deployment

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    """A SuperLink and SuperNodes on 127.0.0.1, each its own process group (so the test can
    stop a SuperNode with everything it started), all stopped by close()."""

    def __init__(self, tmp):
        self.tmp = pathlib.Path(tmp)
        self.port = _free_port()
        self.procs = {}
        self.env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.start("link", ["flower-superlink", "--insecure", "--host", "127.0.0.1",
                            "--port", str(self.port), "--disable-runtime-dependency-installation"])
        self._wait_port(self.port)
        cli_home = self.tmp / "home-cli"
        cli_home.mkdir()
        (cli_home / "config.toml").write_text(
            f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n')
        self.cli_home = cli_home

    def start(self, name, argv):
        home = self.tmp / f"home-{name}"
        home.mkdir(exist_ok=True)
        log = open(self.tmp / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(argv, env=dict(self.env, FLWR_HOME=str(home)),
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, cwd=ROOT)
        log.close()

    def node(self, name, node_config=""):
        argv = ["flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{self.port}",
                "--host", "127.0.0.1", "--port", str(_free_port())]
        if node_config:
            argv += ["--node-config", node_config]
        self.start(name, argv)

    def _wait_port(self, port, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise AssertionError(f"nothing listens on 127.0.0.1:{port}")

    def run(self, run_config, timeout=300):
        """flwr run of examples/flower; returns when the ServerApp has written results.json."""
        out = pathlib.Path(run_config["out"])
        cfg = " ".join(f"{k.replace('_', '-')}={json.dumps(v)}" for k, v in run_config.items())
        r = subprocess.run([str(BIN / "flwr"), "run", str(ROOT / "examples" / "flower"), "local",
                            "--run-config", cfg], env=dict(self.env, FLWR_HOME=str(self.cli_home)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        assert r.returncode == 0 and "Successfully started run" in r.stdout, r.stdout
        deadline = time.monotonic() + timeout
        while not (out / "results.json").exists():
            assert time.monotonic() < deadline, self.logs()
            time.sleep(0.5)
        return results(out)

    def kill(self, name):
        p = self.procs.pop(name)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=30)

    def logs(self):
        return "\n".join(f"== {p.name}\n{p.read_text()[-2000:]}" for p in self.tmp.glob("*.log"))

    def close(self):
        for name in list(self.procs):
            p = self.procs[name]
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for name in list(self.procs):
            p = self.procs.pop(name)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=15)


@pytest.fixture
def deployment(tmp_path):
    d = Deployment(tmp_path)
    try:
        yield d
    finally:
        d.close()


DEPLOY = dict(task="sine", algo="tinyreptile", seed=4, rounds=3, devices=8, eval_tasks=5,
              curve_points=2, routing="query", min_nodes=2)


def test_a_localhost_deployment_with_host_devices_gives_the_simulations_theta(tmp_path,
                                                                              deployment):
    deployment.node("proxy", 'devices="host:8"')   # one SuperNode fronting 8 host devices
    deployment.node("sim")                         # one SuperNode of simulated devices
    res = deployment.run(dict(DEPLOY, out=str(tmp_path / "dep")))
    f = res["flower"]
    assert f["nodes"] == 2 and f["faults"] == [] and f["results_by_source"] == {"host": 3}
    t = cli("train", "--task", "sine", "--algo", "tinyreptile", "--seed", "4", "--rounds", "3",
            "--devices", "8", *SMALL, "--out", str(tmp_path / "t"), "--quiet")
    assert t.returncode == 0, t.stderr
    assert params(tmp_path / "dep") == params(tmp_path / "t")
    print(f"deployment: {f['rounds_per_s']:.3f} rounds/s, round trip {f['round_trip_s_mean']:.2f} s")


def test_a_supernode_that_disappears_mid_round_is_refused_and_replayed(tmp_path, deployment):
    marker = tmp_path / "hang"
    deployment.node("proxy", f'devices="host:8" inject="2:hang" marker="{marker}"')
    deployment.node("sim")
    out = tmp_path / "dep"
    cfg = dict(DEPLOY, out=str(out), reply_timeout=20.0)
    import threading
    done = threading.Event()

    def killer():
        deadline = time.monotonic() + 240
        while not marker.exists() and not done.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        if marker.exists():
            deployment.kill("proxy")  # the SuperNode disappears while its device's round runs
    th = threading.Thread(target=killer)
    th.start()
    try:
        res = deployment.run(cfg)
    finally:
        done.set()
        th.join()
    assert marker.exists()
    log = res["flower"]["faults"]
    assert [(e["round"], e["attempt"], e["round_id"]) for e in log] == [(1, 0, 2)]
    assert log[0]["reason"].startswith(("timeout: no reply from node", "client error")), log
    # after the loss the simulated node serves every device
    assert res["flower"]["results_by_source"] == {"host": 1, "simulated": 2}
    theta, _ = tk.run("sine", "tinyreptile", get_backend("c"), 4, rounds=3, devices=8,
                      eval_tasks=5, curve_points=2, trainer=dv.Trainer(skip={1: 1}))
    assert params(out) == theta.astype("<f4").tobytes()
    assert np.isfinite(np.frombuffer(params(out), "<f4")).all()
