"""export-model: the header holds the run's exact θ bits, its layer table and the C library's
arena sizes, compiles cleanly, runs to the twin's bits, and a bad RUN_DIR gives a clear error."""
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from tinyreptile_ref.backend import get_backend
from tinyreptile_ref.errors import ParameterError
from tinyreptile_ref.runtime import model as rt
from tinyreptile_ref.tools import cli
from tinyreptile_ref.tools.export_model import export_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic",
          "-Wmissing-prototypes", "-Werror", "-O2"]


def _train(task, d):
    rc = cli.main(["train", "--task", task, "--algo", "tinyreptile", "--rounds", "3",
                   "--eval-tasks", "1", "--curve-points", "0", "--quiet", "--out", str(d)])
    assert rc == 0
    return task, str(d)


@pytest.fixture(scope="module", params=["sine", "digits"])
def run(request, tmp_path_factory):
    return _train(request.param, tmp_path_factory.mktemp(request.param) / "run")


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    return _train("sine", tmp_path_factory.mktemp("sine") / "run")


def _header(run, tmp_path, name="net"):
    out = str(tmp_path / f"{name}.h")
    res, model, theta = export_model(run[1], out)
    with open(out) as f:
        return f.read(), res, model, theta, out


def _ints(text):
    return [int(v, 0) for v in re.findall(r"-?(?:0x[0-9a-f]+|\d+)", text)]


def test_export_model_writes_the_exact_bits_the_table_and_the_libraries_arena_sizes(run, tmp_path):
    text, res, model, theta, _ = _header(run, tmp_path)
    with open(os.path.join(run[1], "params.f32"), "rb") as f:
        words = np.frombuffer(f.read(), "<u4")
    body = text.split("net_theta = {{", 1)[1].split("}};", 1)[0]
    assert _ints(body.replace("u", "")) == words.tolist()
    rows = text.split("net_layers[", 1)[1].split("};", 1)[0].split("= {", 1)[1]
    assert _ints(rows) == model.layer_table().reshape(-1).tolist()
    macros = dict(re.findall(r"#define NET_(\w+) (\S+)", text))
    assert int(macros["N_PARAMS"]) == model.n_params == theta.size
    cb = get_backend("c")
    k = res["config"]["k"]
    assert int(macros["ARENA_FUSED"]) == cb.model_memory_plan(model, 1, 1, "fused").arena
    assert int(macros["ARENA_GRAD"]) == cb.model_memory_plan(model, 1, 1, "grad").arena
    assert int(macros["ARENA_ACCUM"]) == cb.model_memory_plan(
        model, min(res["config"]["batch"], k), k, "accum").arena
    assert float.fromhex(macros["INNER_LR"].rstrip("f")) == float(np.float32(0.02 if run[0] ==
                                                                            "sine" else 0.1))


PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "net.h"
static float theta[NET_N_PARAMS];
static float arena[NET_ARENA_FUSED / 4];
static float farena[NET_ARENA_FORWARD / 4];
int main(void)
{
    static float x[NET_INPUT_SIZE], y[NET_OUTPUT_SIZE], t[NET_OUTPUT_SIZE];
    int32_t label = 1, need = 0;
    unsigned int u;
    for (int i = 0; i < NET_INPUT_SIZE; i++) x[i] = (float)(i % 7) * 0.125f - 0.25f;
    for (int i = 0; i < NET_OUTPUT_SIZE; i++) t[i] = 0.5f;
    if (tr_model_arena_size(&need, &net, 1, 1, TR_TRAIN_FUSED) || need != NET_ARENA_FUSED) return 3;
    memcpy(theta, net_theta.f, sizeof theta);
    if (tr_model_train_step_f32(theta, NULL, arena, x, t, &label, &net, 1, (int32_t)sizeof arena,
                                NET_INNER_LR, TR_TRAIN_FUSED)) return 4;
    if (tr_model_forward_f32(y, farena, theta, x, &net, 1, (int32_t)sizeof farena)) return 5;
    for (int i = 0; i < NET_OUTPUT_SIZE; i++) { memcpy(&u, &y[i], 4); printf("%08x\n", u); }
    return 0;
}
"""


def test_the_header_compiles_warning_free_and_one_step_on_it_equals_the_numpy_twin(run, tmp_path):
    if shutil.which(CC) is None:
        pytest.skip(f"no C compiler {CC}")
    _, res, model, theta, _ = _header(run, tmp_path)
    (tmp_path / "main.c").write_text(PROGRAM)
    srcs = sorted(os.path.join(CSRC, f) for f in os.listdir(CSRC) if f.endswith(".c"))
    exe = str(tmp_path / "prog")
    subprocess.run([CC, *CFLAGS, "-I", CSRC, "-I", str(tmp_path), str(tmp_path / "main.c"),
                    *srcs, "-o", exe], check=True)
    got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()

    n_in = int(np.prod(model.input_shape))
    x = ((np.arange(n_in) % 7).astype(np.float32) * np.float32(0.125)
         - np.float32(0.25)).reshape((1,) + model.input_shape)
    if model.loss == "mse":
        target = np.full((1,) + model.output_shape, 0.5, np.float32)
    else:
        target = np.array([1], np.int32)
    th = theta.copy()
    rt.model_train_step_f32(th, x, target, model, np.float32(res["config"]["inner_lr"]), "fused")
    want = rt.model_forward_f32(th, x, model).reshape(-1).view(np.uint32)
    assert got == [f"{int(w):08x}" for w in want]


def _copy(run, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(run[1], d)
    return d


def _edit_results(d, fn):
    p = d / "results.json"
    res = json.loads(p.read_text())
    fn(res)
    p.write_text(json.dumps(res))


@pytest.mark.parametrize("breakage,message", [
    ("missing_dir", "is not a directory"),
    ("no_results", "has no results.json"),
    ("bad_json", "is not valid JSON"),
    ("no_params_key", "has no 'params_f32' entry"),
    ("bad_task", "is not one of"),
    ("no_params", "has no params.f32"),
    ("short_params", "params.f32 has"),
    ("wrong_sha", "params.f32 has sha256"),
    ("other_table", "is not the"),
])
def test_a_bad_run_dir_gives_a_clear_error_naming_it_and_writes_nothing(sine_run, tmp_path,
                                                                       breakage, message, capsys):
    d = _copy(sine_run, tmp_path)
    if breakage == "missing_dir":
        d = tmp_path / "nowhere"
    elif breakage == "no_results":
        (d / "results.json").unlink()
    elif breakage == "bad_json":
        (d / "results.json").write_text("{not json")
    elif breakage == "no_params_key":
        _edit_results(d, lambda r: r.pop("params_f32"))
    elif breakage == "bad_task":
        _edit_results(d, lambda r: r.update(task="speech"))
    elif breakage == "no_params":
        (d / "params.f32").unlink()
    elif breakage == "short_params":
        (d / "params.f32").write_bytes((d / "params.f32").read_bytes()[:-4])
    elif breakage == "wrong_sha":
        blob = bytearray((d / "params.f32").read_bytes())
        blob[0] ^= 1
        (d / "params.f32").write_bytes(bytes(blob))
    elif breakage == "other_table":
        _edit_results(d, lambda r: r["model"].update(layers=r["model"]["layers"][:-1]))
    out = tmp_path / "m.h"
    with pytest.raises(ParameterError, match=r"^RUN_DIR: .*" + re.escape(message)):
        export_model(str(d), str(out))
    assert not out.exists()
    rc = cli.main(["export-model", str(d), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "export-model: error: RUN_DIR: " in err and "Traceback" not in err
    assert not out.exists()


def test_an_out_path_in_a_missing_directory_is_refused_by_name(sine_run, tmp_path):
    with pytest.raises(ParameterError, match="^out: the directory .* does not exist"):
        export_model(sine_run[1], str(tmp_path / "no" / "m.h"))


def test_a_name_that_is_no_c_identifier_is_refused(sine_run, tmp_path):
    with pytest.raises(ParameterError, match="^name: '1x' is not a C identifier"):
        export_model(sine_run[1], str(tmp_path / "m.h"), name="1x")
