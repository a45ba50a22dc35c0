"""The distributions: `python -m build` makes an sdist and a wheel from the checkout; the sdist
holds everything to build and to test, the wheel carries the C library, the runner and the
golden vectors; the sdist installs into a fresh virtual environment and its C backend, its
C-library locations and export-c work there.

Slow (builds twice, creates a venv, installs numpy and cffi): run by `make dist-test`, not by
test-py (the file name does not match test_*.py; pytest collects it when named).
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile

import pytest

import tinyreptile_ref

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = tinyreptile_ref.__version__
NAME = f"tinyreptile_ref-{VERSION}"
CC = shutil.which("cc") or shutil.which("gcc")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def tracked(*folders):
    """The files git tracks under `folders` (the checkout's own list, not the code's)."""
    out = run(["git", "-C", str(ROOT), "ls-files", "--", *folders]).stdout.split()
    return {f for f in out if (ROOT / f).is_file()}


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """sdist and wheel, the wheel built FROM the sdist (python -m build's default), from a
    copy of the checkout's files as a fresh clone has them: no build/, no *.egg-info (whose
    stale SOURCES.txt setuptools would add to the sdist), no compiled extension."""
    tree = tmp_path_factory.mktemp("tree")
    files = run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"]).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tree / f)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)])
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, list(out.iterdir())
    return sdists[0], wheels[0]


@pytest.fixture(scope="module")
def sdist_names(dists):
    with tarfile.open(dists[0]) as t:
        names = [m.name for m in t.getmembers() if m.isfile()]
    assert all(n.startswith(NAME + "/") for n in names)
    return {n[len(NAME) + 1:] for n in names}


@pytest.fixture(scope="module")
def wheel_names(dists):
    with zipfile.ZipFile(dists[1]) as z:
        return set(z.namelist())


@pytest.fixture(scope="module")
def fresh(dists, tmp_path_factory):
    """A new virtual environment with the sdist installed by pip (isolated build)."""
    d = tmp_path_factory.mktemp("venv")
    venv.create(d, with_pip=True)
    py = d / "bin" / "python"
    run([str(py), "-m", "pip", "install", "-q", str(dists[0])], cwd=str(d))
    return py


def test_sdist_holds_everything_to_build_and_to_test(sdist_names):
    need = tracked("csrc", "tests", "vectors", "mk", "mcu", "tinyreptile_ref", "cmake",
                   "examples") | {
        "LICENSE", "README.md", "Makefile", "pytest.ini", "setup.py", "pyproject.toml"} | {
        f for f in ("CMakeLists.txt", "library.json", "library.properties") if (ROOT / f).is_file()}
    missing = sorted(need - sdist_names)
    assert not missing, f"missing from the sdist: {missing[:20]}"
    assert len([n for n in sdist_names if n.startswith("vectors/blobs/")]) > 1000
    junk = [n for n in sdist_names if re.search(r"(^build/|^\.venv/|\.so$|\.o$|\.elf$|\.pyc$)", n)]
    assert not junk, junk


def test_wheel_carries_the_c_library_runner_and_vectors(wheel_names):
    pkg = "tinyreptile_ref/"
    lib = {pkg + "csrc/" + f[len("csrc/"):] for f in tracked("csrc") if f.endswith((".c", ".h"))}
    runner = {pkg + "runner/" + f[len("tests/runner/"):] for f in tracked("tests/runner")
              if f.endswith((".c", ".h"))}  # the sources (not the CMake glue of the checkout)
    vectors = {pkg + "golden/" + f[len("vectors/"):] for f in tracked("vectors")}
    for what, want in (("library", lib), ("runner", runner), ("vectors", vectors)):
        missing = sorted(want - wheel_names)
        assert not missing, f"{what} missing from the wheel: {missing[:10]}"
    assert pkg + "csrc/tr_contract.h" in wheel_names
    assert [n for n in wheel_names if n.endswith(".so")] == [
        "tinyreptile_ref/backend/_tinyreptile_c.abi3.so"]
    assert f"{NAME}.dist-info/licenses/LICENSE" in wheel_names


def test_wheel_tag_and_metadata(dists):
    with zipfile.ZipFile(dists[1]) as z:
        wheel = z.read(f"{NAME}.dist-info/WHEEL").decode()
        meta = z.read(f"{NAME}.dist-info/METADATA").decode()
    assert re.search(r"^Tag: cp39-abi3-\w+$", wheel, re.M), wheel
    assert dists[1].name.startswith(f"{NAME}-cp39-abi3-")
    head, _, body = meta.partition("\n\n")
    for line in ("License-Expression: Apache-2.0", "Requires-Python: >=3.9",
                 "Description-Content-Type: text/markdown", f"Version: {VERSION}",
                 "Requires-Dist: numpy>=1.22", "Provides-Extra: test", "Provides-Extra: tasks",
                 "Provides-Extra: demo", "Classifier: Programming Language :: C"):
        assert line in head.splitlines(), line
    assert body.startswith("# tinyreptile_ref")


def test_sdist_installs_into_a_fresh_venv_and_runs_its_c_backend(fresh, tmp_path):
    code = """
