"""The C library's locations (tinyreptile_ref.clib) and `python -m tinyreptile_ref export-c`:
an exported folder compiles on its own and its runner passes its vectors on the host."""
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import tinyreptile_ref as tr
from tinyreptile_ref.errors import ParameterError
from tinyreptile_ref.tools import export_c as ex

ROOT = pathlib.Path(__file__).resolve().parent.parent
CC = shutil.which("cc") or shutil.which("gcc")


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinyreptile_ref", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_get_include_holds_every_header_the_sources_include():
    inc = pathlib.Path(tr.get_include())
    assert (inc / "tinyreptile.h").is_file()
    for src in tr.get_c_sources():
        for name in re.findall(r'#include "([^"]+)"', pathlib.Path(src).read_text()):
            assert (inc / name).is_file(), f"{src} includes {name}, missing from {inc}"
    assert {pathlib.Path(h).name for h in tr.get_c_headers()} >= {
        "tinyreptile.h", "tr_contract.h", "tr_internal.h", "tr_quant.h"}


def test_get_c_sources_are_the_whole_library():
    names = sorted(pathlib.Path(s).name for s in tr.get_c_sources())
    assert names == sorted(p.name for p in (ROOT / "csrc").glob("*.c"))
    assert all(pathlib.Path(s).is_absolute() for s in tr.get_c_sources())


def test_runner_and_vectors_locations():
    rdir = pathlib.Path(tr.get_runner_dir())
    assert (rdir / "tv.h").is_file()
    for mode in ("files", "embedded"):
        srcs = tr.get_runner_sources(mode)
        assert all(pathlib.Path(s).is_file() for s in srcs)
    assert any(s.endswith("tv_main_files.c") for s in tr.get_runner_sources("files"))
    assert any(s.endswith("tv_main_embedded.c") for s in tr.get_runner_sources("embedded"))
    assert (pathlib.Path(tr.get_vectors_dir()) / "manifest.json").is_file()


def test_get_runner_sources_refuses_an_unknown_mode():
    with pytest.raises(ParameterError, match=r"^mode: 'flash' is not one of"):
        tr.get_runner_sources("flash")


def test_version_on_the_command_line():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"tinyreptile_ref {tr.__version__}"


def test_export_c_library_only_compiles_with_the_readme_flags(tmp_path):
    out = tmp_path / "drop"
    files = ex.export_c(out)
    assert "README.md" in files and "tinyreptile/tinyreptile.h" in files
    assert not (out / "runner").exists()
    assert sorted(p.name for p in (out / "tinyreptile").glob("*.c")) == \
        sorted(pathlib.Path(s).name for s in tr.get_c_sources())
    assert "-std=c99 -ffp-contract=off" in (out / "README.md").read_text()
    if CC is None:
        pytest.skip("no C compiler")
    objs = tmp_path / "obj"
    objs.mkdir()
    subprocess.run([CC, "-std=c99", "-ffp-contract=off", "-O2", "-Wall", "-Wextra", "-Wpedantic",
                    "-Werror", "-Itinyreptile", "-c"] + [f"tinyreptile/{p.name}" for p in
                   (out / "tinyreptile").glob("*.c")], cwd=out, check=True)


def test_export_c_runner_compiles_and_passes_its_vectors_on_the_host(tmp_path):
    if CC is None:
        pytest.skip("no C compiler")
    out = tmp_path / "drop"
    r = cli("export-c", str(out), "--vectors", "dense_forward_f32,exp_f32,model_train_step_f32")
    assert r.returncode == 0, r.stderr
    # the library's sources and headers, the runner's sources, tv_embedded.c and the README
    n_lib = len(list((ROOT / "csrc").glob("*.[ch]")))
    n_runner = len([p for p in (ROOT / "tests" / "runner").glob("*.[ch]")
                    if p.name not in ("tv_files.c", "tv_main_files.c")])
    assert r.stdout.startswith(f"export-c: wrote {n_lib + n_runner + 2} files to "), r.stdout
    # GNU mode, no -ffp-contract=off: the sources' own pragma keeps the bits
    exe = tmp_path / "tv_runner"
    srcs = [str(p) for p in sorted((out / "tinyreptile").glob("*.c"))
            + sorted((out / "runner").glob("*.c"))]
    subprocess.run([CC, "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
                    f"-I{out / 'tinyreptile'}", f"-I{out / 'runner'}", *srcs, "-o", str(exe)],
                   check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == "55 passed, 0 failed"
    kernels = {ln.split()[0] for ln in lines[:-1]
               if re.fullmatch(r"\S+\s+\d+\s+0", ln.strip())}
    assert kernels == {"dense_forward_f32", "exp_f32", "model_train_step_f32"}


def _no_leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_export_c_into_an_empty_folder(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    ex.export_c(out, runner=True, kernels="exp_f32")
    assert (out / "runner" / "tv_embedded.c").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda d: (d.mkdir(), (d / "x.c").write_text("")), r"^DIR: .* is not empty"),
    (lambda d: d.write_text("a file"), r"^DIR: .* exists and is not a directory"),
    (lambda d: None, None),
])
def test_export_c_refuses_a_bad_folder_and_writes_nothing(tmp_path, make, message):
    dest = tmp_path / "d"
    make(dest)
    if message is None:  # a missing parent
        dest, message = tmp_path / "no" / "such" / "d", r"^DIR: the parent folder .* does not exist"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = cli("export-c", str(dest))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert re.search(message, r.stderr.split("error: ", 1)[1]), r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_export_c_refuses_unknown_kernels_and_writes_nothing(tmp_path):
    r = cli("export-c", str(tmp_path / "d"), "--vectors", "dense_forward_f32,nope")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: --vectors: no golden vectors for nope; the kernels are: dense_forward_f32" \
        in r.stderr
    with pytest.raises(ParameterError, match=r"^--vectors: no kernel named"):
        ex.export_c(tmp_path / "e", kernels=",")
    assert list(tmp_path.iterdir()) == []


def test_export_c_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    def broken(root, kernels):
        raise OSError("disk full")
    monkeypatch.setattr(ex, "c_source", broken)
    with pytest.raises(OSError, match="disk full"):
        ex.export_c(tmp_path / "d", runner=True)
    assert list(tmp_path.iterdir()) == []
