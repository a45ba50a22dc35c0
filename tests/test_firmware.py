"""The TinyReptile firmware (mcu/firmware/tinyreptile_fw.c): the image replays the vectors' whole
federated run on the device and prints the SHA-256 of the final theta, which equals the host's
(the NumPy twin re-running the same run from the vectors' inputs): built natively here, and
for Cortex-M4F under QEMU when the MCU toolchain is present (make device-test runs all six)."""
import hashlib
import importlib.util
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tinyreptile_ref import get_backend
from tinyreptile_ref.runtime.model import Model
from tinyreptile_ref.vectors import load_manifest, read_blob
from tinyreptile_ref.vectors.format import f32_from_param

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "vectors"
CFLAGS = ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic",
          "-Wmissing-prototypes", "-Werror", "-O2"]
MCU = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")


def fw_data():
    spec = importlib.util.spec_from_file_location("fw_data", ROOT / "mcu" / "tools" / "fw_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def host_digest(variant):
    """SHA-256 of the final theta of the variant's run, recomputed by the NumPy twin from the
    vectors' inputs: each round the device's round from theta, then the server's step."""
    mod = fw_data()
    model_name, algo = variant.split("-", 1)
    kernel, mode = mod.ALGOS[algo]
    case = mod.find_case(load_manifest(VECTORS), kernel, model_name)
    p = case["params"]
    inp = {b["name"]: read_blob(VECTORS, b) for b in case["blobs"] if b["role"] == "input"}
    model = Model.from_table(inp["layers"], p["loss"])
    npb = get_backend("numpy")
    lr = f32_from_param(p["lr"])
    theta = inp["theta"].copy()
    target = inp["target"] if model.loss == "mse" else inp["labels"]
    for r in range(p["rounds"]):
        if kernel == "reptile_rounds_f32":
            phi, _ = npb.reptile_device_round_f32(theta, inp["x"][r], target[r], inp["order"][r],
                                                  model, p["epochs"], p["batch"], lr)
        else:
            phi, _ = npb.tinyreptile_device_round_f32(theta, inp["x"][r], target[r], model, lr,
                                                      mode)
        npb.reptile_interpolate_f32(theta, phi, inp["eps"][r])
    return hashlib.sha256(theta.astype("<f4").tobytes()).hexdigest()


def build_host(tmp_path, variant, edit=None):
    src = tmp_path / f"fw_{variant}.c"
    text = fw_data().c_source(variant, VECTORS)
    src.write_text(edit(text) if edit else text)
    exe = tmp_path / f"fw_{variant}"
    subprocess.run([shutil.which("cc") or "gcc", *CFLAGS, f"-I{ROOT / 'csrc'}", f"-I{ROOT / 'mcu' / 'port'}",
                    f"-I{ROOT / 'mcu' / 'firmware'}", f"-I{ROOT / 'tests' / 'runner'}", str(ROOT / "mcu" / "firmware" / "tinyreptile_fw.c"),
                    str(src), str(ROOT / "mcu" / "port" / "stackmark.c"), str(ROOT / "mcu" / "port" / "fpenv.c"),
                    str(ROOT / "tests" / "runner" / "tv_sha256.c"),
                    *map(str, sorted((ROOT / "csrc").glob("*.c"))), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe


def printed(out, key):
    m = re.search(rf"^{key}: (\S+)$", out, re.M)
    assert m, out
    return m.group(1)


@pytest.fixture(scope="module")
def sine_digest():
    return host_digest("sine-tinyreptile-fused")


def test_the_host_build_of_the_firmware_prints_the_hosts_theta_digest(tmp_path, sine_digest):
    p = subprocess.run([str(build_host(tmp_path, "sine-tinyreptile-fused"))], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert printed(p.stdout, "theta_sha256") == sine_digest
    assert printed(p.stdout, "rounds") == "100"
    # the gradient-buffer variant trains the same run to the same bits
    p = subprocess.run([str(build_host(tmp_path, "sine-tinyreptile-grad"))], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and printed(p.stdout, "theta_sha256") == sine_digest, p.stdout


def test_the_firmware_fails_when_a_sample_bit_differs(tmp_path):
    def flip(text):  # the first word of the first sample, one mantissa bit off
        head, rest = text.split("tr_fw_x = {{\n    0x", 1)
        word = int(rest[:8], 16) ^ 1
        return f"{head}tr_fw_x = {{{{\n    0x{word:08x}{rest[8:]}"
    p = subprocess.run([str(build_host(tmp_path, "sine-tinyreptile-fused", flip))],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "result: MISMATCH" in p.stdout, p.stdout


@pytest.fixture(scope="module")
def mcu_images(tmp_path_factory):
    """The two variants below, built for Cortex-M4F into a scratch build directory."""
    tmp = tmp_path_factory.mktemp("fw")
    mcu = tmp / "mcu"
    elfs = {v: mcu / "m4f" / f"fw-{v}.elf" for v in ("sine-tinyreptile-fused", "conv-reptile-accum")}
    subprocess.run(["make", "-s", "-C", str(ROOT), f"BUILD={tmp}/build", f"MCU_BUILD={mcu}",
                    f"VEC_PY={sys.executable}", "VEC_PY_DEP=", *map(str, elfs.values())],
                   check=True, capture_output=True, text=True)
    return elfs


@pytest.mark.skipif(not MCU, reason="needs the MCU toolchain (make mcu-toolchain); "
                                    "make device-test runs every variant")
@pytest.mark.parametrize("variant", ["sine-tinyreptile-fused", "conv-reptile-accum"])
def test_the_cortex_m4f_image_prints_the_hosts_theta_digest(mcu_images, variant):
    p = subprocess.run([str(ROOT / "mcu" / "tools" / "run-qemu.sh"), "mps2-an386", str(mcu_images[variant]),
                        "120"], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert printed(p.stdout, "theta_sha256") == host_digest(variant)
    assert int(printed(p.stdout, "stack_used")) > int(printed(p.stdout, "stack_baseline")) > 0