import numpy as np, pathlib, tinyreptile_ref as t
c, n = t.get_backend("c"), t.get_backend("numpy")
rng = np.random.default_rng(0)
x = rng.standard_normal((3, 7)).astype(np.float32)
w = rng.standard_normal((5, 7)).astype(np.float32)
b = rng.standard_normal(5).astype(np.float32)
assert c.dense_forward_f32(x, w, b).tobytes() == n.dense_forward_f32(x, w, b).tobytes()
site = pathlib.Path(t.__file__).parent
for p in [t.get_include(), t.get_runner_dir(), t.get_vectors_dir()] + t.get_c_sources():
    assert pathlib.Path(p).is_relative_to(site), p
print(c.__name__, len(t.get_c_sources()), t.get_vectors_dir())
"""
    r = run([str(fresh), "-c", code], cwd=str(tmp_path))
    n_c = len(list((ROOT / "csrc").glob("*.c")))  # every library source of the checkout
    assert r.stdout.startswith(f"tinyreptile_ref.backend.cbackend {n_c} "), r.stdout
    r = run([str(fresh), "-m", "tinyreptile_ref", "--version"], cwd=str(tmp_path))
    assert r.stdout.strip() == f"tinyreptile_ref {VERSION}"
    r = run([str(fresh), "-m", "tinyreptile_ref.vectors", "check",
             run([str(fresh), "-c", "import tinyreptile_ref as t; print(t.get_vectors_dir())"],
                 cwd=str(tmp_path)).stdout.strip()], cwd=str(tmp_path))
    assert "cases in" in r.stdout and "valid" in r.stdout


def test_installed_package_exports_a_folder_whose_runner_passes(fresh, tmp_path):
    if CC is None:
        pytest.skip("no C compiler")
    out = tmp_path / "drop"
    run([str(fresh), "-m", "tinyreptile_ref", "export-c", str(out), "--vectors",
         "conv1d_forward_s8,tanh_f32"], cwd=str(tmp_path))
    exe = tmp_path / "tv"
    srcs = sorted(map(str, (out / "tinyreptile").glob("*.c"))) + \
        sorted(map(str, (out / "runner").glob("*.c")))
    run([CC, "-std=c99", "-ffp-contract=off", "-O2", "-Wall", "-Wextra", "-Werror",
         f"-I{out}/tinyreptile", f"-I{out}/runner", *srcs, "-o", str(exe)])
    last = run([str(exe)]).stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert m and int(m.group(1)) > 0, last


def test_unpacked_sdist_builds_and_passes_the_c_tests(dists, fresh, tmp_path):
    """The sdist alone (with the installed package for the embedder): the C kernel checks
    and every golden vector on the host, files and embedded."""
    with tarfile.open(dists[0]) as t:
        t.extractall(tmp_path)
    src = tmp_path / NAME
    r = run(["make", "--no-print-directory", "test-c", "vectors-test", f"VEC_PY={fresh}",
             "VEC_PY_DEP="], cwd=str(src))
    summaries = re.findall(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert len(summaries) == 4 and all(f == "0" for _, f in summaries), r.stdout[-2000:]
    cases = json.loads((ROOT / "vectors" / "manifest.json").read_text())["case_count"]
    assert [int(p) for p, _ in summaries[1:]] == [cases] * 3


def test_extension_uses_only_the_stable_abi_its_tag_claims(dists):
    """abi3audit reads the extension's imported symbols and checks each is in the limited API
    of CPython 3.9 (the tag cp39-abi3)."""
    r = run([sys.executable, "-m", "abi3audit", "--strict", "--summary", str(dists[1])],
            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    text = " ".join((r.stdout + r.stderr).split())
    assert "1 extensions scanned; 0 ABI version mismatches and 0 ABI violations found" in text, text
