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
