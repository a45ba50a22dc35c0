"""The golden-vector format: a JSON manifest plus raw little-endian blob files.

    vectors/manifest.json   schema_version, generator (name, version), provenance (seed, rng,
                            NumPy and Python versions), and the list of cases
    vectors/schema.json     the JSON Schema (draft 2020-12) the manifest obeys
    vectors/blobs/<kernel>/<case>.<blob>.<in|out>.bin
                            one array per file: raw little-endian bytes in C order, float32
                            stored as its IEEE-754 bits; an empty array is an empty file

A case names the kernel, its integer/string parameters, its blobs (name, role "input" or
"expected", dtype, shape, file, sha256), the status the kernel must return, a comment and flags
that say what the case is for. A float32 scalar parameter is a string "f32:0x3dcccccd" (its bits)
so no decimal text ever stands between the generator and the C runner.

This module writes and reads that format and checks it (schema, files, checksums); it knows
nothing about kernels. The cases themselves come from tinyreptile_ref/vectors/cases/ (one module per kernel family).
"""
import hashlib
import json
import pathlib
import re

import numpy as np

SCHEMA_VERSION = 1

#: dtype name in the manifest -> NumPy dtype (always little-endian on disk).
DTYPES = {
    "f32": np.dtype("<f4"),
    "s8": np.dtype("i1"),
    "u8": np.dtype("u1"),
    "s16": np.dtype("<i2"),
    "s32": np.dtype("<i4"),
}

#: status names the manifest may use, with the tinyreptile.h codes (tr_status).
STATUS = {"TR_OK": 0, "TR_ERR_NULL": -1, "TR_ERR_SHAPE": -2, "TR_ERR_PARAM": -3,
          "TR_ERR_LABEL": -4, "TR_ERR_OVERFLOW": -5, "TR_ERR_BUFFER": -6, "TR_ERR_MODEL": -7}

