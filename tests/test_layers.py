"""The import arrows go one way: core <- bindings <- API <- CLI, with training and evaluation
above the API (through its public names) and nothing in the runtime importing them. Read from
the source with ``ast``, so a wrong arrow fails here before it ships. And no source file grows
past 450 lines (issue 24): one that does is split by responsibility."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

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


# --- size: no source file over MAX_LINES lines (issue 24) ---------------------------------------

MAX_LINES = 450
SOURCE_SUFFIXES = (".py", ".cpp", ".h", ".inl", ".hpp", ".sh", ".cmake")
#: Source files allowed over MAX_LINES for now, each with its reason. Remove an entry once its
#: file is split: the test fails on an entry that is no longer needed.
ALLOWED_LONG: dict[str, str] = {}


def is_source(name: str) -> bool:
    """A tracked path that counts: source by its suffix (or a CMakeLists.txt), not in a data
    folder (test fixtures and generated tables are data, whatever their suffix)."""
    path = Path(name)
    if "data" in path.parts[:-1]:
        return False
    return path.name == "CMakeLists.txt" or path.name.endswith(SOURCE_SUFFIXES)


def tracked_sources() -> list[str]:
    """The git-tracked source files, relative to the repository (skips outside a checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"not a git checkout, the tracked files are unknown: {e}")
    names = out.decode("utf-8", "surrogateescape").split("\0")
    return sorted(n for n in names if n and is_source(n))


def line_count(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def long_files(root: Path, names: list[str], limit: int = MAX_LINES) -> dict[str, int]:
    """Each of ``names`` (under ``root``) over ``limit`` lines -> its line count; a tracked file
    deleted in the working tree is not counted."""
    counts = {n: line_count(root / n) for n in names if (root / n).is_file()}
    return {n: c for n, c in counts.items() if c > limit}


def test_no_source_file_is_over_450_lines():
    over = long_files(REPO, tracked_sources())
    new = {n: c for n, c in over.items() if n not in ALLOWED_LONG}
    assert not new, (
        f"{len(new)} git-tracked source file(s) over {MAX_LINES} lines (issue 24); split each "
        "by responsibility (a module per concern, tests per family with shared helpers):\n"
        + "\n".join(f"  {n}: {c} lines" for n, c in sorted(new.items()))
    )
    stale = sorted(n for n in ALLOWED_LONG if n not in over)
    assert not stale, (
        f"no longer over {MAX_LINES} lines (or gone): remove from ALLOWED_LONG in "
        "tests/test_layers.py:\n" + "\n".join(f"  {n}" for n in stale)
    )


def test_the_size_check_sees_a_long_file(tmp_path):
    (tmp_path / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "at_limit.cpp").write_text("//\n" * MAX_LINES)
    (tmp_path / "no_newline.sh").write_text("echo\n" * MAX_LINES + "echo")
    names = ["long.py", "at_limit.cpp", "no_newline.sh", "deleted.py"]
    assert long_files(tmp_path, names) == {"long.py": MAX_LINES + 1, "no_newline.sh": MAX_LINES + 1}
    assert is_source("cpp/CMakeLists.txt") and is_source("cmake/TinyfqJpeg.cmake")
    assert is_source("facedata/degrade.py") and not is_source("tests/data/make_faces.py")
    assert not is_source("docs/index.md") and not is_source("tests/data/golden.csv")
