"""export-model: a trained initialization as a C header for firmware.

    python -m tinyreptile_ref export-model RUN_DIR --out model.h [--name NAME]

RUN_DIR is a `train` output directory (results.json + params.f32). The model is the one of
the run's task (federated/tasks.py: `family(task, seed).model()`), checked against the layer
table that results.json recorded; params.f32 is checked against the size and SHA-256 that
results.json recorded. The header defines, for one C file of the firmware:

  NAME_layers   the layer table, `tr_layer` rows (model.layer_table(), as mcu/tools/fw_data.py)
  NAME          the `tr_model` (layers, n_layers, n_params, loss)
  NAME_theta    θ as a const union: `.u` the IEEE bit patterns of params.f32, `.f` the floats
  NAME_N_PARAMS, NAME_N_LAYERS, NAME_INPUT_SIZE, NAME_OUTPUT_SIZE, NAME_INNER_LR (the run's
                device learning rate as a float32 hex literal)
  NAME_ARENA_FUSED / _GRAD   bytes of tr_model_arena_size(model, 1, 1, mode): the arena of
                tr_tinyreptile_device_round_f32 (one sample streamed in) in that mode
  NAME_ARENA_ACCUM           tr_model_arena_size(model, B, K, TR_TRAIN_ACCUM) for the run's
                mini-batch B = NAME_ACCUM_BATCH and K = NAME_ACCUM_STORED stored samples: the
                arena of tr_reptile_device_round_f32
  NAME_ARENA_FORWARD         tr_model_arena_size(model, 1, 0, TR_TRAIN_GRAD): enough for
                tr_model_forward_f32 and tr_model_train_step_f32 (GRAD) on one sample
The arena sizes come from the C library's own tr_model_memory_plan through the C backend, or,
when the extension is not built, from the NumPy twin's plan (the same rule; the header says
which).
"""
import hashlib
import json
import os
import re

import numpy as np

from .._version import __version__
from ..errors import ParameterError
from ..federated import tasks as tk
from ..runtime.model import LOSSES

MODES = ("fused", "grad", "accum")


def _fail(msg):
    raise ParameterError(msg)


def load_run(run_dir):
    """(results dict, model, theta float32 [n_params]) of a `train` output directory, every
    part checked; ParameterError naming RUN_DIR otherwise."""
    if not os.path.isdir(run_dir):
        _fail(f"RUN_DIR: {run_dir!r} is not a directory (a `train --out` directory)")
    rpath = os.path.join(run_dir, "results.json")
    ppath = os.path.join(run_dir, "params.f32")
    if not os.path.isfile(rpath):
        _fail(f"RUN_DIR: {run_dir!r} has no results.json (is it a `train --out` directory?)")
    try:
        with open(rpath, encoding="utf-8") as f:
            res = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(f"RUN_DIR: {rpath} is not valid JSON ({exc})")
    if not isinstance(res, dict):
        _fail(f"RUN_DIR: {rpath} is not a JSON object")
    for key in ("task", "seed", "config", "model", "params_f32"):
        if key not in res:
            _fail(f"RUN_DIR: {rpath} has no {key!r} entry (not written by `train`)")
    if res["task"] not in tk.TASKS:
        _fail(f"RUN_DIR: task {res['task']!r} in {rpath} is not one of {', '.join(tk.TASKS)}")
    pf = res["params_f32"]
    if not (isinstance(pf, dict) and isinstance(pf.get("bytes"), int)
            and isinstance(pf.get("sha256"), str)):
        _fail(f"RUN_DIR: {rpath}: params_f32 needs 'bytes' (int) and 'sha256' (str)")
    model = tk.family(res["task"], int(res["seed"])).model()
    recorded = res["model"].get("layers") if isinstance(res["model"], dict) else None
    if recorded != model.describe().splitlines():
        _fail(f"RUN_DIR: the layer table in {rpath} is not the {res['task']} task's model "
              f"of this version ({__version__}); re-run train")
    if not os.path.isfile(ppath):
        _fail(f"RUN_DIR: {run_dir!r} has no params.f32")
    with open(ppath, "rb") as f:
        blob = f.read()
    if len(blob) != pf["bytes"]:
        _fail(f"RUN_DIR: params.f32 has {len(blob)} bytes, results.json records {pf['bytes']}")
    if len(blob) != 4 * model.n_params:
        _fail(f"RUN_DIR: params.f32 has {len(blob)} bytes, the {res['task']} model needs "
              f"{4 * model.n_params} ({model.n_params} float32 parameters)")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != pf["sha256"]:
        _fail(f"RUN_DIR: params.f32 has sha256 {digest}, results.json records {pf['sha256']}")
    theta = np.frombuffer(blob, "<f4").astype(np.float32)
    return res, model, theta


def arena_sizes(model, accum_batch, accum_stored):
    """({macro suffix: bytes}, source) of the training modes' arenas, by the C library's own
    tr_model_memory_plan when the extension is built, else by the NumPy twin's plan."""
    try:
        from ..backend import get_backend
        cplan = get_backend("c").model_memory_plan
        plan, source = (lambda *a: cplan(model, *a)), "the C library's tr_model_memory_plan"
    except ImportError:
        plan, source = model.memory_plan, "the NumPy twin's memory plan (C extension not built)"
    one_grad = plan(1, 1, "grad")
    return {"ARENA_FUSED": plan(1, 1, "fused").arena,
            "ARENA_GRAD": one_grad.arena,
            "ARENA_ACCUM": plan(accum_batch, accum_stored, "accum").arena,
            # tr_model_arena_size(1, 0, GRAD): the same plan without the stored sample
            "ARENA_FORWARD": one_grad.arena - one_grad.samples}, source


