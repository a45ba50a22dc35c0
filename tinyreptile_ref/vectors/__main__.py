"""python -m tinyreptile_ref.vectors [generate|check|embed] ... ; see __init__.py."""
import argparse
import collections
import pathlib
import sys
import time

from . import check, generate
from .embed import write_c
from .format import VectorFormatError


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tinyreptile_ref.vectors",
                                description="Generate, check or embed the golden test vectors.")
    sub = p.add_subparsers(dest="cmd")
    g = sub.add_parser("generate", help="write every case (the default command)")
    g.add_argument("--out", default="vectors", help="vectors directory (default: vectors)")
    c = sub.add_parser("check", help="validate a vectors directory: schema, files, sha256")
    c.add_argument("dir", nargs="?", default="vectors")
    e = sub.add_parser("embed", help="write a C source with the vectors as const arrays")
    e.add_argument("dir", nargs="?", default="vectors")
    e.add_argument("--out", required=True, help="the .c file to write")
    e.add_argument("--kernels", default="", help="comma-separated kernels to keep (default: all)")
    args = p.parse_args(argv)
    cmd = args.cmd or "generate"
    try:
        if cmd == "generate":
            out = pathlib.Path(getattr(args, "out", "vectors"))
            out.mkdir(parents=True, exist_ok=True)
            schema = out / "schema.json"
            if not schema.exists():  # a scratch directory: use the repository's schema
                schema = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "schema.json"
            t0 = time.perf_counter()
            manifest = generate(out)
            check(out, schema)
            per = collections.Counter(c["kernel"] for c in manifest["cases"])
            size = sum(f.stat().st_size for f in (out / "blobs").rglob("*.bin"))
            print(f"vectors: {len(manifest['cases'])} cases, {size} bytes of blobs, "
                  f"{time.perf_counter() - t0:.1f} s -> {out}")
            for k, n in per.items():
                print(f"  {k:28s} {n:4d}")
        elif cmd == "check":
            manifest = check(args.dir)
            print(f"vectors: {len(manifest['cases'])} cases in {args.dir}: schema, files and sha256 valid")
        else:
            kernels = [k for k in args.kernels.split(",") if k]
            n = write_c(args.dir, args.out, kernels)
            print(f"vectors: embedded {n} cases -> {args.out}")
    except VectorFormatError as exc:
        print(f"vectors: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
