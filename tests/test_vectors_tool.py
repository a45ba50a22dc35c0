"""The vectors tool on bad input (python -m tinyreptile_ref.vectors): every failure is one line
"vectors: error: <file>: <what>" and exit status 2, never a traceback, a hang or a partial
output. The tool checks against its own shipped schema, never the checked directory's; no path
leaves the vectors directory, no symlink or special file is opened, sizes are checked before
reading. Each class of bad input is tested with several members."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tinyreptile_ref.vectors import __main__ as cli
from tinyreptile_ref.vectors import embed, format as vf

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "vectors"
ERROR_LINE = re.compile(r"^vectors: error: (\S.*?): (\S.*)$")


@pytest.fixture(scope="module")
def full_manifest():
    return json.loads((VECTORS / "manifest.json").read_text())


def small_vectors(dest, manifest, kernels=("sgd_step_f32", "sgd_step_s8", "softmax_xent_loss_f32")):
    """A valid vectors directory with the cases of a few kernels only (fast to check)."""
    cases = [c for c in manifest["cases"] if c["kernel"] in kernels]
    for c in cases:
        for b in c["blobs"]:
            (dest / b["file"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(VECTORS / b["file"], dest / b["file"])
    m = dict(manifest, cases=cases, case_count=len(cases))
    (dest / "manifest.json").write_text(vf.manifest_text(m), encoding="ascii")
    shutil.copyfile(vf.SCHEMA_PATH, dest / "schema.json")
    return dest


@pytest.fixture
def vec(tmp_path, full_manifest):
    return small_vectors(tmp_path / "vec", full_manifest)


def load(root):
    return json.loads((root / "manifest.json").read_text())


def save(root, m):
    (root / "manifest.json").write_text(json.dumps(m, indent=1), encoding="ascii")


def run_cli(capsys, *argv):
    """main() in-process: returns (status, the error line's file, its message)."""
    rc = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    if rc == 0:
        return rc, None, err
    lines = [ln for ln in err.splitlines() if ln.startswith("vectors: error:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    m = ERROR_LINE.match(lines[0])
    assert m, lines[0]
    return rc, m.group(1), m.group(2)


def refused(capsys, root, *extra, what=None, cmd="check"):
    if cmd == "check":
        rc, file, msg = run_cli(capsys, "check", root, *extra)
    else:
        rc, file, msg = run_cli(capsys, "embed", root, "--out", root.parent / "out.c", *extra)
        assert not (root.parent / "out.c").exists(), "embed wrote an output after an error"
    assert rc == 2, msg
    if what:
        assert re.search(what, msg), msg
    return file, msg


def test_the_small_vectors_directory_checks_and_embeds(vec, capsys):
    assert run_cli(capsys, "check", vec)[0] == 0
    assert run_cli(capsys, "embed", vec, "--out", vec.parent / "e.c")[0] == 0


# ------------------------------------------------------------- the manifest's text

@pytest.mark.parametrize("cut", [0, 1, 17, 100, 0.25, 0.5, 0.9, -2, -1])
def test_a_truncated_manifest_is_an_error_naming_it(vec, capsys, cut):
    text = (vec / "manifest.json").read_bytes()
    n = cut if isinstance(cut, int) else int(len(text) * cut)
    (vec / "manifest.json").write_bytes(text[:n] if n >= 0 else text[:len(text) + n - 1])
    file, msg = refused(capsys, vec, what="invalid JSON|expected|schema|case_count|missing")
    assert file.endswith("manifest.json")


@pytest.mark.parametrize("change", [
    lambda t: t.replace('"case_count": ', '"case_count": ,', 1),
    lambda t: t.replace("{", "{'a': 1, ", 1),
    lambda t: t.replace('"schema_version": 1', '"schema_version": NaN', 1),
    lambda t: t.replace('"schema_version": 1', '"schema_version": Infinity', 1),
    lambda t: t.replace('"schema_version": 1', '"schema_version": 1, "schema_version": 1', 1),
    lambda t: t + "garbage",
    lambda t: t.rstrip().rstrip("}") + "},",
])
def test_invalid_json_is_an_error_naming_the_manifest(vec, capsys, change):
    (vec / "manifest.json").write_text(change((vec / "manifest.json").read_text()))
    file, msg = refused(capsys, vec, what="invalid JSON|duplicate key|not a JSON number")
    assert file.endswith("manifest.json")


@pytest.mark.parametrize("raw", [b"\xc3\xa9", b"\xff", b"\x80", b"\xef\xbb\xbf"])
def test_non_ascii_bytes_are_an_error(vec, capsys, raw):
    text = (vec / "manifest.json").read_bytes()
    at = text.index(b'"comment": "') + len(b'"comment": "')
    (vec / "manifest.json").write_bytes(text[:at] + raw + text[at:])
    refused(capsys, vec, what="non-ASCII byte")


@pytest.mark.parametrize("escape", ["\\u00e9", "\\u0000", "\\n", "\\t", "\\u007f"])
def test_a_string_outside_printable_ascii_is_an_error(vec, capsys, escape):
    text = (vec / "manifest.json").read_text()
    at = text.index('"comment": "') + len('"comment": "')
    (vec / "manifest.json").write_text(text[:at] + escape + text[at:])
    refused(capsys, vec, what="printable ASCII")


@pytest.mark.parametrize("depth", [vf.MAX_DEPTH + 1, 1000, 200000])
def test_deep_nesting_is_an_error_not_a_recursion_error(vec, capsys, depth):
    m = load(vec)
    (vec / "manifest.json").write_text(json.dumps(m)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}")
    refused(capsys, vec, what="nested deeper")


def test_a_manifest_over_the_size_limit_is_refused_before_reading(vec, capsys):
    with open(vec / "manifest.json", "r+b") as f:  # sparse: nothing is written or read
        f.truncate(vf.MAX_MANIFEST_BYTES + 1)
    refused(capsys, vec, what="more than the limit")


@pytest.mark.parametrize("what", ["missing", "directory", "symlink", "fifo", "empty"])
def test_a_manifest_that_is_not_a_regular_file_is_an_error(vec, capsys, what):
    mf = vec / "manifest.json"
    if what == "missing":
        mf.unlink()
        expect = "cannot be read"
    elif what == "directory":
        mf.unlink()
        mf.mkdir()
        expect = "not a regular file"
    elif what == "symlink":
        mf.rename(vec / "real.json")
        mf.symlink_to("real.json")
        expect = "symbolic link"
    elif what == "fifo":
        mf.unlink()
        os.mkfifo(mf)
        expect = "not a regular file"
    else:
        mf.write_bytes(b"")
        expect = "invalid JSON"
    file, msg = refused(capsys, vec, what=expect)
    assert file.endswith("manifest.json")


def test_a_missing_vectors_directory_is_an_error(tmp_path, capsys):
    file, msg = refused(capsys, tmp_path / "nowhere", what="does not exist")
    assert file.endswith("nowhere")


# ------------------------------------------------------------------ the schema

def test_the_shipped_schema_is_in_the_package_and_vectors_holds_a_byte_identical_copy():
    assert vf.SCHEMA_PATH.parent == pathlib.Path(vf.__file__).resolve().parent
    assert (VECTORS / "schema.json").read_bytes() == vf.SCHEMA_PATH.read_bytes()


def test_a_vectors_directory_without_schema_json_is_checked_against_the_shipped_one(vec, capsys):
    (vec / "schema.json").unlink()
    assert run_cli(capsys, "check", vec)[0] == 0


@pytest.mark.parametrize("cmd", ["check", "embed"])
def test_a_permissive_schema_in_the_checked_directory_is_not_used(vec, capsys, cmd, tmp_path):
    # The directory's schema would allow any blob path: the tool refuses the copy instead of
    # trusting it, so an outside file is never opened (nor embedded).
    (tmp_path / "secret.bin").write_bytes(b"outside")
    (vec / "schema.json").write_text('{"type": "object"}')
    m = load(vec)
    m["cases"][0]["blobs"][0]["file"] = "../secret.bin"
    save(vec, m)
    file, msg = refused(capsys, vec, what="differs from the schema the tool ships", cmd=cmd)
    assert file.endswith("schema.json")


@pytest.mark.parametrize("bad", ["../secret.bin", "/etc/passwd", "blobs/../../secret.bin",
                                 "blobs//x.bin", "blobs/./x.bin", "blobs\\x.bin", "", "blobs/"])
def test_no_blob_path_leaves_the_directory_even_under_a_permissive_schema(vec, tmp_path, bad):
    # Below the schema: the reader itself refuses such paths (check with another schema).
    permissive = tmp_path / "permissive.json"
    permissive.write_text('{"type": "object"}')
    (tmp_path / "secret.bin").write_bytes(b"")
    m = load(vec)
    m["cases"][0]["blobs"][0].update(file=bad, shape=[0], sha256=vf.sha256(b""))
    save(vec, m)
    with pytest.raises(vf.VectorFormatError, match="not a relative path inside|not a file name"):
        vf.check(vec, schema_path=permissive)


@pytest.mark.parametrize("field, value", [
    ("status", 0.0), ("status", -2.0), ("status", False), ("status", True), ("status", "0"),
    ("case_count", "float"), ("schema_version", 1.0), ("schema_version", True),
    ("shape", [64.0]), ("param", 64.0), ("param", True),
])
def test_a_number_of_the_wrong_json_type_is_refused(vec, capsys, field, value):
    m = load(vec)
    c = next(c for c in m["cases"] if c["kernel"] == "sgd_step_f32" and c["status"] == 0)
    if field == "status":
        c["status"] = value
    elif field == "case_count":
        m["case_count"] = float(m["case_count"])
    elif field == "schema_version":
        m["schema_version"] = value
    elif field == "shape":
        c["blobs"][0]["shape"] = value
    else:
        c["params"]["n"] = value
    save(vec, m)
    refused(capsys, vec, what="expected|is not")


@pytest.mark.parametrize("where", ["id", "kernel", "blob name", "blob file", "blob sha256",
                                   "f32 param", "flag", "generator version"])
def test_a_trailing_newline_in_a_pattern_checked_string_is_refused(vec, capsys, where):
    m = load(vec)
    c = next(c for c in m["cases"] if c["kernel"] == "sgd_step_f32")
    b = c["blobs"][0]
    if where == "id":
        c["id"] += "\n"
    elif where == "kernel":
        c["kernel"] += "\n"
    elif where == "blob name":
        b["name"] += "\n"
    elif where == "blob file":
        b["file"] += "\n"
    elif where == "blob sha256":
        b["sha256"] += "\n"
    elif where == "f32 param":
        c["params"]["lr"] += "\n"
    elif where == "flag":
        c["flags"][0] += "\n"
    else:
        m["generator"]["version"] += "\n"
    save(vec, m)
    refused(capsys, vec, what="does not match|is not one of|printable ASCII")


@pytest.mark.parametrize("shape", [[2**30] * 4, [2**16] * 4, [2**31 - 1, 2], [65536, 65536],
                                   [2**31 - 1] * 4])
def test_a_shape_whose_product_overflows_is_refused_before_reading(vec, capsys, shape):
    # The old reader took np.prod in int64: [2**30]*4 wrapped to 0 and matched an empty file.
    m = load(vec)
    b = m["cases"][0]["blobs"][0]
    (vec / b["file"]).write_bytes(b"")
    b.update(shape=shape, sha256=vf.sha256(b""))
    save(vec, m)
    file, msg = refused(capsys, vec, what="more than int32 holds|more than the limit")
    assert file.endswith(b["file"])


def test_a_blob_over_the_size_limit_is_refused_before_reading(vec, capsys):
    m = load(vec)
    b = m["cases"][0]["blobs"][0]
    n = vf.MAX_BLOB_BYTES // 4 + 1
    with open(vec / b["file"], "r+b") as f:
        f.truncate(4 * n)
    b.update(shape=[n], dtype="f32")
    save(vec, m)
    refused(capsys, vec, what="more than the limit")


# ------------------------------------------------------------------ blob files

@pytest.mark.parametrize("kind", ["symlink to its copy", "symlink to /dev/zero", "fifo",
                                  "directory", "symlinked kernel directory", "missing",
                                  "hard to read"])
def test_a_blob_that_is_not_a_regular_file_inside_the_directory_is_refused(vec, capsys, kind, tmp_path):
    m = load(vec)
    b = next(b for c in m["cases"] for b in c["blobs"] if os.path.getsize(vec / b["file"]) > 0)
    path = vec / b["file"]
    if kind == "symlink to its copy":
        shutil.copyfile(path, tmp_path / "copy.bin")
        path.unlink()
        path.symlink_to(tmp_path / "copy.bin")
        expect = "symbolic link"
    elif kind == "symlink to /dev/zero":
        path.unlink()
        path.symlink_to("/dev/zero")
        expect = "symbolic link"
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)
        expect = "not a regular file"
    elif kind == "directory":
        path.unlink()
        path.mkdir()
        expect = "not a regular file"
    elif kind == "symlinked kernel directory":
        shutil.move(str(path.parent), str(tmp_path / "moved"))
        path.parent.symlink_to(tmp_path / "moved")
        expect = "symbolic link"
    elif kind == "missing":
        path.unlink()
        expect = "cannot be read"
    else:
        path.write_bytes(path.read_bytes() + b"\0")
        expect = "bytes, expected"
    for cmd in ("check", "embed"):
        file, msg = refused(capsys, vec, what=expect, cmd=cmd)
        assert b["file"].split("/")[0] in file


@pytest.mark.parametrize("kind", ["symlink", "fifo", "stray file"])
def test_an_unnamed_entry_under_blobs_is_refused(vec, capsys, kind):
    extra = vec / "blobs" / "sgd_step_f32" / "999-extra.x.in.bin"
    if kind == "symlink":
        extra.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(extra)
    else:
        extra.write_bytes(b"")
    refused(capsys, vec, what="symbolic link|not a regular file|not in the manifest")


def test_a_fifo_blob_does_not_hang_the_tool(vec, tmp_path):
    # In a child process with a timeout: a reader that opened the FIFO would block forever.
    m = load(vec)
    path = vec / m["cases"][0]["blobs"][0]["file"]
    path.unlink()
    os.mkfifo(path)
    p = subprocess.run([sys.executable, "-m", "tinyreptile_ref.vectors", "check", str(vec)],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert ERROR_LINE.match(p.stderr.strip()) and "not a regular file" in p.stderr


# ------------------------------------------------------------------ the command line

@pytest.mark.parametrize("kernels", ["nope", "sgd_step_f32,nope", "dense_forward_f32"])
def test_unknown_kernels_are_an_error(vec, capsys, kernels):
    file, msg = refused(capsys, vec, "--kernels", kernels, what="no cases for kernel", cmd="embed")
    assert file.endswith("manifest.json")


@pytest.mark.parametrize("out", ["", "dir", "file/below.c", "dir/../file/x.c"])
def test_a_bad_embed_out_is_an_error_before_any_work(vec, capsys, tmp_path, out):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    target = out if out == "" else str(tmp_path / out)
    rc, file, msg = run_cli(capsys, "embed", vec, "--out", target)
    assert rc == 2 and re.search("empty|directory|not a", msg), msg
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("out", ["", "file", "file/below"])
def test_a_bad_generate_out_is_an_error_before_any_work(capsys, tmp_path, out):
    (tmp_path / "file").write_text("x")
    rc, file, msg = run_cli(capsys, "generate", "--out", out if out == "" else tmp_path / out)
    assert rc == 2 and re.search("empty|not a directory", msg), msg


def test_a_usage_error_is_one_error_line_and_status_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", "a", "b"])
    assert exc.value.code == 2
    assert "vectors: error: command line:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["check", "{root}"], ["embed", "{root}", "--out", "{tmp}/o.c"]])
def test_the_process_exits_2_with_one_line_and_no_traceback(vec, tmp_path, argv):
    (vec / "manifest.json").write_text('{"schema_version": 1, "cases": [')
    args = [a.format(root=vec, tmp=tmp_path) for a in argv]
    p = subprocess.run([sys.executable, "-m", "tinyreptile_ref.vectors", *args],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 2 and p.stdout == "", p
    assert ERROR_LINE.fullmatch(p.stderr.strip()) and "Traceback" not in p.stderr, p.stderr


def test_embed_reads_blobs_through_the_same_checks(vec, tmp_path):
    # c_source is also a library function: the blob it embeds is read with the size, path and
    # type checks of check(), not with a plain read.
    m = load(vec)
    b = m["cases"][0]["blobs"][0]
    path = vec / b["file"]
    shutil.copyfile(path, tmp_path / "copy.bin")
    path.unlink()
    path.symlink_to(tmp_path / "copy.bin")
    with pytest.raises(vf.VectorFormatError, match="symbolic link"):
        embed.c_source(vec)


# ------------------------------------------------------------------ the validator itself

@pytest.mark.parametrize("text", ["abc\n", "abc\r\n", "\nabc", "abc\n\n"])
def test_the_validator_anchors_patterns_as_json_schema_does(text):
    # Python's '$' matches before a final newline; JSON Schema's (ECMA-262) does not.
    with pytest.raises(vf.VectorFormatError, match="does not match"):
        vf.validate_schema(text, {"type": "string", "pattern": "^[a-z]+$"})
    vf.validate_schema("abc", {"type": "string", "pattern": "^[a-z]+$"})
    vf.validate_schema("a$", {"type": "string", "pattern": "^a[$]$"})  # '$' in a class


@pytest.mark.parametrize("value, schema", [
    (0.0, {"enum": [0, -1]}), (False, {"enum": [0, -1]}), (True, {"const": 1}),
    (1.0, {"const": 1}), ([0.0], {"const": [0]}), ({"a": False}, {"enum": [{"a": 0}]}),
])
def test_the_validator_compares_enum_and_const_with_json_types(value, schema):
    with pytest.raises(vf.VectorFormatError, match="is not"):
        vf.validate_schema(value, schema)
