"""xcheck (tools/xcheck.py) and the trace (tr_tinyreptile_device_round_traced_f32): the C
runtime's records equal the NumPy twin's, bit for bit, through the cffi hook and through the
traced program's file; and on REAL wrong builds (mk/xcheck.mk: contraction on an FMA host,
FPSCR.FZ set by the Cortex-M4F start-up under QEMU, libm's tanhf or expf, a dense forward
summing in reverse) xcheck finds the first diverging record and names the planted cause."""
import io
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from tinyreptile_ref import get_backend
from tinyreptile_ref.errors import ParameterError
from tinyreptile_ref.runtime import model as rt
from tinyreptile_ref.tools import xcheck as xc

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "xcheck"
MCU = ROOT / "build" / "mcu" / "m4f"
HAVE_MCU = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")


def cpu_has_fma():
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and " fma " in line + " " for line in flags.splitlines())


@pytest.fixture(scope="module")
def progs():
    """The traced programs, built by make (a no-op when `make test` built them already)."""
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("no make or cc")
    targets = [str(p.relative_to(ROOT)) for p in
               (BUILD / "trace_host", BUILD / "trace_tanhf", BUILD / "trace_expf",
                BUILD / "trace_rev")]
    if cpu_has_fma():
        targets.append("build/xcheck/trace_fma")
    if HAVE_MCU:
        targets += ["build/mcu/m4f/trace_fw.elf", "build/mcu/m4f/trace_fw_fz.elf"]
    subprocess.run(["make", "-s", *targets], cwd=ROOT, check=True)
    return BUILD


def run_host(prog, job, tmp_path):
    jp, tp = tmp_path / "job.bin", tmp_path / "trace.bin"
    jp.write_bytes(job.to_bytes())
    subprocess.run([str(prog), str(jp), str(tp)], check=True, capture_output=True)
    return xc.read_trace(tp.read_bytes())


def run_m4f(elf, job):
    """The traced firmware under QEMU: the job and the trace go over semihosting (fixed paths
    relative to the repository root, where QEMU runs)."""
    (ROOT / "build" / "xcheck").mkdir(parents=True, exist_ok=True)
    (ROOT / "build/xcheck/job.bin").write_bytes(job.to_bytes())
    out = ROOT / "build/xcheck/trace-mcu.bin"
    if out.exists():
        out.unlink()
    subprocess.run([str(ROOT / "mcu/tools/run-qemu.sh"), "m4f", str(elf), "60"], cwd=ROOT,
                   check=True, capture_output=True)
    return xc.read_trace(out.read_bytes())


def report(trace):
    buf = io.StringIO()
    res = xc.check(trace, out=buf)
    return res, buf.getvalue()


# ---------------------------------------------------------------- the trace itself

def test_c_backend_trace_equals_the_numpy_twin_record_for_record():
    job = xc.make_job("sine", k=3, seed=1)
    recs = {}
    for name in ("numpy", "c"):
        got = []
        be = get_backend(name)
        phi, _ = be.tinyreptile_device_round_f32(
            job.theta, job.x, job.target, job.model, job.lr, "fused",
            trace=lambda s, l, t, a: got.append((s, l, t, a)))
        recs[name] = (got, phi)
    (a, pa), (b, pb) = recs["numpy"], recs["c"]
    assert len(a) == len(b) == 3 * (5 + 1 + 5 + 2 * 3)
    for ra, rb in zip(a, b):
        assert ra[:3] == rb[:3] and ra[3].shape == rb[3].shape
        np.testing.assert_array_equal(ra[3].view(np.uint32), rb[3].view(np.uint32))
    np.testing.assert_array_equal(pa.view(np.uint32), pb.view(np.uint32))
    # the last records are the updated parameters: the round's phi
    w0 = [r for r in a if r[:3] == (2, 0, rt.TRACE_W)][0][3]
    np.testing.assert_array_equal(w0, job.model.views(pa)[0][0])


def test_conv_model_trace_matches_in_grad_mode_too():
    job = xc.make_job("digits", k=2, seed=0, mode="grad")
    out = []
    for name in ("numpy", "c"):
        got = []
        get_backend(name).tinyreptile_device_round_f32(
            job.theta, job.x, job.target, job.model, job.lr, "grad",
            trace=lambda s, l, t, a: got.append((s, l, t, a.tobytes())))
        out.append(got)
    assert out[0] == out[1] and len(out[0]) > 10


def test_a_traced_round_refuses_accum_with_one_message(backend):
    job = xc.make_job("sine", k=1)
    with pytest.raises(ParameterError, match="^mode: a traced round takes 'fused' or 'grad'"):
        backend.tinyreptile_device_round_f32(job.theta, job.x, job.target, job.model, job.lr,
                                             "accum", trace=lambda *a: None)


def test_an_exception_in_the_hook_reaches_the_caller():
    job = xc.make_job("sine", k=1)

    def boom(*a):
        raise KeyError("hook")
    with pytest.raises(KeyError):
        get_backend("c").tinyreptile_device_round_f32(job.theta, job.x, job.target, job.model,
                                                      job.lr, trace=boom)


