"""Reading _core.pyi and the compiled _core side by side, for tests/test_stub.py: the names each
holds, and the keyword names of the functions (pybind11 modules carry no signatures a tool could
read, so their docstrings are parsed). Not imported by the runtime."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType

from tinyfq_native import _core

STUB = Path(__file__).resolve().with_name("_core.pyi")


def stub_names() -> dict[str, set[str] | None]:
    """Top-level name -> its members (classes) or None (functions, constants)."""
    out: dict[str, set[str] | None] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.ClassDef):
            members: set[str] = set()
            for n in node.body:
                if isinstance(n, ast.FunctionDef):
                    members.add(n.name)
                elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
                    members.add(n.target.id)
                elif isinstance(n, ast.Assign):
                    members |= {t.id for t in n.targets if isinstance(t, ast.Name)}
            out[node.name] = {m for m in members if not m.startswith("_")}
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = None
    return out


def stub_params() -> dict[str, list[str]]:
    """Module function (or Class.method) -> its parameter names in the stub."""
    out: dict[str, list[str]] = {}
    tree = ast.parse(STUB.read_text())
    for node in tree.body:
        fns = (
            [(node.name, node)]
            if isinstance(node, ast.FunctionDef)
            else [(f"{node.name}.{f.name}", f) for f in node.body if isinstance(f, ast.FunctionDef)]
            if isinstance(node, ast.ClassDef)
            else []
        )
        for name, f in fns:
            out.setdefault(name, [])
            names = [a.arg for a in f.args.args + f.args.kwonlyargs if a.arg != "self"]
            out[name] = sorted(set(out[name]) | set(names))
    return out


def module_names() -> dict[str, set[str] | None]:
    out: dict[str, set[str] | None] = {}
    for name, obj in vars(_core).items():
        if name.startswith("_"):
            continue
        if inspect.isclass(obj):
            members = {m for m in vars(obj) if not m.startswith("_")}
            if hasattr(obj, "__members__"):  # a pybind11 enum
                members = (members | set(obj.__members__)) - {"name", "value"}
            out[name] = members
        else:
            out[name] = None
    return out


def top_level(args: str) -> list[str]:
    """Split a signature's arguments at the commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in args:
        depth += ch in "[(" and 1 or (ch in "])" and -1 or 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def module() -> ModuleType:
    """The compiled module the stub describes."""
    return _core
