"""The command line: outputs, byte-identical params.f32 across backends, help and errors."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tinyreptile_ref.tools import cli, output
from tinyreptile_ref.federated import algorithms as fl
from tinyreptile_ref.federated import tasks as tk

QUICK = ["--eval-tasks", "3", "--curve-points", "0", "--quiet"]


def train(tmp_path, name, *args):
    out = str(tmp_path / name)
    rc = cli.main(["train", "--out", out, *args, *QUICK])
    assert rc == 0
    with open(os.path.join(out, "params.f32"), "rb") as f:
        blob = f.read()
    with open(os.path.join(out, "results.json")) as f:
        return blob, json.load(f)


@pytest.mark.parametrize("algo,extra", [
    ("tinyreptile", ["--rounds", "4"]),
    ("reptile", ["--rounds", "3", "--meta-batch", "2", "--k", "12"]),
    ("fedavg", ["--rounds", "2", "--meta-batch", "3", "--k", "12"]),
])
def test_numpy_and_c_backends_write_byte_identical_params(tmp_path, algo, extra):
    blobs = [train(tmp_path, be, "--algo", algo, "--backend", be, "--seed", "5", *extra)[0]
             for be in ("c", "numpy")]
    assert blobs[0] == blobs[1]
    init = tk.Sine(5).model().init(fl.stream(5, fl.KEY_INIT))
    assert blobs[0] != init.astype("<f4").tobytes()  # training changed θ


def test_params_f32_is_raw_little_endian_theta_and_results_describe_the_run(tmp_path):
    blob, res = train(tmp_path, "a", "--algo", "tinyreptile", "--rounds", "3", "--seed", "2")
    model = tk.Sine(2).model()
    assert len(blob) == 4 * model.n_params
    theta = np.frombuffer(blob, "<f4")
    assert np.all(np.isfinite(theta))
    assert res["params_f32"] == {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    assert res["algo"] == "tinyreptile" and res["seed"] == 2 and res["backend"] == "c"
    assert res["config"]["rounds"] == 3 and res["config"]["k"] == 10
    assert res["costs"]["device_ram_bytes"] == model.memory_plan(1, mode="fused").ram
    for key in ("before", "after"):
        assert res["eval"]["trained"][key]["n"] == 3
    # the same θ comes out of the library call that the CLI wraps
    theta_lib, _ = tk.run("sine", "tinyreptile", __import__("tinyreptile_ref").get_backend("c"),
                          2, rounds=3, eval_tasks=1, curve_points=0)
    assert theta_lib.astype("<f4").tobytes() == blob


def test_another_seed_writes_other_params(tmp_path):
    a, _ = train(tmp_path, "a", "--algo", "tinyreptile", "--rounds", "2", "--seed", "1")
    b, _ = train(tmp_path, "b", "--algo", "tinyreptile", "--rounds", "2", "--seed", "2")
    assert a != b


def test_digits_task_trains_from_the_command_line(tmp_path):
    pytest.importorskip("sklearn")
    blob, res = train(tmp_path, "d", "--task", "digits", "--algo", "reptile", "--rounds", "2")
    assert len(blob) == 4 * 1509 and res["metric"] == "accuracy"
    assert 0 <= res["eval"]["trained"]["after"]["mean"] <= 1


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    train_parser = cli.parser()._subparsers._group_actions[0].choices["train"]
    for action in train_parser._actions:
        for opt in action.option_strings:
            assert opt in text
        if action.option_strings and action.dest != "help":
            assert action.help and len(action.help) > 10, action.dest
    assert "params.f32" in text and "little-endian" in text


@pytest.mark.parametrize("args,needle", [
    (["train", "--algo", "maml", "--out", "x"], "--algo: invalid choice: 'maml'"),
    (["train", "--algo", "reptile", "--out", "x", "--backend", "cuda"], "--backend: invalid choice"),
    (["train", "--algo", "reptile", "--out", "x", "--rounds", "0"], "--rounds: 0 is less than 1"),
    (["train", "--algo", "reptile", "--out", "x", "--rounds", "ten"], "'ten' is not an integer"),
    (["train", "--algo", "reptile", "--out", "x", "--inner-lr", "-1"], "--inner-lr: '-1' is not"),
    (["train", "--algo", "reptile", "--out", "x", "--eps0", "nan"], "--eps0: 'nan' is not"),
    (["train", "--algo", "reptile"], "the following arguments are required: --out"),
    (["train", "--out", "x"], "the following arguments are required: --algo"),
    (["train", "--algo", "reptile", "--out", "x", "--bogus"], "unrecognized arguments: --bogus"),
    (["fly"], "invalid choice: 'fly'"),
    ([], "required: COMMAND"),
])
def test_bad_options_get_a_clear_message_and_a_non_zero_exit(capsys, args, needle):
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


def test_inconsistent_options_are_refused_before_training(tmp_path, capsys):
    out = tmp_path / "never"
    rc = cli.main(["train", "--algo", "reptile", "--meta-batch", "20", "--devices", "5",
                   "--out", str(out), "--quiet"])
    assert rc == 2
    assert "meta_batch: 20 devices per round exceed the population of 5" in capsys.readouterr().err
    assert not out.exists()


def test_module_entry_point_runs_and_fails_with_non_zero_status(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "tinyreptile_ref", "plan"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and "4353 parameters" in ok.stdout and "tinyreptile" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "tinyreptile_ref", "train", "--algo", "x",
                          "--out", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'x'" in bad.stderr


def test_demo_runs_end_to_end_at_a_small_scale(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = cli.main(["demo", "--out", str(out), "--scale", "0.001", "--eval-tasks", "3",
                   "--curve-points", "2"])
    assert rc == 0
    text = capsys.readouterr().out
    for name in ("TinyReptile", "Reptile", "FedAvg", "untrained init", "RAM/step", "MACs/round"):
        assert name in text
    summary = json.loads((out / "demo.json").read_text())
    assert set(summary["results"]) == {"tinyreptile", "reptile", "fedavg"}
    assert summary["results"]["fedavg"]["config"]["rounds"] == 6
    for a in ("tinyreptile", "reptile", "fedavg"):
        assert (out / a / "params.f32").stat().st_size == 4 * 4353
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the figure needs the demo extra; without it the demo says so
        assert "matplotlib is not installed: no figure" in text and not (out / "demo.png").exists()
    else:
        assert (out / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_degrades_to_plain_text_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    update, close = output.progress_reporter(20, "run")
    for done in range(1, 21):
        update(done)
    close()
    err = capsys.readouterr().err
    assert "run: 100% (20/20 rounds)" in err and "run:  50% (10/20 rounds)" in err


def test_plan_prints_the_memory_plan_as_json(capsys):
    assert cli.main(["plan", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # TinyReptile's fused step: theta 17412 + activations 516 + deltas 512 + one sample 8;
    # Reptile: + a gradient buffer 17412, 50 stored samples 400 instead of one
    assert data["costs"]["tinyreptile"]["device_ram_bytes"] == 17412 + 516 + 512 + 8 == 18448
    assert data["costs"]["reptile"]["device_ram_bytes"] == 2 * 17412 + 516 + 512 + 400 == 36252


# ------------------------------------------------------------- outputs and interruption

TRAIN = ["train", "--algo", "tinyreptile", "--rounds", "2", "--seed", "3", *QUICK]


def _pair(out):
    """(params.f32 bytes, results.json dict) of a run directory, checked to be consistent."""
    with open(os.path.join(out, "params.f32"), "rb") as f:
        blob = f.read()
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    assert res["params_f32"]["sha256"] == hashlib.sha256(blob).hexdigest()
    return blob, res


@pytest.mark.parametrize("case", ["existing file", "below a file", "empty", "unwritable"])
def test_out_is_refused_before_anything_trains(tmp_path, capsys, monkeypatch, case):
    f = tmp_path / "file"
    f.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    out = {"existing file": str(f), "below a file": str(f / "sub" / "dir"), "empty": "",
           "unwritable": str(ro / "run")}[case]
    if case == "unwritable" and os.access(ro, os.W_OK):
        pytest.skip("running as a user who may write anywhere (root)")
    monkeypatch.setattr(tk, "run", lambda *a, **k: pytest.fail("training started"))
    rc = cli.main(["train", "--algo", "tinyreptile", "--out", out, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("python -m tinyreptile_ref train: error: --out: "), err
    assert f.read_text() == "x" and os.listdir(ro) == []


def test_demo_out_is_refused_before_anything_trains(tmp_path, capsys, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    monkeypatch.setattr(tk, "run", lambda *a, **k: pytest.fail("training started"))
    assert cli.main(["demo", "--out", str(f / "d")]) == 2
    assert "error: --out: " in capsys.readouterr().err


@pytest.mark.parametrize("failing", ["params.f32", "results.json", "replace"])
def test_a_failed_write_leaves_the_previous_run_complete(tmp_path, capsys, monkeypatch, failing):
    out = str(tmp_path / "run")
    assert cli.main([*TRAIN, "--out", out]) == 0
    before = _pair(out)
    real_fsync, real_replace = os.fsync, os.replace
    calls = []

    def fsync(fd):  # the disk fills while the temporary file of `failing` is flushed
        calls.append(fd)
        if len(calls) == ("params.f32", "results.json").index(failing) + 1:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    def replace(src, dst):
        if dst.endswith("results.json"):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    if failing == "replace":  # params.f32 renamed, then results.json's rename fails
        monkeypatch.setattr(output.os, "replace", replace)
    else:
        monkeypatch.setattr(output.os, "fsync", fsync)
    rc = cli.main([*TRAIN[:-len(QUICK)], "--seed", "4", *QUICK, "--out", out])
    assert rc == 2 and "error:" in capsys.readouterr().err
    assert _pair(out) == before
    assert sorted(os.listdir(out)) == ["params.f32", "results.json"]


def test_a_new_run_replaces_the_previous_one_completely(tmp_path):
    out = str(tmp_path / "run")
    assert cli.main([*TRAIN, "--out", out]) == 0
    a = _pair(out)
    assert cli.main([*TRAIN[:-len(QUICK)], "--seed", "9", *QUICK, "--out", out]) == 0
    b = _pair(out)
    assert a[0] != b[0] and b[1]["seed"] == 9
    assert sorted(os.listdir(out)) == ["params.f32", "results.json"]


def test_results_record_the_version_and_the_git_commit(tmp_path, monkeypatch):
    from tinyreptile_ref._version import __version__
    out = str(tmp_path / "run")
    assert cli.main([*TRAIN, "--out", out]) == 0
    prov = _pair(out)[1]["provenance"]
    assert prov["version"] == __version__
    here = os.path.dirname(os.path.abspath(output.__file__))
    head = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    assert prov["git_commit"] == (head.stdout.strip() if head.returncode == 0 else None)
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # git missing: no commit, no error
    assert output.git_commit() is None
    assert cli.main([*TRAIN, "--out", out]) == 0
    assert _pair(out)[1]["provenance"] == {"version": __version__, "git_commit": None}


def _interrupt_training(out, *extra):
    """Start a long training run as a subprocess, wait until it has trained a round (its
    progress line), send SIGINT; returns (exit status, stderr)."""
    import signal
    import time
    p = subprocess.Popen([sys.executable, "-m", "tinyreptile_ref", "train", "--algo",
                          "tinyreptile", "--rounds", "1000000", "--eval-tasks", "2",
                          "--curve-points", "0", "--out", out, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        first = p.stderr.read(1)  # the progress report: training has started
        assert first, p.communicate()
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, (first + err).decode()


def test_ctrl_c_ends_with_one_line_and_status_130_leaving_no_files(tmp_path):
    out = str(tmp_path / "run")
    rc, err = _interrupt_training(out)
    assert rc == 130
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == "python -m tinyreptile_ref train: interrupted"
    assert not os.path.exists(out) or os.listdir(out) == []


def test_ctrl_c_leaves_the_previous_run_complete(tmp_path):
    out = str(tmp_path / "run")
    assert cli.main([*TRAIN, "--out", out]) == 0
    before = _pair(out)
    rc, err = _interrupt_training(out)
    assert rc == 130 and "Traceback" not in err
    assert _pair(out) == before
    assert sorted(os.listdir(out)) == ["params.f32", "results.json"]


@pytest.mark.parametrize("args,name", [
    (["--k", "2147483647"], "k"),
    (["--meta-batch", "2147483647", "--devices", "2147483647"], "meta_batch"),
    (["--meta-batch", "3", "--devices", "2147483647"], None),  # a fiftieth: no permutation
    (["--meta-batch", "100000000", "--devices", "2147483647"], "meta_batch"),
])
def test_run_sizes_beyond_the_limits_are_refused_before_training(tmp_path, args, name):
    """In a subprocess with 3 GB of address space, so a regression fails instead of taking
    the machine's memory."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    cmd = [sys.executable, "-m", "tinyreptile_ref", "train", "--algo", "fedavg", "--rounds",
           "1", "--out", str(tmp_path / "o"), *QUICK, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=limit,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if name is None:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"python -m tinyreptile_ref train: error: {name}: "), r.stderr
    assert not os.path.exists(tmp_path / "o")