def test_host_program_trace_has_no_divergence(progs, tmp_path):
    tr = run_host(progs / "trace_host", xc.make_job("sine", k=3), tmp_path)
    res, text = report(tr)
    assert not res["diverged"], text
    assert "no divergence" in text


def test_trace_file_round_trips_and_rejects_damage():
    job = xc.make_job("sine", k=2)
    ref = xc.reference(job)
    data = xc.write_trace(job, ref.records)
    tr = xc.read_trace(data)
    assert [r.key for r in tr.records] == [r.key for r in ref.records]
    assert not xc.check(tr, out=io.StringIO())["diverged"]
    with pytest.raises(xc.TraceError, match="^trace: cut off"):
        xc.read_trace(data[:-40])
    with pytest.raises(xc.TraceError, match="^trace: not a version-1"):
        xc.read_trace(b"XXXX" + data[4:])


def test_ulp_distance_rule():
    f = np.float32
    assert xc.ulp_distance(f(0.0), f(-0.0)) == 0
    assert xc.ulp_distance(np.nextafter(f(1), f(2)), f(1)) == 1
    assert xc.ulp_distance(f(-1), np.nextafter(f(-1), f(-2))) == 1
    sub = np.float32(np.finfo(f).smallest_subnormal)
    assert xc.ulp_distance(sub, -sub) == 2
    assert xc.ulp_distance(f(np.inf), np.finfo(f).max) == 1
    assert xc.ulp_distance(f(np.nan), f(np.nan)) == 0
    assert xc.ulp_distance(f(np.nan), f(1)) is None


def test_round_f32_is_a_single_correct_rounding():
    from fractions import Fraction
    one = Fraction(1)
    ulp = Fraction(1, 2 ** 23)
    assert xc.round_f32(one + ulp / 2) == np.float32(1)  # tie to even
    assert xc.round_f32(one + ulp / 2 + Fraction(1, 2 ** 80)) == np.nextafter(np.float32(1),
                                                                             np.float32(2))
    assert xc.fma32(np.float32(1 + 2 ** -12), np.float32(1 + 2 ** -12), np.float32(-1)) == \
        np.float32(2 ** -11 + 2 ** -24)


# ------------------------------------------------------------ planted wrong builds

@pytest.mark.skipif(not cpu_has_fma(), reason="the host CPU has no FMA")
def test_xcheck_names_fma_contraction_on_a_contracting_build(progs, tmp_path):
    tr = run_host(progs / "trace_fma", xc.make_job("sine", k=3), tmp_path)
    res, text = report(tr)
    assert res["diverged"] and res["culprit"] == "fma", text
    assert "FIRST DIVERGENCE at record 0: step 0, layer 0 (dense), out" in text


def test_xcheck_names_libm_tanhf(progs, tmp_path):
    tr = run_host(progs / "trace_tanhf", xc.make_job("sine", k=3), tmp_path)
    res, text = report(tr)
    assert res["culprit"] == "libm-tanhf", text
    assert res["record"] == (0, 1, rt.TRACE_OUT)


def test_xcheck_names_libm_expf_in_the_softmax_loss(progs, tmp_path):
    tr = run_host(progs / "trace_expf", xc.make_job("digits", k=2), tmp_path)
    res, text = report(tr)
    assert res["culprit"] == "libm-expf", text
    assert res["record"] == (0, 5, rt.TRACE_DOUT)  # the loss' gradient, the last layer's dout


def test_xcheck_names_a_reversed_reduction(progs, tmp_path):
    tr = run_host(progs / "trace_rev", xc.make_job("sine", k=3), tmp_path)
    res, text = report(tr)
    assert res["culprit"] == "reversed", text
    assert res["record"] == (0, 2, rt.TRACE_OUT)  # layer 0 sums one term: no order to get wrong


@pytest.mark.skipif(not HAVE_MCU, reason="no arm-none-eabi-gcc / qemu-system-arm")
def test_xcheck_names_flush_to_zero_on_cortex_m4f_with_fpscr_fz(progs):
    # zero biases (a common initialisation) and inputs that are subnormal
    job = xc.make_job("sine", k=2, x_scale=1e-39, zero_bias=True)
    good = run_m4f(MCU / "trace_fw.elf", job)
    res, text = report(good)
    assert not res["diverged"], text
    res, text = report(run_m4f(MCU / "trace_fw_fz.elf", job))
    assert res["culprit"] == "ftz", text
    assert res["record"] == (0, 0, rt.TRACE_OUT)


