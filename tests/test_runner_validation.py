"""The golden-vector runner (tests/runner/) on the host, without QEMU: it fails on a flipped
bit, on a one-ulp difference and on a wrong status; it validates every case completely before a
kernel runs (blob sizes against the parameters whatever the expected status, every parameter
present, nothing unknown), so a malformed case fails with a message and never makes a kernel
touch memory outside its buffers (the AddressSanitizer build gives each buffer a redzone)."""
import copy
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess

import pytest

from tinyreptile_ref.vectors import format as vf

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "vectors"
RUNNER = ROOT / "tests" / "runner"
CFLAGS = ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic",
          "-Wmissing-prototypes", "-Werror"]
SAN = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
       "-fno-omit-frame-pointer"]
SOURCES = ["tv_core.c", "tv_sha256.c", "tv_handlers.c", "tv_files.c", "tv_main_files.c"]
FINAL = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


def build(out, flags, csrc=ROOT / "csrc"):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (cc) is needed to build the vector runner"
    srcs = [str(RUNNER / s) for s in SOURCES] + sorted(str(p) for p in pathlib.Path(csrc).glob("*.c"))
    subprocess.run([cc, *CFLAGS, *flags, f"-I{csrc}", f"-I{RUNNER}", *srcs, "-o", str(out)],
                   check=True, capture_output=True, text=True)
    return out


def run(exe, manifest):
    p = subprocess.run([str(exe), str(manifest)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **SAN_ENV})
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-3000:]
    assert p.returncode in (0, 1), (p.returncode, p.stderr[-3000:])
    m = FINAL.findall(p.stdout)
    assert m and p.stdout.rstrip().splitlines()[-1] == f"{m[-1][0]} passed, {m[-1][1]} failed"
    failed_ids = set(re.findall(r"^FAIL (\S+?):? ", p.stdout, re.M))
    return p.returncode, int(m[-1][0]), int(m[-1][1]), failed_ids, p.stdout


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    d = tmp_path_factory.mktemp("runners")
    return {"plain": build(d / "tv_runner_files", ["-O2"]),
            "asan": build(d / "tv_runner_files_asan", SAN)}


@pytest.fixture(scope="module")
def manifest():
    return vf.load_manifest(VECTORS)


def write_cases(root, manifest, cases):
    """A manifest in `root` holding `cases`, whose blob files point into the committed vectors
    through a symlinked blobs/ directory (the runner reads relative paths only)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "blobs").exists():
        (root / "blobs").symlink_to(VECTORS / "blobs")
    m = dict(manifest, cases=cases, case_count=len(cases))
    (root / "manifest.json").write_text(json.dumps(m, indent=1), encoding="ascii")
    return root / "manifest.json"


def with_expected(root, manifest, case, blob_name, change):
    """`case` with its expected blob `blob_name` replaced by change(bytes), checksum updated,
    so only the runner's comparison can tell."""
    c = copy.deepcopy(case)
    b = next(b for b in c["blobs"] if b["name"] == blob_name and b["role"] == "expected")
    data = change((VECTORS / b["file"]).read_bytes())
    rel = f"mut/{len(list((root / 'mut').glob('*'))) if (root / 'mut').exists() else 0}.bin"
    (root / "mut").mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)
    b.update(file=rel, sha256=vf.sha256(data))
    c["id"] += f"~{blob_name}"
    return c


def f32_bits_add(data, index, delta):
    u = struct.unpack_from("<I", data, 4 * index)[0]
    out = bytearray(data)
    struct.pack_into("<I", out, 4 * index, (u + delta) & 0xFFFFFFFF)
    return bytes(out)


def ok_cases(manifest, dtype):
    """One TR_OK case per kernel that has a non-empty expected blob of `dtype`."""
    seen, out = set(), []
    for c in manifest["cases"]:
        if c["status"] or c["kernel"] in seen:
            continue
        b = next((b for b in c["blobs"] if b["role"] == "expected" and b["dtype"] == dtype
                  and 0 not in b["shape"]), None)
        if b:
            seen.add(c["kernel"])
            out.append((c, b))
    return out


# ------------------------------------------------------------ the runner fails when it must

@pytest.mark.parametrize("which", ["plain", "asan"])
def test_the_runner_fails_on_a_one_ulp_difference_in_every_float_kernel(tmp_path, runners, manifest, which):
    # +1 and -1 ulp (the raw bits plus or minus one) in the last element of an expected float32
    # output of every kernel: each case fails, the unchanged ones pass.
    cases, mutated = [], set()
    for c, b in ok_cases(manifest, "f32"):
        n = 1
        for s in b["shape"]:
            n *= s
        for delta in (+1, -1):
            m = with_expected(tmp_path, manifest, c, b["name"], lambda d: f32_bits_add(d, n - 1, delta))
            m["id"] += f"{delta:+d}ulp"
            cases.append(m)
            mutated.add(m["id"])
    assert len(mutated) >= 2 * 25
    rc, passed, failed, failing, out = run(runners[which], write_cases(tmp_path, manifest, cases))
    assert rc == 1 and failed == len(mutated) and passed == 0, out
    assert failing == mutated, out


