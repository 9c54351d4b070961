"""The import arrows go one way: core <- bindings <- API <- CLI, with training and evaluation
above the API (through its public names) and nothing in the runtime importing them. Read from
the source with ``ast``, so a wrong arrow fails here before it ships."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "python" / "tinyfq_native"
RESEARCH = ("training", "evaluation", "facedata")


def imports(path: Path) -> set[str]:
    """Every module a file imports (``from a import b`` gives a and a.b), at any depth,
    including code held in strings that tests run in child interpreters is not counted."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def files(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((REPO / f).rglob("*.py")) if "build" not in p.parts]


def top(mod: str) -> str:
    return mod.split(".")[0]


def test_runtime_never_imports_research_code():
    bad = {
        str(p.relative_to(REPO)): sorted(m for m in imports(p) if top(m) in RESEARCH)
        for p in PACKAGE.rglob("*.py")
    }
    assert not {k: v for k, v in bad.items() if v}


def test_api_does_not_import_the_cli():
    bad = [
        p.name
        for p in PACKAGE.glob("*.py")
        if any(m == "tinyfq_native.cli" or m.startswith("tinyfq_native.cli.") for m in imports(p))
    ]
    assert not bad


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Package module -> the package modules it imports (at any depth, TYPE_CHECKING too)."""
    mods = {module_of(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in imports(p) if i in mods and i != m} for m, p in mods.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (a package importing its own submodules through its
    ``__init__`` is not one: ``a`` -> ``a.b`` is how a package exposes ``b``)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if n.startswith(m + "."):
                continue
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_circle_in_the_package():
    graph = import_graph()
    # the package root only re-exports; its modules import their siblings directly
    graph = {m: {n for n in ns if n != "tinyfq_native"} for m, ns in graph.items()}
    assert "tinyfq_native.engine" in graph and "tinyfq_native._scorer" in graph
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_circle_finder_finds_a_circle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_only_the_package_imports_the_bindings():
    outside = files("tests", "bench", "training", "evaluation", "facedata", "scripts")
    bad = [
        str(p.relative_to(REPO))
        for p in outside
        if any(
            m == "tinyfq_native._core" or m.startswith("tinyfq_native._core.") for m in imports(p)
        )
    ]
    assert not bad


def test_runtime_tests_do_not_import_training_or_evaluation():
    bad = {
        str(p.relative_to(REPO)): sorted(m for m in imports(p) if top(m) in RESEARCH)
        for p in files("tests")
    }
    assert not {k: v for k, v in bad.items() if v}


def test_research_layers_stay_apart():
    """facedata is shared below both; training and evaluation do not import each other."""
    for folder, banned in (
        ("facedata", ("training", "evaluation")),
        ("training", ("evaluation",)),
        ("evaluation", ("training",)),
    ):
        bad = {
            str(p.relative_to(REPO)): sorted(m for m in imports(p) if top(m) in banned)
            for p in files(folder)
        }
        assert not {k: v for k, v in bad.items() if v}, folder


def test_the_native_core_knows_nothing_of_python():
    for p in sorted((REPO / "cpp").rglob("*")):
        if p.suffix in (".h", ".cpp", ".inl", ".hpp"):
            text = p.read_text(errors="replace")
            assert "pybind11" not in text and "Python.h" not in text, p


def test_the_checker_sees_a_wrong_arrow(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from training.sample import landmarks_of\n")
    assert "training.sample" in imports(f)