@pytest.mark.skipif(not cpu_has_fma(), reason="the host CPU has no FMA")
def test_compact_trace_then_drill_down_into_the_first_differing_tensor(progs, tmp_path):
    job = xc.make_job("sine", k=3, compact=True)
    tr = run_host(progs / "trace_fma", job, tmp_path)
    assert all(r.data is None for r in tr.records)
    res, text = report(tr)
    assert res["drill"] == (0, 0, rt.TRACE_OUT) and res["culprit"] is None, text
    job.drill = res["drill"]
    tr = run_host(progs / "trace_fma", job, tmp_path)
    assert sum(r.data is not None for r in tr.records) == 1
    res, text = report(tr)
    assert res["culprit"] == "fma", text


def test_xcheck_cli_on_a_trace_and_on_theta(progs, tmp_path, capsys):
    from tinyreptile_ref.tools.cli import main
    jp = tmp_path / "job.bin"
    assert main(["xcheck", "job", "--out", str(jp), "--k", "2"]) == 0
    tp = tmp_path / "t.bin"
    subprocess.run([str(progs / "trace_rev"), str(jp), str(tp)], check=True, capture_output=True)
    assert main(["xcheck", str(tp)]) == 1
    out = capsys.readouterr().out
    assert "DIAGNOSIS: another reduction order: reversed" in out
    # a device's theta: the reversed build's final phi, taken from its trace's last records
    tr = xc.read_trace(tp.read_bytes())
    phi = tr.job.theta.copy()
    views = tr.job.model.views(phi)
    for r in tr.records:
        if r.step == 1 and r.tensor in (rt.TRACE_W, rt.TRACE_B):
            views[r.layer][0 if r.tensor == rt.TRACE_W else 1][...] = r.data
    pp = tmp_path / "phi.f32"
    pp.write_bytes(phi.astype("<f4").tobytes())
    assert main(["xcheck", "--theta", str(pp), str(jp)]) == 1
    out = capsys.readouterr().out
    assert "theta: layer 0 (dense) w:" in out and "ulp" in out
    assert main(["xcheck", "--theta", str(jp), str(jp)]) == 2
    assert "error: theta:" in capsys.readouterr().err


def test_a_vector_cases_job_recomputes_the_cases_expected_phi():
    from tinyreptile_ref.vectors import load_manifest, read_blob
    cid = "tinyreptile_device_round_f32/000-sine-k10"
    job = xc.job_from_case(ROOT / "vectors", cid)
    c = next(c for c in load_manifest(ROOT / "vectors")["cases"] if c["id"] == cid)
    want = read_blob(ROOT / "vectors", next(b for b in c["blobs"]
                                            if b["name"] == "phi" and b["role"] == "expected"))
    np.testing.assert_array_equal(xc.reference(job).phi.view(np.uint32), want.view(np.uint32))
    with pytest.raises(ParameterError, match="^case: no case"):
        xc.job_from_case(ROOT / "vectors", "nope/000")


@pytest.mark.skipif(not cpu_has_fma(), reason="the host CPU has no FMA")
def test_the_runners_failing_case_traced_on_the_wrong_build(progs, tmp_path, capsys):
    from tinyreptile_ref.tools.cli import main
    jp, tp = tmp_path / "case.job", tmp_path / "case.trace"
    assert main(["xcheck", "case", "model_train_step_f32/000-sine-fused", "--out", str(jp),
                 "--vectors", str(ROOT / "vectors")]) == 0
    subprocess.run([str(progs / "trace_fma"), str(jp), str(tp)], check=True, capture_output=True)
    assert main(["xcheck", str(tp)]) == 1
    assert "DIAGNOSIS: fused multiply-add contraction" in capsys.readouterr().out


def modeled(trace, culprit):
    """Per record xcheck can recompute: (key, elements the culprit reproduces, elements), from
    the device's own operands."""
    ctx = xc.Context(trace.job, trace, xc.reference(trace.job))
    out = []
    for r in trace.records:
        ev = xc.element_model(ctx, r)
        if ev is None or culprit not in ev((0,) * len(r.shape))[1]:
            continue
        ok = sum(xc.same_bits(ev(i)[1][culprit], r.data[i]) for i in np.ndindex(*r.shape))
        out.append((r.key, ok, int(np.prod(r.shape))))
    return out


@pytest.mark.parametrize("task", ["sine", "digits"])
def test_element_models_give_the_correct_builds_bits_for_every_record(progs, tmp_path, task):
    got = modeled(run_host(progs / "trace_host", xc.make_job(task, k=2), tmp_path), "plain")
    kinds = {(k[2], k[1]) for k, _, _ in got}
    assert len(kinds) >= 6  # outputs, activations, deltas, updates
    assert all(ok == n for _, ok, n in got), got


@pytest.mark.skipif(not cpu_has_fma(), reason="the host CPU has no FMA")
def test_the_fma_model_gives_the_contracting_builds_bits_for_every_record(progs, tmp_path):
    got = modeled(run_host(progs / "trace_fma", xc.make_job("sine", k=2), tmp_path), "fma")
    assert {k[2] for k, _, _ in got} == {rt.TRACE_OUT, rt.TRACE_LOSS, rt.TRACE_DOUT, rt.TRACE_W,
                                         rt.TRACE_B}
    assert all(ok == n for _, ok, n in got), got
