"""What the command-line tools share: the progress report and the run outputs (params.f32,
results.json). Below both cli.py and demo.py, so neither imports the other."""
import hashlib
import json
import os
import sys


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


def write_outputs(out, theta, results):
    """DIR/params.f32 (raw little-endian float32) and DIR/results.json."""
    os.makedirs(out, exist_ok=True)
    blob = theta.astype("<f4").tobytes()
    with open(os.path.join(out, "params.f32"), "wb") as f:
        f.write(blob)
    results = dict(results, params_f32={"bytes": len(blob),
                                        "sha256": hashlib.sha256(blob).hexdigest()})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    return results
