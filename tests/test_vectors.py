"""The golden vectors: the committed files obey their schema, regenerate byte for byte from the
NumPy twins, cover every kernel, and the C runner replays them bitwise from files and from an
embedded C source, and fails when a bit, a checksum or a kernel is wrong."""
import json
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

from tinyreptile_ref import backend
from tinyreptile_ref import vectors as tv
from tinyreptile_ref.vectors import embed, format as vf
from tinyreptile_ref.vectors.rng import SplitMix64

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "vectors"
SCHEMA = json.loads(vf.SCHEMA_PATH.read_text())  # the shipped schema; vectors/ holds a copy
RUNNER = ROOT / "tests" / "runner"
CFLAGS = ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic",
          "-Wmissing-prototypes", "-Werror", "-O1"]
CORE = ["tv_core.c", "tv_sha256.c", "tv_handlers.c"]
FINAL = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


@pytest.fixture(scope="module")
def manifest():
    return vf.load_manifest(VECTORS)


def build(out, main_sources, csrc=ROOT / "csrc", extra=(), libs=()):
    """Compile the runner with the kernel library under the project's warning flags."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (cc) is needed to build the vector runner"
    srcs = [str(RUNNER / s) for s in CORE + list(main_sources)] + [str(p) for p in extra]
    srcs += sorted(str(p) for p in pathlib.Path(csrc).glob("*.c"))
    subprocess.run([cc, *CFLAGS, f"-I{csrc}", f"-I{RUNNER}", *srcs, "-o", str(out), *libs],
                   check=True, capture_output=True, text=True)
    return out


def run(exe, *args):
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)
    m = FINAL.findall(p.stdout)
    assert m, f"no final line in the runner's output:\n{p.stdout}\n{p.stderr}"
    assert p.stdout.rstrip().splitlines()[-1] == f"{m[-1][0]} passed, {m[-1][1]} failed"
    return p.returncode, int(m[-1][0]), int(m[-1][1]), p.stdout


@pytest.fixture(scope="module")
def files_runner(tmp_path_factory):
    return build(tmp_path_factory.mktemp("runner") / "tv_runner_files",
                 ["tv_files.c", "tv_main_files.c"])


def copy_vectors(tmp_path):
    dst = tmp_path / "vectors"
    shutil.copytree(VECTORS, dst)
    return dst


def rewrite_manifest(root, change):
    m = vf.load_manifest(root)
    change(m)
    (root / "manifest.json").write_text(vf.manifest_text(m), encoding="ascii")


# ------------------------------------------------------------------ the format

def test_the_committed_manifest_validates_against_its_schema_and_checksums(manifest):
    vf.validate_schema(manifest, SCHEMA)
    assert vf.check(VECTORS)["case_count"] == len(manifest["cases"])


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m.pop("provenance"), "missing required key 'provenance'"),
    (lambda m: m.update(schema_version=2), "is not 1"),
    (lambda m: m["cases"][0].update(flags=["fast"]), "is not one of"),
    (lambda m: m["cases"][0].update(status=3), "is not one of"),
    (lambda m: m["cases"][0].update(extra=1), "unexpected key 'extra'"),
    (lambda m: m["cases"][0]["blobs"][0].update(sha256="ABC"), "does not match"),
    (lambda m: m["cases"][0]["blobs"][0].update(dtype="f64"), "is not one of"),
    (lambda m: m["cases"][0]["blobs"][0].update(shape=[1, 2, 3, 4, 5]), "more than 4"),
    (lambda m: m["cases"][0]["blobs"][0].update(shape=[-1]), "< minimum"),
    (lambda m: m["cases"][0]["params"].update(B=2**31), "> maximum"),
    (lambda m: m["cases"][0]["params"].update(B=1.5), "expected ['integer', 'string']"),
    (lambda m: m["cases"][0]["params"].update(lr="0.1"), "does not match"),
    (lambda m: m["cases"][0].update(flags=["tie", "tie"]), "not unique"),
    (lambda m: m["provenance"].update(seed=True), "expected integer"),
])
def test_the_schema_validator_rejects_a_broken_manifest(manifest, mutate, message):
    m = json.loads(json.dumps(manifest))
    mutate(m)
    with pytest.raises(vf.VectorFormatError, match=re.escape(message)):
        vf.validate_schema(m, SCHEMA)


def test_the_schema_validator_refuses_keywords_it_does_not_implement():
    with pytest.raises(vf.VectorFormatError, match="unsupported keyword"):
        vf.validate_schema(1, {"type": "integer", "multipleOf": 2})


def test_float_parameters_are_stored_as_their_bits():
    assert vf.f32_param(0.1) == "f32:0x3dcccccd"
    assert vf.f32_param(-0.0) == "f32:0x80000000"
    assert vf.f32_from_param("f32:0x3dcccccd") == np.float32(0.1)
    with pytest.raises(vf.VectorFormatError):
        vf.f32_from_param("0.1")


def test_blobs_are_raw_little_endian_bits(manifest):
    case = next(c for c in manifest["cases"] if c["id"].startswith("dense_forward_f32/") and "order" in c["flags"])
    w = next(b for b in case["blobs"] if b["name"] == "w")
    raw = (VECTORS / w["file"]).read_bytes()
    assert raw == np.array([[1e8, 1.0, -1e8]], "<f4").tobytes()
    assert raw[4:8] == b"\x00\x00\x80\x3f"  # 1.0f, little-endian


def test_splitmix64_reproduces_the_published_sequence():
    # Vigna's reference splitmix64.c: seed 1234567 gives 6457827717110365317, 3203168211198807973.
    assert SplitMix64(1234567).u64(2).tolist() == [6457827717110365317, 3203168211198807973]
    assert SplitMix64(0).u64(1).tolist() == [0xE220A8397B1DCDAF]
    r = SplitMix64(99)
    assert np.concatenate([r.u64(3), r.u64(4)]).tolist() == SplitMix64(99).u64(7).tolist()


# --------------------------------------------------------------- the generator

def test_regenerating_the_vectors_is_byte_identical(tmp_path, manifest):
    tv.generate(tmp_path)
    committed = {p.relative_to(VECTORS).as_posix() for p in VECTORS.rglob("*") if p.is_file()}
    regenerated = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert regenerated == committed - {"README.md"}  # schema.json: the shipped schema's copy
    assert (tmp_path / "schema.json").read_bytes() == vf.SCHEMA_PATH.read_bytes()
    for rel in sorted(regenerated - {"manifest.json"}):
        assert (tmp_path / rel).read_bytes() == (VECTORS / rel).read_bytes(), rel
    # The manifest records which NumPy and Python ran the generator; every other byte must be
    # the same. Substituting the committed versions must give the committed file exactly.
    text = (tmp_path / "manifest.json").read_text()
    regen = json.loads(text)
    assert vf.manifest_text(regen) == text
    regen["provenance"]["numpy"] = manifest["provenance"]["numpy"]
    regen["provenance"]["python"] = manifest["provenance"]["python"]
    assert vf.manifest_text(regen) == (VECTORS / "manifest.json").read_text()


def test_the_vectors_cover_every_kernel_of_the_backends(manifest):
    kernels = {c["kernel"] for c in manifest["cases"]}
    missing = set(backend.kernel_names()) - kernels
    assert not missing, f"kernels without vectors: {sorted(missing)} (add a generator in vectors/cases/)"


def test_every_float32_kernel_has_its_edge_cases(manifest):
    flags = {}
    for c in manifest["cases"]:
        flags.setdefault(c["kernel"], set()).update(c["flags"])
    for kernel in (k for k in backend.kernel_names() if k.endswith("_f32")):
        need = {"empty", "nan", "subnormal", "signed zero"}
        assert need <= flags[kernel], f"{kernel} lacks {sorted(need - flags[kernel])}"


def test_every_int8_kernel_has_its_edge_cases(manifest):
    flags = {}
    for c in manifest["cases"]:
        flags.setdefault(c["kernel"], set()).update(c["flags"])
    for kernel in (k for k in backend.kernel_names() if k.endswith("_s8")):
        assert "empty" in flags[kernel], f"{kernel} lacks an empty case"
    for kernel in ("dense_forward_s8", "conv1d_forward_s8"):
        need = {"max depth", "saturates", "status"}
        assert need <= flags[kernel], f"{kernel} lacks {sorted(need - flags[kernel])}"


def test_the_expected_outputs_come_from_the_numpy_twins(manifest, npb):
    # An independent replay of a few cases: the stored outputs are the twins' results.
    for c in manifest["cases"]:
        if c["kernel"] != "dense_forward_f32":
            continue
        blobs = {(b["name"], b["role"]): vf.read_blob(VECTORS, b) for b in c["blobs"]}
        y = npb.dense_forward_f32(blobs["x", "input"].copy(), blobs["w", "input"].copy(),
                                  blobs["bias", "input"].copy())
        assert y.tobytes() == blobs["y", "expected"].tobytes(), c["id"]


def test_a_tampered_blob_is_detected_by_its_sha256(tmp_path, manifest, files_runner):
    root = copy_vectors(tmp_path)
    blob = manifest["cases"][3]["blobs"][0]
    data = bytearray((root / blob["file"]).read_bytes())
    data[0] ^= 0x01
    (root / blob["file"]).write_bytes(bytes(data))
    with pytest.raises(vf.VectorFormatError, match="sha256"):
        vf.check(root)
    rc, passed, failed, out = run(files_runner, root / "manifest.json")
    assert rc != 0 and failed == 1 and passed == len(manifest["cases"]) - 1
    assert f"FAIL {manifest['cases'][3]['id']}: blob '{blob['name']}'" in out and "sha256" in out


def test_a_stray_or_missing_blob_file_is_detected(tmp_path, manifest):
    root = copy_vectors(tmp_path)
    (root / "blobs" / "dense_forward_f32" / "999-extra.x.in.bin").write_bytes(b"")
    with pytest.raises(vf.VectorFormatError, match="not in the manifest"):
        vf.check(root)
    root2 = copy_vectors(tmp_path / "b")
    (root2 / manifest["cases"][0]["blobs"][0]["file"]).unlink()
    with pytest.raises(vf.VectorFormatError, match="cannot be read"):
        vf.check(root2)


# ------------------------------------------------------------------ the runner

def test_the_runner_passes_every_case_from_files(files_runner, manifest):
    rc, passed, failed, out = run(files_runner, VECTORS / "manifest.json")
    assert (rc, passed, failed) == (0, len(manifest["cases"]), 0), out
    for kernel in {c["kernel"] for c in manifest["cases"]}:
        assert re.search(rf"^{kernel} +\d+ +0$", out, re.M), kernel


def test_the_runner_passes_every_case_embedded_as_c_arrays(tmp_path, manifest):
    src = tmp_path / "tv_embedded.c"
    assert embed.write_c(VECTORS, src) == len(manifest["cases"])
    exe = build(tmp_path / "tv_runner_embedded", ["tv_main_embedded.c"], extra=[src])
    rc, passed, failed, out = run(exe)
    assert (rc, passed, failed) == (0, len(manifest["cases"]), 0), out


def test_the_embedder_keeps_only_the_kernels_asked_for(tmp_path, manifest):
    text, n = embed.c_source(VECTORS, ["sgd_step_f32"])
    assert n == sum(c["kernel"] == "sgd_step_f32" for c in manifest["cases"]) > 0
    assert '"dense_forward_f32"' not in text
    with pytest.raises(ValueError, match="no cases"):
        embed.c_source(VECTORS, ["no_such_kernel"])


def test_the_runner_fails_on_a_flipped_bit_in_an_expected_output(tmp_path, manifest, files_runner):
    # The checksum is updated too, so only the bitwise comparison can catch it.
    root = copy_vectors(tmp_path)
    case = next(c for c in manifest["cases"] if c["kernel"] == "dense_backward_f32" and c["blobs"][-1]["shape"][0] > 0)
    blob = case["blobs"][-1]
    data = bytearray((root / blob["file"]).read_bytes())
    data[-1] ^= 0x40  # a bit of the last element's exponent
    (root / blob["file"]).write_bytes(bytes(data))

    def fix(m):
        c = next(c for c in m["cases"] if c["id"] == case["id"])
        c["blobs"][-1]["sha256"] = vf.sha256(bytes(data))
    rewrite_manifest(root, fix)
    vf.check(root)
    rc, passed, failed, out = run(files_runner, root / "manifest.json")
    assert rc != 0 and failed == 1, out
    assert re.search(rf"FAIL {re.escape(case['id'])}: {blob['name']}: 1 of \d+ values differ", out), out


def test_the_runner_catches_a_kernel_built_with_fused_multiply_add(tmp_path, manifest):
    # Sabotage a copy of the library: the SGD step as one fused multiply-add (fmaf rounds once).
    csrc = tmp_path / "csrc"
    shutil.copytree(ROOT / "csrc", csrc)
    src = (csrc / "optim.c").read_text()
    pattern = re.compile(r"float step = lr \* g\[j\];\s*theta\[j\] = theta\[j\] - step;")
    assert pattern.search(src), "optim.c changed: update this sabotage"
    (csrc / "optim.c").write_text("#include <math.h>\n" + pattern.sub("theta[j] = fmaf(-lr, g[j], theta[j]);", src))
    exe = build(tmp_path / "tv_runner_fma", ["tv_files.c", "tv_main_files.c"], csrc=csrc, libs=["-lm"])
    rc, passed, failed, out = run(exe, VECTORS / "manifest.json")
    assert rc != 0 and failed > 0, out
    # The SGD cases fail, and so does every multi-step sequence (they take SGD steps): the
    # sequences report the first step whose phi drifted. So do the model runtime's cases that
    # update through a gradient buffer (modes grad and accum, Reptile); the fused step has its
    # own update (the next test sabotages that one).
    assert set(re.findall(r"^FAIL (\w+)/", out, re.M)) == {
        "sgd_step_f32", "reptile_mlp_f32", "model_train_step_f32", "tinyreptile_device_round_f32",
        "reptile_device_round_f32", "reptile_rounds_f32"}, out
    assert re.search(r"^FAIL reptile_mlp_f32/\S+: (loss|phi): ", out, re.M), out


def test_the_runner_catches_a_fused_update_built_with_fused_multiply_add(tmp_path, manifest):
    # Sabotage the model runtime's fused step: its dense update w - lr*g as one fmaf.
    csrc = tmp_path / "csrc"
    shutil.copytree(ROOT / "csrc", csrc)
    src = (csrc / "model.c").read_text()
    pattern = re.compile(r"wo\[i\] = wi - lr \* gi;")
    assert pattern.search(src), "model.c changed: update this sabotage"
    (csrc / "model.c").write_text("#include <math.h>\n" + pattern.sub("wo[i] = fmaf(-lr, gi, wi);", src))
    exe = build(tmp_path / "tv_runner_fma", ["tv_files.c", "tv_main_files.c"], csrc=csrc, libs=["-lm"])
    rc, passed, failed, out = run(exe, VECTORS / "manifest.json")
    assert rc != 0 and failed > 0, out
    failing = set(re.findall(r"^FAIL (\w+)/", out, re.M))
    # the fused steps, the TinyReptile rounds (fused) and the whole TinyReptile runs
    assert {"model_train_step_f32", "tinyreptile_device_round_f32",
            "tinyreptile_rounds_f32"} <= failing, out
    assert not failing & {"sgd_step_f32", "reptile_rounds_f32", "reptile_device_round_f32"}, out


def test_a_truncated_manifest_fails_the_run(tmp_path, files_runner):
    root = copy_vectors(tmp_path)
    text = (root / "manifest.json").read_text()
    (root / "manifest.json").write_text(text[: len(text) // 2])
    rc, passed, failed, out = run(files_runner, root / "manifest.json")
    assert rc != 0 and failed >= 1, out


def test_a_wrong_case_count_fails_the_run(tmp_path, files_runner, manifest):
    root = copy_vectors(tmp_path)
    rewrite_manifest(root, lambda m: m["cases"].pop())
    rc, passed, failed, out = run(files_runner, root / "manifest.json")
    assert rc != 0 and failed == 1 and passed == len(manifest["cases"]) - 1
    assert "case_count" in out


def test_a_run_with_no_case_fails(tmp_path, files_runner):
    (tmp_path / "manifest.json").write_text('{"schema_version": 1, "case_count": 0, "cases": []}')
    rc, passed, failed, out = run(files_runner, tmp_path / "manifest.json")
    assert (rc != 0, passed, failed) == (True, 0, 1) and "no case ran" in out


def test_an_unknown_kernel_fails_instead_of_being_skipped(tmp_path, files_runner, manifest):
    root = copy_vectors(tmp_path)
    rewrite_manifest(root, lambda m: m["cases"][0].update(kernel="warp_drive_f32"))
    rc, passed, failed, out = run(files_runner, root / "manifest.json")
    assert rc != 0 and failed == 1 and "no handler for kernel 'warp_drive_f32'" in out


def test_the_runner_reads_any_json_layout_of_the_manifest(tmp_path, files_runner, manifest):
    # Keys reordered, other white space, escapes: still a manifest.
    root = copy_vectors(tmp_path)
    m = vf.load_manifest(root)
    m = {"cases": m["cases"], **{k: v for k, v in m.items() if k != "cases"}}
    m = dict(reversed(list(m.items())))  # schema_version first again, cases last
    for c in m["cases"]:
        c["comment"] = c["comment"] + " \u00e9\t\"quoted\""
        c["unknown"] = {"nested": [1, 2.5, True, None, "x"]}
    (root / "manifest.json").write_text(json.dumps(m, indent=3))
    rc, passed, failed, out = run(files_runner, root / "manifest.json")
    assert (rc, passed, failed) == (0, len(manifest["cases"]), 0), out


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs the MCU toolchain (make mcu-toolchain); make mcu-test runs the passing case")
def test_an_mcu_image_under_qemu_fails_on_a_flipped_bit(tmp_path, manifest):
    # The whole chain on an emulated Cortex-M3: runner status -> exit() -> semihosting -> QEMU's
    # exit status -> run-qemu.sh. A wrong bit in an embedded expected output must fail the run.
    import sys
    root = copy_vectors(tmp_path)
    case = next(c for c in manifest["cases"] if c["kernel"] == "reptile_interpolate_f32" and c["blobs"][-1]["shape"][0] > 0)
    blob = case["blobs"][-1]
    data = bytearray((root / blob["file"]).read_bytes())
    data[0] ^= 0x01
    (root / blob["file"]).write_bytes(bytes(data))

    def fix(m):
        next(c for c in m["cases"] if c["id"] == case["id"])["blobs"][-1]["sha256"] = vf.sha256(bytes(data))
    rewrite_manifest(root, fix)
    elf = tmp_path / "mcu" / "m3" / "tv_runner_embedded.elf"
    subprocess.run(["make", "-s", "-C", str(ROOT), f"BUILD={tmp_path}/build", f"MCU_BUILD={tmp_path}/mcu",
                    f"VECTORS_DIR={root}", f"VEC_PY={sys.executable}", "VEC_PY_DEP=", str(elf)],
                   check=True, capture_output=True, text=True)
    p = subprocess.run([str(ROOT / "mcu" / "tools" / "run-qemu.sh"), "m3", str(elf), "120"],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout.rstrip().splitlines()[-1] == f"{len(manifest['cases']) - 1} passed, 1 failed"
    assert f"FAIL {case['id']}: theta: 1 of" in p.stdout


def test_the_generator_anneals_eps_with_the_algorithms_formula(monkeypatch):
    """The golden runs' per-round eps comes from federated.algorithms.annealed_eps, the one
    formula Config.eps uses too: a change to it changes both."""
    from tinyreptile_ref.federated import algorithms as fl
    from tinyreptile_ref.runtime.model import Dense, Model, Tanh
    from tinyreptile_ref.vectors.cases import common, model as vmodel
    m = Model((1,), [Dense(3), Tanh(), Dense(1)])
    cfg = fl.Config(algo="tinyreptile", rounds=4, k=2, inner_lr=0.02, eps0=0.3)

    def eps_of_generator():
        inputs, _ = vmodel._rounds(common.Gen("tinyreptile_rounds_f32", 0), m, 4, 2,
                                   np.float32(0.02), 0.3, "tinyreptile")
        return inputs["eps"].tolist()

    assert eps_of_generator() == [float(np.float32(cfg.eps(r))) for r in range(4)]
    monkeypatch.setattr(fl, "annealed_eps", lambda eps0, eps_end, r, rounds, anneal="linear":
                        eps0 / (r + 1))
    assert eps_of_generator() == [float(np.float32(0.3 / (r + 1))) for r in range(4)]
    assert [cfg.eps(r) for r in range(4)] == [0.3 / (r + 1) for r in range(4)]
