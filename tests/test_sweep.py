"""`python -m tinyreptile_ref sweep`: the grid, the combined table (JSON + CSV), local
processes and a real local Ray instance giving the same rows as single runs."""
import csv
import json
import subprocess
import sys

import pytest

from tinyreptile_ref.tools import cli, sweep

ARGS = ["sweep", "--algos", "tinyreptile,fedavg", "--seeds", "0-1", "--set", "inner_lr=0.01,0.02",
        "--set", "rounds=40", "--eval-tasks", "3", "--quiet"]


def _sans_time(rows):
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]


def _rows(out):
    with open(out / "sweep.json") as f:
        table = json.load(f)
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["theta_sha256"] for r in rows] == [r["theta_sha256"] for r in table["rows"]]
    return table


def test_a_local_sweep_writes_one_table_of_every_run_equal_to_single_runs(tmp_path):
    assert cli.main(ARGS + ["--workers", "2", "--out", str(tmp_path)]) == 0
    table = _rows(tmp_path)
    rows = table["rows"]
    assert len(rows) == 2 * 2 * 2 and table["sweep"]["where"] == "local"
    keys = {(r["algo"], r["seed"], r["params"]) for r in rows}
    assert len(keys) == 8
    one = sweep.run_one({"task": "sine", "algo": "fedavg", "seed": 1, "eval_tasks": 3,
                         "backend": "c", "params": {"inner_lr": 0.02, "rounds": 40}})
    same = [r for r in rows if (r["algo"], r["seed"], r["params"]) ==
            ("fedavg", 1, json.dumps({"inner_lr": 0.02, "rounds": 40}, sort_keys=True))]
    assert _sans_time(same) == _sans_time([one])
    assert len({r["theta_sha256"] for r in rows}) == 8  # every run trained something else
    assert not list(tmp_path.glob(".tmp-*"))  # the atomic writes left no temporary file


def test_a_sweep_on_a_local_ray_instance_gives_the_local_rows(tmp_path):
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip("RAY IS NOT INSTALLED: pip install 'tinyreptile_ref[ray]' to run this test")
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert cli.main(ARGS + ["--workers", "1", "--out", str(local)]) == 0
    # a separate driver process, as a user runs it: it starts a private Ray instance
    r = subprocess.run([sys.executable, "-m", "tinyreptile_ref"] + ARGS +
                       ["--ray", "local", "--out", str(remote)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = _rows(local), _rows(remote)
    assert b["sweep"]["where"] == "ray"
    assert _sans_time(a["rows"]) == _sans_time(b["rows"])


@pytest.mark.parametrize("extra,start", [
    (["--set", "foo=1"], "set:"), (["--set", "k=x"], "k:"), (["--seeds", "a"], "seeds:"),
    (["--algos", "sgd"], "algos:"), (["--set", "inner_lr=-1"], "inner_lr:"),
])
def test_bad_sweep_arguments_are_one_clear_error_and_no_output(tmp_path, capsys, extra, start):
    assert cli.main(["sweep", "--out", str(tmp_path / "o")] + extra) == 2
    err = capsys.readouterr().err
    assert f"error: {start}" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()

