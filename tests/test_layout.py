"""The package's folders are its layers: no module imports in a circle, a lower layer never
imports a higher one, and every C source of the library has its NumPy twin by stem."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / "tinyreptile_ref"

#: Bottom to top. A module may import its own layer and the layers below it, never above.
#: The package root (__init__, __main__) and testing.py are the public face: they sit on top.
LAYERS = ("_version", "errors", "clib", "kernels", "runtime", "backend", "federated", "vectors", "tools")
FACE = ("__init__", "__main__", "testing")

#: C files without a twin of the same stem, and why: status.c is the status table (the twins
#: raise its codes as exceptions, errors.py);
#: federated.c's reference is the readable Python loop of federated/algorithms.py (a higher
#: layer), compared bitwise in tests/test_federated.py
NO_TWIN = {"status", "federated"}


def module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports_of(name, path):
    """The package modules that `name` imports (relative and absolute), resolved to modules."""
    mods = modules()
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" for a in node.names] + [mod]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("tinyreptile_ref"):
                found.add(t)
                break
    return found


def layer_of(name):
    parts = name.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def graph():
    return {n: imports_of(n, p) for n, p in modules().items()}


def find_cycle(g):
    """One import circle of graph g (module -> imported modules) as a list, or None."""
    state = {}

    def visit(n, stack):
        state[n] = "open"
        for m in sorted(g.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m, stack + [m])
                if c:
                    return c
        state[n] = "done"
        return None

    for n in sorted(g):
        if n not in state:
            c = visit(n, [n])
            if c:
                return c
    return None


def upward_imports(g):
    """The edges of g that go from a layer to a higher one (or into the public face)."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    bad = []
    for n, deps in g.items():
        ln = layer_of(n)
        if ln in FACE:
            continue
        assert ln in rank, f"{n}: folder {ln!r} is not a layer; add it to LAYERS"
        for d in deps:
            ld = layer_of(d)
            if ld in FACE or rank[ld] > rank[ln]:
                bad.append(f"{n} ({ln}) imports {d} ({ld})")
    return bad


def test_no_module_imports_in_a_circle():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_a_lower_layer_never_imports_a_higher_one():
    bad = upward_imports(graph())
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_every_library_source_has_its_twin_by_stem():
    twins = {p.stem for p in (PKG / "kernels").glob("*.py")} | {p.stem for p in (PKG / "runtime").glob("*.py")}
    missing = [p.name for p in (ROOT / "csrc").glob("*.c") if p.stem not in twins | NO_TWIN]
    assert not missing, f"C files without a NumPy twin of the same stem: {missing}"


def test_the_checks_see_a_circle_and_an_upward_import():
    g = graph()
    assert "tinyreptile_ref.kernels._checks" in g["tinyreptile_ref.kernels.dense"]  # resolution works
    g["tinyreptile_ref.errors"] = {"tinyreptile_ref.kernels.dense"}
    assert find_cycle(g) is not None  # dense -> _checks -> errors -> dense
    assert any(b.startswith("tinyreptile_ref.errors (errors)") for b in upward_imports(g))
    g = {"tinyreptile_ref.kernels.dense": {"tinyreptile_ref.tools.cli"}}
    assert upward_imports(g) == ["tinyreptile_ref.kernels.dense (kernels) imports "
                                 "tinyreptile_ref.tools.cli (tools)"]
