"""The PlatformIO (library.json) and Arduino (arduino/library.properties, arduino/make_library.py)
libraries: the versions are the Python package's, every library source is in them, and the
example sketch's layer table is the runtime's."""
import fnmatch
import importlib.util
import json
import os
import re
import tarfile

import pytest

from tinyreptile_ref._version import __version__
from tinyreptile_ref.runtime.model import KINDS, Dense, Model, Tanh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = sorted(f"csrc/{f}" for f in os.listdir(os.path.join(ROOT, "csrc"))
                 if f.endswith((".c", ".h")))
#: the fields the Arduino library specification (1.5 format) requires
ARDUINO_REQUIRED = ("name", "version", "author", "maintainer", "sentence", "paragraph",
                    "category", "url", "architectures")
ARDUINO_CATEGORIES = ("Display", "Communication", "Signal Input/Output", "Sensors",
                      "Device Control", "Timing", "Data Storage", "Data Processing", "Other")


def _library_json():
    with open(os.path.join(ROOT, "library.json"), encoding="utf-8") as f:
        return json.load(f)


def _properties():
    with open(os.path.join(ROOT, "arduino", "library.properties"), encoding="utf-8") as f:
        return dict(line.split("=", 1) for line in f.read().splitlines()
                    if line and not line.startswith("#"))


def _make_library():
    spec = importlib.util.spec_from_file_location(
        "make_library", os.path.join(ROOT, "arduino", "make_library.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_library_json_has_the_package_version_and_builds_every_source_from_csrc():
    lj = _library_json()
    assert lj["version"] == __version__
    assert lj["build"]["srcDir"] == "csrc" and lj["build"]["includeDir"] == "csrc"
    assert "-ffp-contract=off" in lj["build"]["flags"]
    assert not {"-ffast-math", "-Ofast"} & set(lj["build"]["flags"])
    exported = [s for s in SOURCES if any(fnmatch.fnmatch(s, p) for p in lj["export"]["include"])]
    assert exported == SOURCES
    assert os.path.basename(lj["headers"]) == "tinyreptile.h"


def test_library_json_has_no_license_field_because_offline_pio_pack_refuses_it():
    # pio pkg pack validates `license` against the SPDX list, which it downloads
    assert "license" not in _library_json()


def test_library_properties_has_the_package_version_and_every_required_field():
    props = _properties()
    assert props["version"] == __version__
    assert props["name"] == _library_json()["name"] == "tinyreptile"
    for field in ARDUINO_REQUIRED:
        assert props.get(field, "").strip(), field
    assert props["category"] in ARDUINO_CATEGORIES
    assert props["includes"] == "tinyreptile.h"


def test_the_arduino_library_folder_holds_exactly_the_csrc_sources(tmp_path):
    ml = _make_library()
    assert ml.main([str(tmp_path), "--zip"]) == 0
    lib = tmp_path / "tinyreptile"
    src = sorted(f"csrc/{p.name}" for p in (lib / "src").iterdir())
    assert src == SOURCES
    for s in SOURCES:
        assert (lib / "src" / os.path.basename(s)).read_bytes() == open(
            os.path.join(ROOT, s), "rb").read()
    assert (lib / "library.properties").is_file()
    assert list((lib / "examples").glob("*/*.ino"))
    assert (tmp_path / f"tinyreptile-{__version__}.zip").is_file()


def test_the_example_sketchs_layer_table_is_the_runtimes():
    ino = open(os.path.join(ROOT, "arduino", "examples", "TinyReptileAdapt",
                            "TinyReptileAdapt.ino")).read()
    table = ino.split("layers[3] = {", 1)[1].split("};", 1)[0]
    rows = []
    for row in re.findall(r"\{(TR_LAYER_\w+),([^\n]*)\},", table):
        nums = [int(v) for v in re.findall(r"-?\d+", row[1])]
        rows.append([KINDS.index(row[0][len("TR_LAYER_"):].lower()), *nums])
    model = Model((1,), [Dense(8), Tanh(), Dense(1)], loss="mse")
    assert rows == model.layer_table().tolist()
    assert re.search(r"model = \{layers, 3, %d, TR_LOSS_MSE\}" % model.n_params, ino)
    assert model.memory_plan(1, 1, "fused").arena <= 32 * 4  # the sketch's arena[32]


def test_the_pio_tarball_holds_every_source_and_the_manifest():
    path = os.environ.get("TR_PIO_TARBALL")
    if not path:
        pytest.skip("TR_PIO_TARBALL not set (make pio-test packs and sets it)")
    with tarfile.open(path) as t:
        names = sorted(t.getnames())
        lj = json.load(t.extractfile("library.json"))
    assert [n for n in names if n.startswith("csrc/")] == SOURCES
    assert lj["version"] == __version__


def test_the_sketch_on_the_emulated_uno_prints_the_numpy_twins_bits():
    """make arduino-test runs the compiled sketch under qemu-system-avr (ATmega328P, avr-libc's
    software float, GNU C11 -Os with LTO) and hands its serial output here; the NumPy twin
    repeats the sketch's arithmetic and must give every pass's mean loss bit for bit."""
    path = os.environ.get("TR_AVR_SERIAL")
    if not path:
        pytest.skip("TR_AVR_SERIAL not set (make arduino-test runs the sketch and sets it)")
    import numpy as np
    from tinyreptile_ref.runtime.model import tinyreptile_device_round_f32
    ino = open(os.path.join(ROOT, "arduino", "examples", "TinyReptileAdapt",
                            "TinyReptileAdapt.ino")).read()
    # the sketch's data, repeated here in float32 with the same operations in the same order
    for expr in ("theta[j] = 0.3f * (float)((j * 7) % 11 - 5) / 5.0f;",
                 "x[j] = -2.0f + (float)j;", "y[j] = x[j] - x[j] * x[j] * x[j] / 6.0f;",
                 "for (int pass = 0; pass < 20; pass++)", "(int32_t)sizeof arena, 0.05f, TR_TRAIN_FUSED",
                 "for (int j = 0; j < 5; j++) mean += losses[j];", "mean = mean / 5.0f;"):
        assert expr in ino, expr
    F = np.float32
    model = Model((1,), [Dense(8), Tanh(), Dense(1)], loss="mse")
    theta = np.array([F(F(0.3) * F((j * 7) % 11 - 5)) / F(5) for j in range(25)], F)
    x = np.array([F(-2 + j) for j in range(5)], F).reshape(5, 1)
    y = (x - ((x * x) * x) / F(6)).astype(F)
    want = []
    for _ in range(20):
        theta, losses = tinyreptile_device_round_f32(theta, x, y, model, F(0.05), "fused")
        mean = F(0)
        for v in losses:
            mean = F(mean + v)
        want.append(int(F(mean / F(5)).view(np.uint32)))
    serial = open(path, errors="replace").read()
    got = [int(v, 16) for v in re.findall(r"^pass \d+ loss \S+ bits ([0-9A-F]+)\r?$", serial, re.M)]
    assert "done" in serial, serial[-500:]
    assert got == want
