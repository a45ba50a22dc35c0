"""python -m tinyreptile_ref.vectors [generate|check|embed] ... ; see __init__.py.

Every failure is one line on stderr, "vectors: error: <file>: <what>", and exit status 2
(argparse's usage errors too); never a traceback."""
import argparse
import collections
import os
import pathlib
import sys
import time

from . import check, generate
from .embed import write_c
from .format import VectorFormatError

#: The exit status of every error.
EXIT_ERROR = 2


def _out_file(text):
    """--out of embed: a file path whose directory exists or can be made, not a directory."""
    if not text:
        raise VectorFormatError("--out is empty", "''")
    out = pathlib.Path(text)
    if out.is_dir():
        raise VectorFormatError("is a directory, --out needs a file", text)
    if os.path.lexists(out) and not out.is_file():
        raise VectorFormatError("exists and is not a regular file", text)
    for parent in out.parents:
        if os.path.lexists(parent) and not parent.is_dir():
            raise VectorFormatError(f"{parent} is not a directory", text)
    return out


def _out_dir(text):
    """--out of generate: a directory (made when missing), not a file."""
    if not text:
        raise VectorFormatError("--out is empty", "''")
    out = pathlib.Path(text)
    if os.path.lexists(out) and not out.is_dir():
        raise VectorFormatError("exists and is not a directory", text)
    for parent in out.parents:
        if os.path.lexists(parent) and not parent.is_dir():
            raise VectorFormatError(f"{parent} is not a directory", text)
    return out


def _run(args):
    cmd = args.cmd or "generate"
    if cmd == "generate":
        out = _out_dir(getattr(args, "out", "vectors"))
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        manifest = generate(out)
        check(out)
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
        out = _out_file(args.out)
        kernels = [k for k in args.kernels.split(",") if k]
        n = write_c(args.dir, out, kernels)
        print(f"vectors: embedded {n} cases -> {out}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"vectors: error: command line: {message}", file=sys.stderr)
        sys.exit(EXIT_ERROR)


def main(argv=None):
    p = _Parser(prog="python -m tinyreptile_ref.vectors",
                description="Generate, check or embed the golden test vectors.")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    g = sub.add_parser("generate", help="write every case (the default command)")
    g.add_argument("--out", default="vectors", help="vectors directory (default: vectors)")
    c = sub.add_parser("check", help="validate a vectors directory: schema, files, sha256")
    c.add_argument("dir", nargs="?", default="vectors")
    e = sub.add_parser("embed", help="write a C source with the vectors as const arrays")
    e.add_argument("dir", nargs="?", default="vectors")
    e.add_argument("--out", required=True, help="the .c file to write")
    e.add_argument("--kernels", default="", help="comma-separated kernels to keep (default: all)")
    args = p.parse_args(argv)
    where = getattr(args, "dir", None) or getattr(args, "out", None) or "vectors"
    try:
        _run(args)
    except VectorFormatError as exc:
        print(f"vectors: error: {exc.at(where)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"vectors: error: {exc.filename or where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("vectors: error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
