"""What the command-line tools share: the progress report and the run outputs (params.f32,
results.json). Below both cli.py and demo.py, so neither imports the other."""
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile

from .._version import __version__
from ..errors import ParameterError


def progress_reporter(total, desc, quiet=False):
    """A progress callback and a closer: tqdm when it is installed, else a plain line."""
    if quiet:
        return None, lambda: None
    try:
        from tqdm import tqdm
    except ImportError:
        state = {"last": -1}

        def plain(done):
            pct = 100 * done // total
            if pct // 10 != state["last"] // 10 or done == total:
                state["last"] = pct
                print(f"\r{desc}: {pct:3d}% ({done}/{total} rounds)", end="",
                      file=sys.stderr, flush=True)
        return plain, lambda: print(file=sys.stderr)
    bar = tqdm(total=total, desc=desc, unit="round", mininterval=0.5, file=sys.stderr)
    state = {"n": 0}

    def update(done):
        if done - state["n"] >= 50 or done == total:
            bar.update(done - state["n"])
            state["n"] = done
    return update, bar.close


def check_out_dir(out, name="--out"):
    """Refuse an output directory that cannot be written, before any work starts: "", an
    existing non-directory, a path below a file, or a directory (or, when it is missing, its
    nearest existing parent) that this process may not write. Returns the path."""
    if not isinstance(out, str) or not out:
        raise ParameterError(f"{name}: an output directory is needed, got {out!r}")
    path = os.path.abspath(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ParameterError(f"{name}: {out} exists and is not a directory")
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ParameterError(f"{name}: {out} lies below {probe}, which is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ParameterError(f"{name}: {probe} is not writable")
    return out


def _stage(path, data):
    """A temporary file beside `path` holding `data`, flushed to disk; its name."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".",
                               prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path, data):
    """Write bytes to `path` atomically: a temporary file in the same directory, flushed to
    disk, then renamed over `path` (os.replace). A failure or an interrupt before the rename
    removes the temporary file and leaves `path` as it was."""
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _no_sigint():
    """Hold SIGINT back (delivered when the block ends) around a sequence of renames."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def git_commit():
    """The commit of the git checkout the package runs from, or None (not a checkout, git
    missing or failing)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        r = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = r.stdout.strip()
    return commit if r.returncode == 0 and len(commit) == 40 else None


def provenance():
    """What made a run: the package version and, from a git checkout, the commit."""
    return {"version": __version__, "git_commit": git_commit()}


def write_outputs(out, theta, results):
    """DIR/params.f32 (raw little-endian float32) and DIR/results.json, which records
    params.f32's size and SHA-256 and the package's provenance.

    Both files are written to temporary files in DIR first; only when both are complete are
    they renamed into place, params.f32 first and results.json last, with SIGINT held back
    in between; if the second rename fails, the previous params.f32 (kept as a hard link) is
    put back. So a failure leaves the previous run untouched, and results.json is the commit
    record: once a reader sees the new one, the params.f32 it describes is in place. Only a
    crash of the machine between the two renames can leave a new params.f32 beside the
    previous results.json, and the SHA-256 in results.json tells a reader so."""
    os.makedirs(out, exist_ok=True)
    blob = theta.astype("<f4").tobytes()
    results = dict(results, params_f32={"bytes": len(blob),
                                        "sha256": hashlib.sha256(blob).hexdigest()},
                   provenance=provenance())
    text = (json.dumps(results, indent=1) + "\n").encode()
    staged = []
    try:
        for name, data in (("params.f32", blob), ("results.json", text)):
            staged.append(_stage(os.path.join(out, name), data))
        params = os.path.join(out, "params.f32")
        backup = _backup(params)
        if backup:
            staged.append(backup)
        with _no_sigint():
            os.replace(staged[0], params)
            try:
                os.replace(staged[1], os.path.join(out, "results.json"))
            except BaseException:
                if backup:  # put the previous params.f32 back beside the previous results
                    os.replace(backup, params)
                raise
    finally:
        for tmp in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return results


def _backup(path):
    """A hard link to an existing `path` under a temporary name (None if there is no file or
    the file system has no hard links), so a failed commit can restore it."""
    if not os.path.isfile(path):
        return None
    tmp = path + f".{os.getpid()}.bak.tmp"
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(tmp))
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.link(path, tmp)
    except OSError:
        return None
    return tmp
