"""The golden-vector format: a JSON manifest plus raw little-endian blob files.

    vectors/manifest.json   schema_version, generator (name, version), provenance (seed, rng,
                            NumPy and Python versions), and the list of cases
    vectors/schema.json     a copy of the JSON Schema (draft 2020-12) the manifest obeys; the
                            tool ships its own (tinyreptile_ref/vectors/schema.json) and checks
                            against that one only, never against the directory's
    vectors/blobs/<kernel>/<case>.<blob>.<in|out>.bin
                            one array per file: raw little-endian bytes in C order, float32
                            stored as its IEEE-754 bits; an empty array is an empty file

A case names the kernel, its integer/string parameters, its blobs (name, role "input" or
"expected", dtype, shape, file, sha256), the status the kernel must return, a comment and flags
that say what the case is for. A float32 scalar parameter is a string "f32:0x3dcccccd" (its bits)
so no decimal text ever stands between the generator and the C runner.

This module writes and reads that format and checks it (schema, files, checksums); it knows
nothing about kernels. Reading is defensive: every error is a VectorFormatError naming the file
(see check()); no path leaves the vectors directory, no symlink or special file is opened, and
sizes are checked before anything is read. The cases themselves come from tinyreptile_ref/vectors/cases/ (one module per kernel family).
"""
import hashlib
import json
import math
import os
import pathlib
import re
import stat

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


#: The schema the tool checks every manifest against (shipped in the package).
SCHEMA_PATH = pathlib.Path(__file__).resolve().with_name("schema.json")

#: Limits checked before reading: the manifest's size, one blob's size, JSON nesting depth.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_BLOB_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 16