@pytest.mark.parametrize("dtype", ["f32", "s8", "s32"])
def test_the_runner_fails_on_a_flipped_bit_in_any_bit_position(tmp_path, runners, manifest, dtype):
    # Every bit position of an element (sign, exponent, mantissa; every bit of an integer).
    width = {"f32": 4, "s8": 1, "s32": 4}[dtype]
    c, b = ok_cases(manifest, dtype)[0]
    cases = []
    for bit in range(8 * width):
        def flip(d, bit=bit):
            out = bytearray(d)
            out[bit // 8] ^= 1 << (bit % 8)
            return bytes(out)
        m = with_expected(tmp_path, manifest, c, b["name"], flip)
        m["id"] += f"-bit{bit}"
        cases.append(m)
    rc, passed, failed, failing, out = run(runners["plain"], write_cases(tmp_path, manifest, cases))
    assert rc == 1 and (passed, failed) == (0, 8 * width), out
    assert failing == {m["id"] for m in cases}


def test_the_runner_fails_on_a_wrong_status(tmp_path, runners, manifest):
    # A TR_OK case that claims an error, and every error case that claims TR_OK or another code.
    cases = []
    for c in manifest["cases"]:
        alt = [-3] if c["status"] == 0 else [0, -1 if c["status"] != -1 else -2]
        if c["status"] == 0 and c["kernel"] in {x["kernel"] for x in cases}:
            continue
        for s in alt:
            m = copy.deepcopy(c)
            m["status"] = s
            m["id"] += f"~status{s}"
            cases.append(m)
    rc, passed, failed, failing, out = run(runners["asan"], write_cases(tmp_path, manifest, cases))
    assert rc == 1 and passed == 0 and failed == len(cases), out
    assert failing == {m["id"] for m in cases}


def test_the_unchanged_cases_pass_through_the_same_harness(tmp_path, runners, manifest):
    # The helpers above change only what they say: the committed cases, written the same way.
    rc, passed, failed, failing, out = run(runners["asan"], write_cases(tmp_path, manifest, manifest["cases"]))
    assert (rc, passed, failed) == (0, len(manifest["cases"]), 0), out


# ------------------------------------------------- malformed cases: complete validation

def small_cases(manifest):
    """Per kernel: its smallest TR_OK case and its smallest error-status case."""
    size = lambda c: sum(vf.blob_size(b) for b in c["blobs"])  # noqa: E731
    best = {}
    for c in manifest["cases"]:
        key = (c["kernel"], c["status"] == 0)
        if key not in best or size(c) < size(best[key]):
            best[key] = c
    return list(best.values())


def mutations(case):
    """(kind, mutated case): every parameter removed, set to a large, a negative, the largest
    int32 and its value plus one; an unknown parameter; each input blob removed; an unknown
    input blob."""
    out = []

    def mut(kind, f):
        m = copy.deepcopy(case)
        f(m)
        m["id"] += f"~{kind}"
        out.append((kind, m))

    for name, value in case["params"].items():
        mut(f"drop-{name}", lambda m, n=name: m["params"].pop(n))
        if isinstance(value, int):
            for v in (1000000, -1, 2**31 - 1, -2**31, value + 1, 0):
                if v != value and -2**31 <= v < 2**31:
                    mut(f"{name}={v}", lambda m, n=name, v=v: m["params"].__setitem__(n, v))
        else:
            mut(f"{name}=bogus", lambda m, n=name: m["params"].__setitem__(n, "bogus"))
    mut("unknown-param", lambda m: m["params"].__setitem__("zz_unknown", 1))
    inputs = [b for b in case["blobs"] if b["role"] == "input"]
    for b in inputs:
        mut(f"drop-input-{b['name']}", lambda m, n=b["name"]: m["blobs"].__setitem__(
            slice(None), [x for x in m["blobs"] if not (x["name"] == n and x["role"] == "input")]))
    if inputs:
        mut("unknown-input", lambda m: m["blobs"].append(dict(copy.deepcopy(inputs[0]), name="zz_unknown")))
    for b in case["blobs"]:  # a blob whose shape claims one element more or fewer than its file
        if b["shape"] and 0 not in b["shape"][:-1]:  # the element count changes
            def grow(m, n=b["name"], r=b["role"]):
                x = next(x for x in m["blobs"] if x["name"] == n and x["role"] == r)
                x["shape"] = x["shape"][:-1] + [x["shape"][-1] + 1]
            mut(f"shape+1-{b['role']}-{b['name']}", grow)
    return out


def test_every_malformed_case_fails_with_a_message_and_no_memory_error(tmp_path, runners, manifest):
    # Over the smallest OK and error case of every kernel, every mutation of mutations(): the
    # ASan+UBSan runner must end normally (no sanitizer report, exit status 1, the final line);
    # what removes or adds a name, or changes a blob's size, must fail its case with a message.
    # (A changed value may leave the case passing: dilation does not matter when K = 1.)
    must_fail, may_pass = set(), set()
    cases = []
    for c in small_cases(manifest):
        for kind, m in mutations(c):
            cases.append(m)
            if kind.startswith(("drop-", "unknown-", "shape+1-")):
                must_fail.add(m["id"])
            else:
                may_pass.add(m["id"])
    assert len(cases) > 1000, len(cases)
    rc, passed, failed, failing, out = run(runners["asan"], write_cases(tmp_path, manifest, cases))
    assert rc == 1 and passed + failed == len(cases), out[-2000:]
    missed = sorted(must_fail - failing)
    assert not missed, missed[:20]
    # A failing case says why in its line (the messages of validation, status or comparison).
    for line in re.findall(r"^FAIL \S+ .*$", out, re.M)[:200]:
        assert len(line.split(" ", 2)[2]) > 10, line


@pytest.mark.parametrize("kernel, param, value", [
    ("sgd_step_s8", "n", 1000000), ("transport_quantize_s8", "n", 500000),
    ("conv1d_forward_s8", "L", 300000), ("sgd_step_f32", "n", 100000),
    ("dense_forward_s8", "I", 60000), ("relu_forward_f32", "n", 150000),
])
def test_an_error_status_case_is_validated_as_completely_as_an_ok_case(tmp_path, runners, manifest,
                                                                       kernel, param, value):
    # The reported overflow: a case that expects an error status, with a size parameter far
    # larger than its blobs, reached the kernel (ASan: global-buffer-overflow in tr_sgd_step_s8).
    c = copy.deepcopy(next(c for c in manifest["cases"] if c["kernel"] == kernel and c["status"] == 0
                           and all(0 not in b["shape"] for b in c["blobs"])))
    c["params"][param] = value
    c["status"] = -3
    c["blobs"] = [b for b in c["blobs"] if b["role"] == "input"]
    rc, passed, failed, failing, out = run(runners["asan"], write_cases(tmp_path, manifest, [c]))
    assert (rc, passed, failed) == (1, 0, 1), out
    assert re.search(r"input blob '\w+' has \d+ elements, the parameters say \d+", out), out


@pytest.mark.parametrize("path", ["../vectors/manifest.json", "/etc/passwd", "blobs/../manifest.json",
                                  "blobs\\x.bin", "blobs/", ""])
def test_the_runner_never_opens_a_blob_outside_the_manifests_directory(tmp_path, runners, manifest, path):
    c = copy.deepcopy(next(c for c in manifest["cases"] if c["kernel"] == "sgd_step_f32"))
    c["blobs"][0]["file"] = path
    rc, passed, failed, failing, out = run(runners["plain"], write_cases(tmp_path, manifest, [c]))
    assert (rc, failed) == (1, 1) and "is not a relative path inside the manifest's directory" in out, out


def test_the_asan_runner_catches_a_kernel_reading_one_element_past_its_input(tmp_path, manifest):
    # Every arena buffer has its own poisoned redzone under ASan, so an overrun by one element
    # is caught even though the next buffer of the arena follows it.
    csrc = tmp_path / "csrc"
    shutil.copytree(ROOT / "csrc", csrc)
    src = (csrc / "activation.c").read_text()
    old = "    for (int32_t j = 0; j < n; j++) {\n        float v = x[j];\n        y[j] = v < 0.0f ? 0.0f : v;"
    assert old in src, "activation.c changed: update this sabotage"
    (csrc / "activation.c").write_text(src.replace(old, old.replace("float v = x[j];", "float v = x[j] + 0.0f * x[n];")))
    exe = build(tmp_path / "tv_runner_overrun", SAN, csrc=csrc)
    c = next(c for c in manifest["cases"] if c["kernel"] == "relu_forward_f32" and c["status"] == 0
             and c["blobs"][0]["shape"] != [0])
    p = subprocess.run([str(exe), str(write_cases(tmp_path / "v", manifest, [c]))], capture_output=True,
                       text=True, timeout=300, env={**os.environ, **SAN_ENV})
    assert p.returncode != 0 and "AddressSanitizer" in p.stderr, p.stdout + p.stderr
    assert "tr_relu_forward_f32" in p.stderr
