"""Devices in the loop (tinyreptile_ref/federated/devices.py): fleets of host processes and of
QEMU Cortex-M4F images running the C device client train to the same θ as the simulation,
byte for byte (float32 transport; int8 against the simulation with the same transport);
faults are refused by a deterministic rule that the simulation replays from the fault log;
a run killed with SIGKILL and resumed ends with the θ of an uninterrupted run.

The QEMU fleet tests run under `make rig-test` (TR_RIG_QEMU=1), after the toolchain check."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyreptile_ref import get_backend
from tinyreptile_ref.errors import ParameterError
from tinyreptile_ref.federated import devices as dv
from tinyreptile_ref.federated import tasks as tk
from tinyreptile_ref.tools.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
QUICK = ["--quiet", "--eval-tasks", "2", "--curve-points", "0"]
QEMU = os.environ.get("TR_RIG_QEMU") == "1"


def train(out, *args):
    assert main(["train", "--out", str(out), *QUICK, *map(str, args)]) == 0
    return (pathlib.Path(out) / "params.f32").read_bytes()


def rig(out):
    return json.loads((pathlib.Path(out) / "rig.json").read_text())


# ----------------------------------------------------------------------------- host fleets

def test_a_host_fleet_of_120_devices_trains_tinyreptile_to_the_simulations_bytes(tmp_path):
    fleet = train(tmp_path / "fleet", "--algo", "tinyreptile", "--rounds", 400, "--devices", "host:120")
    sim = train(tmp_path / "sim", "--algo", "tinyreptile", "--rounds", 400, "--devices", 120)
    assert fleet == sim
    r = rig(tmp_path / "fleet")
    assert r["devices"] == "host:120" and r["faults"] == [] and r["rounds_in_this_process"] == 400
    # θ down and φ up, 4353 float32 each, plus framing: 2 * 17412 B and about 2 % more
    assert 2 * 17412 < r["bytes_per_round"] < 2 * 17412 * 1.03


@pytest.mark.parametrize("algo", [["reptile", "--meta-batch", 3], ["fedavg", "--meta-batch", 4]])
def test_host_fleets_train_reptile_and_fedavg_to_the_simulations_bytes(tmp_path, algo):
    args = ["--algo", *algo, "--rounds", 25, "--k", 20, "--batch", 5, "--epochs", 2]
    assert train(tmp_path / "f", *args, "--devices", "host:100") == \
        train(tmp_path / "s", *args, "--devices", 100)


@pytest.mark.parametrize("args", [["--algo", "tinyreptile", "--seed", 3],
                                  ["--algo", "reptile", "--meta-batch", 2, "--transport", "int8"]])
def test_a_host_fleet_of_digits_devices_with_their_images_in_flash_equals_the_simulation(
        tmp_path, args):
    args = ["--task", "digits", "--rounds", 30, *args]
    assert train(tmp_path / "f", *args, "--devices", "host:100") == \
        train(tmp_path / "s", *args, "--devices", 100)


def test_the_int8_transport_equals_the_simulation_with_the_same_transport(tmp_path):
    args = ["--algo", "tinyreptile", "--rounds", 150]
    fleet = train(tmp_path / "f", *args, "--devices", "host:100", "--transport", "int8")
    sim = train(tmp_path / "s", *args, "--devices", 100, "--transport", "int8")
    f32 = train(tmp_path / "s32", *args, "--devices", 100)
    assert fleet == sim
    assert sim != f32  # the round trips are applied, not skipped
    assert 2 * 4353 < rig(tmp_path / "f")["bytes_per_round"] < 2 * (4353 + 18 * 4) * 1.1


def test_a_device_with_another_model_is_refused_at_hello_and_replayed(tmp_path):
    """A fleet in which device 1 carries another model (its fingerprint differs): it is refused
    at HELLO; each draw of it is refused, and the simulation replaying the log agrees."""
    fam = tk.family("sine", 0)
    other = tk.family("sine", 0, hidden=32)
    model = fam.model()
    cfg = tk.config("sine", "tinyreptile", rounds=40, devices=3)

    def make(i, boot, write):
        if i == 1:
            return dv.twin_client(other.model(), other, i, boot, write)
        return dv.twin_client(model, fam, i, boot, write)

    fleet = dv.Fleet("twin", 3, "sine", model, dv.caps_needed(cfg, "float32"), make_twin=make)
    assert [d.refused is not None for d in fleet.devices] == [False, True, False]
    assert "fingerprint" in fleet[1].refused
    lines = []
    t = dv.Trainer(fleet, log=lines.append)
    be = get_backend("c")
    theta, _ = t(model, be, fam, cfg, 0)
    assert t.fault_log and all(e["device"] == 1 for e in t.fault_log)
    assert all("refused at HELLO" in e["reason"] for e in t.fault_log)
    replay, _ = dv.Trainer(skip=t.skip_log())(model, be, fam, cfg, 0)
    plain, _ = dv.Trainer()(model, be, fam, cfg, 0)
    assert theta.tobytes() == replay.tobytes() != plain.tobytes()


FAULT_PLAN = {3: "timeout", 6: "drop", 9: "corrupt", 12: "corrupt-once", 15: "wrong-round",
              18: "nan", 21: "reboot", 24: "exit"}


@pytest.mark.parametrize("transport", ["float32", "int8"])
def test_faults_are_refused_logged_and_the_log_replays_to_the_same_theta(tmp_path, transport):
    fam = tk.family("sine", 0)
    model = fam.model()
    cfg = tk.config("sine", "tinyreptile", rounds=30, devices=100)
    be = get_backend("c")
    lines = []
    fleet = dv.Fleet("host", 100, "sine", model, dv.caps_needed(cfg, transport))
    try:
        t = dv.Trainer(fleet, transport=transport, faults=FAULT_PLAN, log=lines.append)
        theta, _ = t(model, be, fam, cfg, 0)
    finally:
        fleet.close()
    refused = {e["round_id"]: e["reason"] for e in t.fault_log}
    # every injected fault but the one corrupt frame (retransmitted) is refused
    assert sorted(refused) == [3, 6, 9, 15, 18, 21, 24]
    assert refused[3].startswith("timeout") and "middle of a frame" not in refused[3]
    assert refused[6].startswith("timeout") and "middle of a frame" in refused[6]
    assert refused[9].startswith("result incomplete") and "corrupt" in refused[9]
    assert refused[15].startswith("answered for round id 22, expected 15")
    assert refused[18].startswith("non-finite phi")
    assert refused[21].startswith("rebooted")
    assert refused[24].startswith("link closed")
    assert any(line.startswith("note:") and "corrupt frame" in line for line in lines)
    assert sum(line.startswith("fault:") for line in lines) == 7
    # round ids count attempts; a refused one repeats its round: 30 rounds in 37 attempts
    assert [e["round"] for e in t.fault_log] == [2, 4, 6, 11, 13, 15, 17]
    replay, _ = dv.Trainer(transport=transport, skip=t.skip_log())(model, be, fam, cfg, 0)
    plain, _ = dv.Trainer(transport=transport)(model, be, fam, cfg, 0)
    assert theta.tobytes() == replay.tobytes()
    assert theta.tobytes() != plain.tobytes()  # the faults changed the run


def device_processes(exe):
    """Pids of running processes whose executable is `exe`."""
    out = []
    for d in pathlib.Path("/proc").iterdir():
        try:
            if d.name.isdigit() and os.readlink(d / "exe") == exe:
                out.append(int(d.name))
        except OSError:
            pass
    return out


def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_theta(tmp_path):
    args = [sys.executable, "-m", "tinyreptile_ref", "train", "--algo", "tinyreptile",
            "--rounds", "1500", "--devices", "host:100", *QUICK]
    whole = tmp_path / "whole"
    subprocess.run(args + ["--out", str(whole)], check=True, cwd=tmp_path, timeout=600)
    cut = tmp_path / "cut"
    p = subprocess.Popen(args + ["--out", str(cut)], cwd=tmp_path)
    ck = cut / "checkpoint.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if json.loads(ck.read_text())["round"] >= 300:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    killed_at = json.loads(ck.read_text())["round"]
    # the device processes end with the server (their link closes), none is left behind
    exe = str(ROOT / "build" / "device" / "host" / "device-sine")
    deadline = time.monotonic() + 10
    while device_processes(exe) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert device_processes(exe) == []
    assert 300 <= killed_at < 1500, killed_at
    assert not (cut / "params.f32").exists()
    subprocess.run(args + ["--out", str(cut), "--resume"], check=True, cwd=tmp_path, timeout=600)
    assert (cut / "params.f32").read_bytes() == (whole / "params.f32").read_bytes()
    r = rig(cut)
    assert r["rounds_in_this_process"] == 1500 - killed_at
    # a checkpoint is resumed only by the run that wrote it
    other = subprocess.run(args[:-len(QUICK)] + ["--seed", "1", *QUICK, "--out", str(cut),
                                                 "--resume"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    assert other.returncode == 2 and "resume: " in other.stderr and "other options" in other.stderr


def test_bad_device_options_are_refused_with_the_option_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--algo", "tinyreptile", "--out", str(tmp_path), "--devices", "usb:3"])
    assert "--devices" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--algo", "tinyreptile", "--out", str(tmp_path), "--inject-faults", "3:melt"])
    assert "--inject-faults" in capsys.readouterr().err
    assert main(["train", "--algo", "tinyreptile", "--out", str(tmp_path), "--rounds", "2",
                 "--inject-faults", "1:nan", *QUICK]) == 2
    assert "inject_faults: needs --devices KIND:N" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="^devices: "):
        dv.parse_devices("host:0")


# ----------------------------------------------------------------------------- QEMU fleets

qemu = pytest.mark.skipif(not QEMU, reason="QEMU fleets run under make rig-test")


@qemu
@pytest.mark.parametrize("transport", ["float32", "int8"])
def test_a_qemu_fleet_trains_tinyreptile_to_the_simulations_bytes(tmp_path, transport):
    assert shutil.which("qemu-system-arm"), "make mcu-toolchain"
    rounds = 4 if transport == "float32" else 12
    args = ["--algo", "tinyreptile", "--rounds", rounds, "--transport", transport]
    assert train(tmp_path / "q", *args, "--devices", "qemu:2") == \
        train(tmp_path / "s", *args, "--devices", 2)
    r = rig(tmp_path / "q")
    assert r["devices"] == "qemu:2" and r["faults"] == []


@qemu
def test_a_qemu_fleet_trains_fedavg_with_int8_transport_to_the_simulations_bytes(tmp_path):
    args = ["--algo", "fedavg", "--meta-batch", 2, "--rounds", 3, "--k", 20, "--batch", 5,
            "--transport", "int8"]
    assert train(tmp_path / "q", *args, "--devices", "qemu:3") == \
        train(tmp_path / "s", *args, "--devices", 3)


@qemu
def test_a_qemu_fleet_of_digits_devices_equals_the_simulation(tmp_path):
    args = ["--task", "digits", "--algo", "tinyreptile", "--rounds", 4, "--transport", "int8"]
    assert train(tmp_path / "q", *args, "--devices", "qemu:2") == \
        train(tmp_path / "s", *args, "--devices", 2)


@qemu
def test_a_qemu_device_that_reboots_mid_round_is_refused_and_replayed(tmp_path):
    fam = tk.family("sine", 0)
    model = fam.model()
    cfg = tk.config("sine", "tinyreptile", rounds=4, devices=2)
    be = get_backend("c")
    fleet = dv.Fleet("qemu", 2, "sine", model, dv.caps_needed(cfg, "int8"))
    try:
        t = dv.Trainer(fleet, transport="int8", faults={2: "reboot"}, log=lambda s: None)
        theta, _ = t(model, be, fam, cfg, 0)
    finally:
        fleet.close()
    assert [e["round_id"] for e in t.fault_log] == [2]
    assert t.fault_log[0]["reason"].startswith("rebooted")
    replay, _ = dv.Trainer(transport="int8", skip=t.skip_log())(model, be, fam, cfg, 0)
    assert theta.tobytes() == replay.tobytes()