def c_header(res, model, theta, name, run_dir):
    """The header's text."""
    cfg = res["config"]
    k = int(cfg.get("k", 1))
    accum_batch = max(1, min(int(cfg.get("batch", 1)), k))
    arenas, source = arena_sizes(model, accum_batch, k)
    macro = name.upper()
    guard = f"{macro}_H_"
    lr = np.float32(cfg.get("inner_lr", 0.0))
    rows = model.layer_table().tolist()
    words = theta.view(np.uint32)
    size = lambda shape: int(np.prod(shape))  # noqa: E731
    out = [
        f"/* {os.path.basename(name)}: generated by `python -m tinyreptile_ref export-model` "
        f"(tinyreptile_ref {__version__}). Do not edit.",
        f" * From {os.path.basename(os.path.normpath(run_dir))}/: task {res['task']}, "
        f"algorithm {res.get('algo', '?')}, seed {res['seed']}, {cfg.get('rounds', '?')} rounds;",
        f" * params.f32 sha256 {res['params_f32']['sha256']}.",
        " * Model:",
        *[f" *   {line}" for line in model.describe().splitlines()],
        f" * Arena sizes: {source}.",
        " * The header defines its data as static const: include it in one C file. */",
        f"#ifndef {guard}", f"#define {guard}", "",
        "#include <stdint.h>", "", '#include "tinyreptile.h"', "",
        f"#define {macro}_N_PARAMS {model.n_params}",
        f"#define {macro}_N_LAYERS {len(rows)}",
        f"#define {macro}_INPUT_SIZE {size(model.input_shape)}",
        f"#define {macro}_OUTPUT_SIZE {size(model.output_shape)}",
        f"/* the run's device learning rate, float32 {float(lr)!r} */",
        f"#define {macro}_INNER_LR {float(lr).hex()}f",
        "/* tr_model_arena_size(&model, 1, 1, mode): one streamed sample, TinyReptile's round */",
        f"#define {macro}_ARENA_FUSED {arenas['ARENA_FUSED']}",
        f"#define {macro}_ARENA_GRAD {arenas['ARENA_GRAD']}",
        "/* tr_model_arena_size(&model, ACCUM_BATCH, ACCUM_STORED, TR_TRAIN_ACCUM): batched "
        "Reptile's round */",
        f"#define {macro}_ACCUM_BATCH {accum_batch}",
        f"#define {macro}_ACCUM_STORED {k}",
        f"#define {macro}_ARENA_ACCUM {arenas['ARENA_ACCUM']}",
        "/* tr_model_arena_size(&model, 1, 0, TR_TRAIN_GRAD): forward or a GRAD step on one "
        "sample */",
        f"#define {macro}_ARENA_FORWARD {arenas['ARENA_FORWARD']}", "",
        "/* kind, in_rank, in_dim, out_rank, out_dim, w_off, b_off, kernel_size, stride, "
        "dilation, padding */",
        f"static const tr_layer {name}_layers[{len(rows)}] = {{",
    ]
    for r in rows:
        out.append(f"    {{{r[0]}, {r[1]}, {{{r[2]}, {r[3]}}}, {r[4]}, {{{r[5]}, {r[6]}}}, "
                   f"{r[7]}, {r[8]}, {r[9]}, {r[10]}, {r[11]}, {r[12]}}},")
    out += ["};", "",
            f"static const tr_model {name} = {{{name}_layers, {len(rows)}, {model.n_params}, "
            f"{'TR_LOSS_MSE' if model.loss == 'mse' else 'TR_LOSS_SOFTMAX_XENT'}}};", "",
            f"/* theta [{model.n_params}]: the IEEE-754 bit patterns of params.f32 (.u), read as "
            f"float (.f) */",
            f"static const union {{ uint32_t u[{model.n_params}]; float f[{model.n_params}]; }} "
            f"{name}_theta = {{{{"]
    for i in range(0, words.size, 8):
        out.append("    " + ", ".join(f"0x{int(w):08x}u" for w in words[i:i + 8]) + ",")
    out += ["}};", "", f"#endif /* {guard} */", ""]
    assert LOSSES.index(model.loss) in (0, 1)
    return "\n".join(out)


def export_model(run_dir, out, name=None):
    """Write the header for RUN_DIR to `out`; returns (results, model, theta)."""
    if name is None:
        name = re.sub(r"\W", "_", os.path.splitext(os.path.basename(out))[0]) or "model"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        _fail(f"name: {name!r} is not a C identifier")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        _fail(f"out: the directory {parent!r} of {out!r} does not exist")
    res, model, theta = load_run(run_dir)
    text = c_header(res, model, theta, name, run_dir)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, out)  # never a partial header under the final name
    return res, model, theta


def add_parser(sub):
    p = sub.add_parser("export-model", help="a trained θ as a C header (layer table, tr_model, "
                                           "exact bits, arena sizes)",
                       description=__doc__.split("\n\n", 1)[0])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a `train --out` directory")
    p.add_argument("--out", required=True, metavar="FILE.h", help="the header to write")
    p.add_argument("--name", metavar="NAME",
                   help="C name of the tr_model (default: the header's file name); the other "
                        "names derive from it")
    return p


def cmd(args):
    res, model, _ = export_model(args.run_dir, args.out, args.name)
    print(f"wrote {args.out}: {res['task']} model, {model.n_params} parameters, "
          f"sha256 {res['params_f32']['sha256'][:16]}...")
    return 0
