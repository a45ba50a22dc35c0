#!/usr/bin/env python3
"""Assemble the Arduino library (1.5 format) from the repository, which keeps the C library in
csrc/ (CMake, PlatformIO and the Python package read it there):

    python3 arduino/make_library.py OUT_DIR [--zip]

writes OUT_DIR/tinyreptile/ with library.properties (arduino/), src/ (every csrc/*.c and
*.h), examples/ (arduino/examples/), and LICENSE and README.md when present; with --zip also
OUT_DIR/tinyreptile-VERSION.zip, for the Arduino IDE's "Add .ZIP Library". The folder is made
anew each time, so it holds exactly the current sources.
"""
import argparse
import pathlib
import re
import shutil
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAME = "tinyreptile"


def library_files():
    """{path inside the library folder: source path}, sorted."""
    files = {"library.properties": ROOT / "arduino" / "library.properties"}
    for src in sorted((ROOT / "csrc").iterdir()):
        if src.suffix in (".c", ".h"):
            files[f"src/{src.name}"] = src
    for src in sorted((ROOT / "arduino" / "examples").rglob("*")):
        if src.is_file():
            files[f"examples/{src.relative_to(ROOT / 'arduino' / 'examples').as_posix()}"] = src
    for extra in ("LICENSE", "README.md"):
        if (ROOT / extra).is_file():
            files[extra] = ROOT / extra
    return files


def version():
    text = (ROOT / "arduino" / "library.properties").read_text(encoding="utf-8")
    m = re.search(r"^version=(\S+)$", text, re.M)
    if not m:
        raise SystemExit("make_library.py: arduino/library.properties has no version= line")
    return m.group(1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--zip", action="store_true")
    args = ap.parse_args(argv)
    lib = pathlib.Path(args.out_dir) / NAME
    if lib.exists():
        shutil.rmtree(lib)
    files = library_files()
    for rel, src in files.items():
        dst = lib / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    print(f"{lib}: {sum(r.startswith('src/') for r in files)} library sources, "
          f"{sum(r.startswith('examples/') for r in files)} example files")
    if args.zip:
        z = pathlib.Path(args.out_dir) / f"{NAME}-{version()}.zip"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
            for rel in files:
                f.write(lib / rel, f"{NAME}/{rel}")
        print(f"{z}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
