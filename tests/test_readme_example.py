"""The README's "Property-test your own kernel" example, as written there: it passes on the C
kernel it shows, and hypothesis finds each deliberately wrong version of that kernel (the sum
in reverse; fmaf, one rounding of the whole multiply-add, as contraction gives)."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")


def example():
    text = (ROOT / "README.md").read_text()
    sec = text.split("## Property-test your own kernel", 1)[1].split("\n## ", 1)[0]
    c = re.search(r"```c\n(.*?)```", sec, re.S).group(1)
    py = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    return c, py


LOOP = "for (int i = 0; i < I; i++) {"
MAC = "acc += w[o * I + i] * x[n * I + i];"
WRONG = {
    "reversed": (LOOP, "for (int i = I - 1; i >= 0; i--) {"),
    "fma": (MAC, "acc = fmaf(w[o * I + i], x[n * I + i], acc);"),
}


def run_example(tmp_path, csrc):
    src = tmp_path / "my_dense.c"
    src.write_text(("#include <math.h>\n" if "fmaf" in csrc else "") + csrc)
    lib = tmp_path / "libmy_dense.so"
    subprocess.run(["cc", "-std=c99", "-O2", "-ffp-contract=off", "-shared", "-fPIC", str(src),
                    "-o", str(lib), "-lm"], check=True)
    _, py = example()
    ns = {}
    old = os.environ.get("MY_DENSE_LIB")
    os.environ["MY_DENSE_LIB"] = str(lib)
    try:
        exec(compile(py, "test_my_dense.py", "exec"), ns)
    finally:
        if old is None:
            del os.environ["MY_DENSE_LIB"]
        else:
            os.environ["MY_DENSE_LIB"] = old
    ns["test_my_dense_has_the_reference_bits"]()


def test_readme_example_passes_on_its_kernel(tmp_path):
    c, _ = example()
    run_example(tmp_path, c)


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_readme_example_finds_a_wrong_kernel(tmp_path, wrong):
    c, _ = example()
    old, new = WRONG[wrong]
    assert old in c
    with pytest.raises(AssertionError, match=r"y: \d+ of \d+ values differ; first at "
                       r"y\[\d+\]\[\d+\]: got 0x[0-9a-f]{8} \(.*\), expected 0x[0-9a-f]{8} "
                       r"\(.*\)"):
        run_example(tmp_path, c.replace(old, new))
