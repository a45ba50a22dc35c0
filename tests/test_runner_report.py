"""The golden-vector runner's FAIL lines speak the user's terms: built with contraction on (a
planted wrong build: clang -ffp-contract=fast on an FMA host; GCC cannot contract the
library's sources any more, csrc/tr_contract.h), its failures name the model tensor
(layer, kind, w or b, [o][i]) or the blob's multi-index, the signed ulp distance and the count
of differing values per tensor; the last line stays `N passed, N failed`. Every claim is
recomputed here from the vectors (the layer table, the expected blob), not taken from the
runner."""
import pathlib
import re
import shutil
import subprocess

import pytest

from tinyreptile_ref.runtime.model import Model
from tinyreptile_ref.tools import xcheck as xc
from tinyreptile_ref.vectors import load_manifest, read_blob

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "vectors"
RUNNER = ["tests/runner/tv_core.c", "tests/runner/tv_sha256.c", "tests/runner/tv_handlers.c",
          "tests/runner/tv_files.c", "tests/runner/tv_main_files.c"]


def cpu_has_fma():
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and " fma " in line + " " for line in text.splitlines())


@pytest.fixture(scope="module")
def fma_output(tmp_path_factory):
    if not cpu_has_fma() or shutil.which("clang") is None:
        pytest.skip("needs clang (make flags-toolchain) and an FMA-capable x86-64 host")
    exe = tmp_path_factory.mktemp("runner") / "tv_runner_fma"
    srcs = RUNNER + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").glob("*.c"))
    subprocess.run(["clang", "-std=c99", "-O2", "-ffp-contract=fast", "-march=x86-64-v3",
                    "-Icsrc", "-Itests/runner", *srcs, "-o", str(exe)], cwd=ROOT, check=True)
    p = subprocess.run([str(exe), str(VECTORS / "manifest.json")], capture_output=True,
                       text=True)
    assert p.returncode != 0
    return p.stdout


def case(cid):
    m = load_manifest(VECTORS)
    return next(c for c in m["cases"] if c["id"] == cid)


def blob(c, name, role="input"):
    b = next(b for b in c["blobs"] if b["name"] == name and b["role"] == role)
    return read_blob(VECTORS, b)


def test_model_fail_line_names_layer_tensor_index_and_ulps(fma_output):
    line = next(l for l in fma_output.splitlines()
                if l.startswith("FAIL model_train_step_f32/000-sine-fused: theta: "))
    m = re.search(r"theta: (\d+) of (\d+) values differ \((.*)\); first: layer (\d+) \((\w+)\) "
                  r"w\[(\d+)\]\[(\d+)\] \(\[o\]\[i\]\) = theta\[(\d+)\]: got 0x([0-9a-f]{8}) "
                  r"\(\S+\), expected 0x([0-9a-f]{8}) \(\S+\), ([+-]\d+) ulp", line)
    assert m, line
    c = case("model_train_step_f32/000-sine-fused")
    model = Model.from_table(blob(c, "layers"), c["params"]["loss"])
    flat = int(m.group(8))
    L = next(L for L in model.layers if L.has_params and L.w_off <= flat < L.b_off)
    o, i = divmod(flat - L.w_off, L.w_shape[1])
    assert (int(m.group(4)), m.group(5), int(m.group(6)), int(m.group(7))) == (L.index, L.kind,
                                                                              o, i)
    exp_bits = int(m.group(10), 16)
    assert xc.f32_bits(blob(c, "theta", "expected").reshape(-1)[flat]) == exp_bits
    got = xc.from_bits(int(m.group(9), 16))
    assert int(m.group(11)) == xc.ulp_distance(got, xc.from_bits(exp_bits))
    # the per-tensor counts add up to the total
    counts = [int(v) for v in re.findall(r"layer \d+ [wb] (\d+) of \d+", m.group(3))]
    assert sum(counts) == int(m.group(1)) and int(m.group(2)) == model.n_params


def test_kernel_fail_line_gives_the_multi_index_in_the_blobs_shape(fma_output):
    lines = [l for l in fma_output.splitlines() if l.startswith("FAIL conv1d_backward_f32/")]
    assert lines
    for line in lines:
        m = re.search(r": (\w+): \d+ of \d+ values differ; first at \1((?:\[\d+\])+): got "
                      r"0x[0-9a-f]{8} \(\S+\), expected 0x[0-9a-f]{8} \(\S+\), [+-]\d+ ulp; "
                      r"largest \|ulp\| \d+$", line)
        assert m, line
        c = case(line.split()[1].rstrip(":"))
        shape = blob(c, m.group(1), "expected").shape
        idx = [int(v) for v in re.findall(r"\d+", m.group(2))]
        assert len(idx) == len(shape) and all(0 <= a < n for a, n in zip(idx, shape))


def test_summary_and_last_line_stay(fma_output):
    lines = fma_output.splitlines()
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1])
    assert any(re.match(r"\s*model_train_step_f32\s", l) for l in lines)
