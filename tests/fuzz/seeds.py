"""Seed corpus for tests/fuzz/fuzz_manifest.c: one manifest per case of vectors/manifest.json
(plus the whole manifest's header with no case), in the committed manifest's layout.

    python3 tests/fuzz/seeds.py vectors/manifest.json build/fuzz/seeds

Standard library only (runs without the virtual environment)."""
import json
import pathlib
import sys


def main(manifest_path, out):
    m = json.loads(pathlib.Path(manifest_path).read_text(encoding="ascii"))
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    head = {k: m[k] for k in ("schema_version", "generator", "provenance")}
    for k, case in enumerate(m["cases"]):
        one = dict(head, case_count=1, cases=[case])
        (out / f"case-{k:04d}.json").write_text(json.dumps(one, indent=1) + "\n", encoding="ascii")
    (out / "empty.json").write_text(json.dumps(dict(head, case_count=0, cases=[])) + "\n",
                                    encoding="ascii")
    print(f"fuzz seeds: {len(m['cases']) + 1} manifests -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