ROLES = ("input", "expected")
_ROLE_SUFFIX = {"input": "in", "expected": "out"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class VectorFormatError(ValueError):
    """The vectors on disk do not obey the format (schema, files or checksums)."""


def f32_param(value):
    """The manifest spelling of a float32 scalar parameter: 'f32:0x' + its 8 hex bits."""
    bits = int(np.array(np.float32(value)).view(np.uint32))
    return f"f32:0x{bits:08x}"


def f32_from_param(text):
    """Inverse of f32_param: the float32 a 'f32:0x........' string stands for."""
    if not re.fullmatch(r"f32:0x[0-9a-f]{8}", text):
        raise VectorFormatError(f"{text!r} is not a float32 parameter 'f32:0x' + 8 hex digits")
    return np.array(int(text[6:], 16), np.uint32).view(np.float32)[()]


def dtype_name(a):
    for name, dt in DTYPES.items():
        if a.dtype == dt or a.dtype == dt.newbyteorder("="):
            return name
    raise VectorFormatError(f"arrays of dtype {a.dtype} cannot be stored")


def blob_bytes(a):
    """The bytes of an array as stored: C order, little-endian."""
    name = dtype_name(a)
    return np.ascontiguousarray(a, dtype=DTYPES[name]).tobytes()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Case:
    """One case being built: kernel, params, blobs in call order, status, comment, flags."""

    def __init__(self, kernel, slug, params, comment, flags, status=0):
        if not _SLUG.fullmatch(slug):
            raise ValueError(f"case slug {slug!r}: lower-case letters, digits and '-' only")
        self.kernel, self.slug, self.status = kernel, slug, int(status)
        self.params = dict(params)
        self.comment, self.flags = comment, list(flags)
        self.blobs = []  # (name, role, array)

    def add(self, role, name, a):
        if role not in ROLES:
            raise ValueError(f"blob role {role!r}")
        if not _NAME.fullmatch(name):
            raise ValueError(f"blob name {name!r}")
        if any(n == name and r == role for n, r, _ in self.blobs):
            raise ValueError(f"{self.kernel}/{self.slug}: two {role} blobs named {name}")
        a = np.asarray(a)
        dtype_name(a)
        self.blobs.append((name, role, a))


def manifest_text(manifest):
    """The manifest as JSON text, laid out deterministically: one case per block and one blob
    per line, keys in a fixed order, ASCII only, a newline at the end."""
    d = lambda v: json.dumps(v, ensure_ascii=True, separators=(", ", ": "))  # noqa: E731
    out = ["{"]
    out.append(f' "schema_version": {d(manifest["schema_version"])},')
    out.append(f' "generator": {d(manifest["generator"])},')
    out.append(f' "provenance": {d(manifest["provenance"])},')
    out.append(f' "case_count": {d(manifest["case_count"])},')
    out.append(' "cases": [')
    cases = manifest["cases"]
    for k, c in enumerate(cases):
        out.append("  {")
        for key in ("id", "kernel", "status", "params"):
            out.append(f"   {d(key)}: {d(c[key])},")
        out.append('   "blobs": [')
        for j, b in enumerate(c["blobs"]):
            out.append(f"    {d(b)}" + ("," if j + 1 < len(c["blobs"]) else ""))
        out.append("   ],")
        out.append(f'   "comment": {d(c["comment"])},')
        out.append(f'   "flags": {d(c["flags"])}')
        out.append("  }" + ("," if k + 1 < len(cases) else ""))
    out.append(" ]")
    out.append("}")
    return "\n".join(out) + "\n"


def write(root, cases, generator, provenance):
    """Write `cases` (Case objects, in order) under `root`: blobs/ and manifest.json.

    Everything the generator owns (manifest.json and blobs/) is replaced; other files in `root`
    (schema.json, README.md) are left alone. Returns the manifest dict."""
    root = pathlib.Path(root)
    blobs_dir = root / "blobs"
    if blobs_dir.exists():
        for p in sorted(blobs_dir.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        blobs_dir.rmdir()
    counters = {}
    entries = []
    for case in cases:
        n = counters.get(case.kernel, 0)
        counters[case.kernel] = n + 1
        case_id = f"{case.kernel}/{n:03d}-{case.slug}"
        kdir = blobs_dir / case.kernel
        kdir.mkdir(parents=True, exist_ok=True)
        blobs = []
        for name, role, a in case.blobs:
            data = blob_bytes(a)
            rel = f"blobs/{case.kernel}/{n:03d}-{case.slug}.{name}.{_ROLE_SUFFIX[role]}.bin"
            (root / rel).write_bytes(data)
            blobs.append({"name": name, "role": role, "dtype": dtype_name(a),
                          "shape": [int(s) for s in a.shape], "file": rel, "sha256": sha256(data)})
        entries.append({"id": case_id, "kernel": case.kernel, "status": case.status,
                        "params": case.params, "blobs": blobs, "comment": case.comment,
                        "flags": case.flags})
    manifest = {"schema_version": SCHEMA_VERSION, "generator": generator,
                "provenance": provenance, "case_count": len(entries), "cases": entries}
    (root / "manifest.json").write_text(manifest_text(manifest), encoding="ascii")
    return manifest


def load_manifest(root):
    return json.loads((pathlib.Path(root) / "manifest.json").read_text(encoding="ascii"))


def read_blob(root, blob, verify=True):
    """The array a manifest blob entry stands for; checks size and (by default) sha256."""
    try:
        data = (pathlib.Path(root) / blob["file"]).read_bytes()
    except OSError as exc:
        raise VectorFormatError(f"{blob['file']}: cannot be read: {exc.strerror}") from exc
    if verify and sha256(data) != blob["sha256"]:
        raise VectorFormatError(f"{blob['file']}: sha256 {sha256(data)} does not match the "
                                f"manifest's {blob['sha256']}")
    dt = DTYPES[blob["dtype"]]
    count = int(np.prod(blob["shape"], dtype=np.int64))
    if len(data) != count * dt.itemsize:
        raise VectorFormatError(f"{blob['file']}: {len(data)} bytes, expected {count} x "
                                f"{dt.itemsize} for shape {blob['shape']}")
    return np.frombuffer(data, dtype=dt).reshape(blob["shape"])


# ---------------------------------------------------------------- schema validation

def validate_schema(instance, schema, path="$", root=None):
    """Validate `instance` against the subset of JSON Schema (draft 2020-12) that
    vectors/schema.json uses: type, properties, required, additionalProperties, items, enum,
    const, pattern, minimum, maximum, minItems, maxItems, minLength, uniqueItems, $ref to
    "#/$defs/...". Raises VectorFormatError naming the first offending path; an unknown schema
    keyword is an error too, so the schema cannot silently say more than is checked."""
    root = schema if root is None else root
    known = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties",
             "required", "additionalProperties", "items", "enum", "const", "pattern", "minimum",
             "maximum", "minItems", "maxItems", "minLength", "uniqueItems"}
    unknown = set(schema) - known
    if unknown:
        raise VectorFormatError(f"schema at {path}: unsupported keyword(s) {sorted(unknown)}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise VectorFormatError(f"schema at {path}: unsupported $ref {ref!r}")
        validate_schema(instance, root["$defs"][ref[len("#/$defs/"):]], path, root)
    fail = lambda msg: VectorFormatError(f"{path}: {msg}")  # noqa: E731
    t = schema.get("type")
    if t is not None:
        ok = {
            "object": isinstance(instance, dict),
            "array": isinstance(instance, list),
            "string": isinstance(instance, str),
            "integer": isinstance(instance, int) and not isinstance(instance, bool),
            "boolean": isinstance(instance, bool),
        }
        types = t if isinstance(t, list) else [t]
        if not any(ok[x] for x in types):
            raise fail(f"expected {t}, got {type(instance).__name__} {instance!r:.60}")
    if "enum" in schema and instance not in schema["enum"]:
        raise fail(f"{instance!r} is not one of {schema['enum']}")
    if "const" in schema and instance != schema["const"]:
        raise fail(f"{instance!r} is not {schema['const']!r}")
    if isinstance(instance, str):
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            raise fail(f"{instance!r} does not match {schema['pattern']!r}")
        if len(instance) < schema.get("minLength", 0):
            raise fail(f"{instance!r} is shorter than {schema['minLength']}")
    if isinstance(instance, int) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            raise fail(f"{instance} < minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            raise fail(f"{instance} > maximum {schema['maximum']}")
    if isinstance(instance, dict):
        for key in schema.get("required", ()):
            if key not in instance:
                raise fail(f"missing required key {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in props:
                validate_schema(value, props[key], f"{path}.{key}", root)
            elif extra is False:
                raise fail(f"unexpected key {key!r}")
            elif isinstance(extra, dict):
                validate_schema(value, extra, f"{path}.{key}", root)
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            raise fail(f"{len(instance)} items, fewer than {schema['minItems']}")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            raise fail(f"{len(instance)} items, more than {schema['maxItems']}")
        if schema.get("uniqueItems"):
            seen = [json.dumps(v, sort_keys=True) for v in instance]
            if len(set(seen)) != len(seen):
                raise fail("items are not unique")
        if "items" in schema:
            for k, v in enumerate(instance):
                validate_schema(v, schema["items"], f"{path}[{k}]", root)


def check(root, schema_path=None):
    """Check a vectors directory completely: the manifest against the schema, then what a
    schema cannot say: unique ids, case_count, blob names unique per role, every file present
    with the stated size and sha256, no file under blobs/ that the manifest does not name.
    Returns the manifest. Raises VectorFormatError."""
    root = pathlib.Path(root)
    manifest = load_manifest(root)
    schema = json.loads(pathlib.Path(schema_path or root / "schema.json").read_text())
    validate_schema(manifest, schema)
    if manifest["case_count"] != len(manifest["cases"]):
        raise VectorFormatError(f"case_count {manifest['case_count']} != {len(manifest['cases'])} cases")
    ids = set()
    named = set()
    for c in manifest["cases"]:
        if c["id"] in ids:
            raise VectorFormatError(f"{c['id']}: duplicate case id")
        ids.add(c["id"])
        if not c["id"].startswith(c["kernel"] + "/"):
            raise VectorFormatError(f"{c['id']}: id does not start with its kernel {c['kernel']}/")
        keys = set()
        for b in c["blobs"]:
            if (b["name"], b["role"]) in keys:
                raise VectorFormatError(f"{c['id']}: two {b['role']} blobs named {b['name']}")
            keys.add((b["name"], b["role"]))
            if b["file"] in named:
                raise VectorFormatError(f"{c['id']}: {b['file']} is named twice")
            named.add(b["file"])
            read_blob(root, b)
        for k, v in c["params"].items():
            if isinstance(v, str) and v.startswith("f32:"):
                f32_from_param(v)
    on_disk = {p.relative_to(root).as_posix() for p in (root / "blobs").rglob("*") if p.is_file()}
    stray = sorted(on_disk - named)
    if stray:
        raise VectorFormatError(f"{len(stray)} file(s) under blobs/ not in the manifest, e.g. {stray[0]}")
    return manifest