class VectorFormatError(ValueError):
    """The vectors on disk do not obey the format (schema, files or checksums).

    `file` is the file at fault (None when the caller knows it better); str() gives
    "<file>: <what>"."""

    def __init__(self, what, file=None):
        super().__init__(what)
        self.what, self.file = what, file

    def __str__(self):
        return f"{self.file}: {self.what}" if self.file is not None else self.what

    def at(self, file):
        """The same error, attributed to `file` unless it already names one."""
        return self if self.file is not None else VectorFormatError(self.what, file)


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

    Everything the generator owns (manifest.json, blobs/ and schema.json, a copy of the
    shipped schema) is replaced; other files in `root` (README.md) are left alone. Returns the
    manifest dict."""
    root = pathlib.Path(root)
    blobs_dir = root / "blobs"
    if blobs_dir.is_symlink() or (blobs_dir.exists() and not blobs_dir.is_dir()):
        blobs_dir.unlink()
    elif blobs_dir.exists():
        for p in sorted(blobs_dir.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
        blobs_dir.rmdir()
    (root / "schema.json").write_bytes(SCHEMA_PATH.read_bytes())
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


# ------------------------------------------------------------------ safe reading

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _relative_parts(rel):
    """The components of `rel`, a relative path that stays inside the vectors directory: no
    absolute path, no '..' or '.' component, no empty component, no backslash or NUL."""
    if not isinstance(rel, str) or not rel:
        raise VectorFormatError("is not a file name", repr(rel))
    parts = rel.split("/")
    for part in parts:
        if not _PART.fullmatch(part) or part in (".", ".."):
            raise VectorFormatError("is not a relative path inside the vectors directory", rel)
    return parts


def read_file(root, rel, limit, size=None):
    """The bytes of the regular file `root`/`rel`, never following a symlink (at any
    component below `root`), never opening a FIFO, device or socket, and refusing a file larger
    than `limit` bytes (or not exactly `size`, when given) before reading it."""
    root = pathlib.Path(root)
    parts = _relative_parts(rel)
    path = root
    for k, part in enumerate(parts):
        path = path / part
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise VectorFormatError(f"cannot be read: {exc.strerror}", rel) from None
        if stat.S_ISLNK(st.st_mode):
            raise VectorFormatError("is a symbolic link" if k + 1 == len(parts)
                                    else f"{'/'.join(parts[:k + 1])} is a symbolic link", rel)
        if k + 1 < len(parts) and not stat.S_ISDIR(st.st_mode):
            raise VectorFormatError(f"{'/'.join(parts[:k + 1])} is not a directory", rel)
    if not stat.S_ISREG(st.st_mode):
        raise VectorFormatError("is not a regular file", rel)
    if st.st_size > limit:
        raise VectorFormatError(f"{st.st_size} bytes, more than the limit of {limit}", rel)
    if size is not None and st.st_size != size:
        raise VectorFormatError(f"{st.st_size} bytes, expected {size}", rel)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise VectorFormatError(f"cannot be read: {exc.strerror}", rel) from None
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode) or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
            raise VectorFormatError("changed while being read", rel)
        chunks, left = [], st.st_size + 1  # one byte more: a file that grew is refused
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise VectorFormatError(f"cannot be read: {exc.strerror}", rel) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) != st.st_size:
        raise VectorFormatError("changed while being read", rel)
    return data


def _max_depth(text):
    """The deepest nesting of [ and { in JSON text (strings skipped)."""
    depth = deepest = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif tok in "]}":
            depth -= 1
    return deepest


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise VectorFormatError(f"duplicate key {dup!r}")
    return dict(pairs)


def _no_constant(name):
    raise VectorFormatError(f"{name} is not a JSON number")


def parse_json(data, file):
    """JSON from bytes, strictly: ASCII only, nesting at most MAX_DEPTH, no duplicate keys, no
    NaN/Infinity. Raises VectorFormatError naming `file`."""
    bad = next((k for k, b in enumerate(data) if b >= 0x80), None)
    if bad is not None:
        raise VectorFormatError(f"non-ASCII byte 0x{data[bad]:02x} at offset {bad}", file)
    text = data.decode("ascii")
    if _max_depth(text) > MAX_DEPTH:
        raise VectorFormatError(f"JSON nested deeper than {MAX_DEPTH} levels", file)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except VectorFormatError as exc:
        raise exc.at(file) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise VectorFormatError(f"invalid JSON: {getattr(exc, 'msg', exc)}{where}", file) from None


def load_manifest(root):
    """The manifest of the vectors directory `root`, parsed strictly (parse_json); not yet
    checked against the schema (check() does that)."""
    return parse_json(read_file(root, "manifest.json", MAX_MANIFEST_BYTES), "manifest.json")


def blob_size(blob):
    """The byte size a (schema-valid) blob entry's shape and dtype give, in exact integer
    arithmetic; refused when the element count does not fit int32 (as the C runner requires)
    or the size exceeds MAX_BLOB_BYTES."""
    count = math.prod(int(s) for s in blob["shape"])
    if count > 2**31 - 1:
        raise VectorFormatError(f"shape {blob['shape']} has {count} elements, more than int32 holds",
                                blob["file"])
    nbytes = count * DTYPES[blob["dtype"]].itemsize
    if nbytes > MAX_BLOB_BYTES:
        raise VectorFormatError(f"shape {blob['shape']} needs {nbytes} bytes, more than the limit "
                                f"of {MAX_BLOB_BYTES}", blob["file"])
    return nbytes


def read_blob(root, blob, verify=True):
    """The array a manifest blob entry stands for; checks size (before reading) and, by
    default, sha256."""
    nbytes = blob_size(blob)
    data = read_file(root, blob["file"], MAX_BLOB_BYTES, size=nbytes)
    if verify and sha256(data) != blob["sha256"]:
        raise VectorFormatError(f"sha256 {sha256(data)} does not match the manifest's "
                                f"{blob['sha256']}", blob["file"])
    return np.frombuffer(data, dtype=DTYPES[blob["dtype"]]).reshape(blob["shape"])


# ---------------------------------------------------------------- schema validation

def _same_json(a, b):
    """JSON equality with JSON's types: 0.0 is not 0, true is not 1 (Python's == says both)."""
    kind = lambda v: "number" if type(v) in (int, float) else type(v).__name__  # noqa: E731
    if kind(a) != kind(b) or type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return a == b


def _ecma_search(pattern, text):
    """re.search with the pattern's '$' anchoring at the very end, as in JSON Schema's
    ECMA-262 regular expressions (Python's '$' also matches before a final newline)."""
    out, k, in_class = [], 0, False
    while k < len(pattern):
        ch = pattern[k]
        if ch == "\\":
            out.append(pattern[k:k + 2])
            k += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append(r"\Z" if ch == "$" and not in_class else ch)
        k += 1
    return re.search("".join(out), text) is not None


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
    if "enum" in schema and not any(_same_json(instance, v) for v in schema["enum"]):
        raise fail(f"{instance!r} is not one of {schema['enum']}")
    if "const" in schema and not _same_json(instance, schema["const"]):
        raise fail(f"{instance!r} is not {schema['const']!r}")
    if isinstance(instance, str):
        if "pattern" in schema and not _ecma_search(schema["pattern"], instance):
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


def _strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


def _walk_files(root, top):
    """Every file below root/top (relative POSIX paths); a symlink or special file there is an
    error, not a file."""
    out = []
    pending = [top]
    while pending:
        rel = pending.pop()
        try:
            entries = sorted(os.scandir(pathlib.Path(root) / rel), key=lambda e: e.name)
        except OSError as exc:
            raise VectorFormatError(f"cannot be listed: {exc.strerror}", rel) from None
        for e in entries:
            sub = f"{rel}/{e.name}"
            if e.is_symlink():
                raise VectorFormatError("is a symbolic link", sub)
            if e.is_dir(follow_symlinks=False):
                pending.append(sub)
            elif e.is_file(follow_symlinks=False):
                out.append(sub)
            else:
                raise VectorFormatError("is not a regular file", sub)
    return out


def check(root, schema_path=None):
    """Check a vectors directory completely: the manifest against the schema (the shipped one,
    SCHEMA_PATH, unless `schema_path` names another: never the directory's own schema.json,
    which must be a byte-identical copy when present), then what a schema cannot say: unique
    ids, case_count, ASCII strings, blob names unique per role, every file a regular file
    inside the directory with the stated size and sha256, no other file under blobs/.
    Returns the manifest. Raises VectorFormatError naming the file at fault (below `root`)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise VectorFormatError("is not a directory" if root.exists() else "does not exist",
                                str(root))
    try:
        return _check(root, schema_path)
    except VectorFormatError as exc:
        raise VectorFormatError(exc.what, os.path.join(str(root), exc.file or "")) from None


def _check(root, schema_path):
    mf = "manifest.json"
    schema_file = pathlib.Path(schema_path) if schema_path else SCHEMA_PATH
    try:
        schema_bytes = schema_file.read_bytes()
    except OSError as exc:
        raise VectorFormatError(f"cannot be read: {exc.strerror}", str(schema_file)) from None
    schema = parse_json(schema_bytes, str(schema_file))
    if os.path.lexists(root / "schema.json"):
        copy = read_file(root, "schema.json", MAX_MANIFEST_BYTES)
        if schema_path is None and copy != schema_bytes:
            raise VectorFormatError("differs from the schema the tool ships "
                                    "(make vectors writes the copy)", "schema.json")
    manifest = load_manifest(root)
    try:
        validate_schema(manifest, schema)
    except VectorFormatError as exc:
        raise exc.at(mf) from None
    for text in _strings(manifest):
        if not all(" " <= ch <= "~" for ch in text):
            raise VectorFormatError(f"string {text!r:.60} holds a character outside printable "
                                    "ASCII", mf)
    if manifest["case_count"] != len(manifest["cases"]):
        raise VectorFormatError(f"case_count {manifest['case_count']} != "
                                f"{len(manifest['cases'])} cases", mf)
    ids = set()
    named = set()
    for c in manifest["cases"]:
        if c["id"] in ids:
            raise VectorFormatError(f"{c['id']}: duplicate case id", mf)
        ids.add(c["id"])
        if not c["id"].startswith(c["kernel"] + "/"):
            raise VectorFormatError(f"{c['id']}: id does not start with its kernel "
                                    f"{c['kernel']}/", mf)
        keys = set()
        for b in c["blobs"]:
            if (b["name"], b["role"]) in keys:
                raise VectorFormatError(f"{c['id']}: two {b['role']} blobs named {b['name']}", mf)
            keys.add((b["name"], b["role"]))
            if b["file"] in named:
                raise VectorFormatError(f"{c['id']}: {b['file']} is named twice", mf)
            named.add(b["file"])
            read_blob(root, b)
        for k, v in c["params"].items():
            if isinstance(v, str) and v.startswith("f32:"):
                try:
                    f32_from_param(v)
                except VectorFormatError as exc:
                    raise exc.at(mf) from None
    try:
        st = os.lstat(root / "blobs")
    except OSError as exc:
        raise VectorFormatError(f"cannot be read: {exc.strerror}", "blobs") from None
    if not stat.S_ISDIR(st.st_mode):
        raise VectorFormatError("is not a directory", "blobs")
    stray = sorted(set(_walk_files(root, "blobs")) - named)
    if stray:
        raise VectorFormatError(f"{len(stray)} file(s) under blobs/ not in the manifest, "
                                f"e.g. {stray[0]}", stray[0])
    return manifest
