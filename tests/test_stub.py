"""_core.pyi says what the compiled module holds: every public function, class, method and
property on either side is on the other, and functions take the keyword names the stub gives."""

from __future__ import annotations

import re

from tinyfq_native._stubcheck import (
    module,
    module_names,
    stub_names,
    stub_params,
    top_level,
)


def test_the_stub_and_the_module_hold_the_same_names():
    stub, mod = stub_names(), module_names()
    assert len(mod) > 10 and "Scorer" in stub and "Scorer" in mod
    assert sorted(set(mod) - set(stub)) == [], "in _core but not in _core.pyi"
    assert sorted(set(stub) - set(mod)) == [], "in _core.pyi but not in _core"
    for name, members in mod.items():
        if members is not None:
            ours = stub[name] or set()
            assert sorted(members - ours) == [], f"{name}: in _core, not in the stub"
            assert sorted(ours - members - {"name", "value"}) == [], f"{name}: only in the stub"


def test_keyword_names_match_the_docstrings():
    """pybind11 writes each overload's signature into the docstring: name(arg: type = ...)."""
    sig = re.compile(r"^(?:\d+\. )?(\w+)\((.*)\) ->", re.M)
    for qual, params in stub_params().items():
        obj = module()
        for part in qual.split("."):
            obj = getattr(obj, part)
        doc = obj.__doc__ or ""
        found: set[str] = set()
        for m in sig.finditer(doc):
            found |= {
                a.split(":")[0].strip().lstrip("*")
                for a in top_level(m.group(2))
                if a.strip() and a.strip() not in ("self", "*")
            }
        found.discard("self")
        if found:  # properties and static attributes have no signature
            assert sorted(found) == params, f"{qual}: module {sorted(found)}, stub {params}"
