"""The house rules of the package, read from its source with the standard library's ``ast``.

No import cycle (imports inside functions count; imports only for type checkers do not), no
private name imported across modules, no module importing the package root, module sizes, names
that explain themselves, and the public API of ``directorsync/__init__.py``.
"""

from __future__ import annotations

import ast
import importlib
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "directorsync"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every import statement, except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for s in node.orelse for n in _imports_of(s))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif not (isinstance(node, ast.If) and _is_type_checking(node)):
        yield from _imports(node)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) pairs of one import statement."""
    if isinstance(node, ast.Import):
        return [(alias.name, None) for alias in node.names]
    base = _absolute(module, node)
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append((sub, None) if sub in MODULES else (base, alias.name))
    return out


def _graph() -> dict[str, set[str]]:
    """Module → the package modules it imports.

    A module's own ancestors are not edges: they are imported before it, whatever it says.
    """
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target, _name in _targets(module, node):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    if dep in MODULES and dep != module and not module.startswith(dep + "."):
                        edges[module].add(dep)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted({*edges, *(w for ws in edges.values() for w in ws)}):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_no_private_name_is_imported_across_modules():
    found = []
    for module, path in MODULES.items():
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            for target, name in _targets(module, node):
                leaf = name or target.rpartition(".")[2]
                if (
                    target.startswith("directorsync")
                    and leaf.startswith("_")
                    and leaf != "__version__"
                ):
                    found.append(f"{module}: {target} {name or ''}".strip())
    assert found == []


def test_no_module_imports_the_package_root():
    """``directorsync/__init__.py`` is the public API and imports the package lazily.

    A module that imported it would import the whole API, and a cycle with it.
    """
    found = []
    for module, path in MODULES.items():
        if module == "directorsync":
            continue
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target, name in _targets(module, node):
                if target == "directorsync" and name is not None:
                    found.append(f"{module}: from directorsync import {name}")
    assert found == []


def test_module_sizes():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > 600} == {}
    assert statistics.median(sizes.values()) <= 200


def test_names_explain_themselves():
    names = defaultdict(list)
    for module, path in MODULES.items():
        if path.name not in ("__init__.py", "__main__.py"):
            names[path.stem].append(module)
        assert not path.stem.endswith(("_helpers", "_utils", "_misc")), module
        assert path.stem not in ("helpers", "utils", "misc", "gcpause"), module
    # a package's name counts too: no module may share the name of a subpackage
    for module, path in MODULES.items():
        if path.name == "__init__.py" and module != "directorsync":
            names[module.rpartition(".")[2]].append(module)
    assert {n: ms for n, ms in names.items() if len(ms) > 1} == {}


#: builtins a method must not shadow inside its class (``filter`` is logging's API, kept)
SHADOWED = ("list", "dict", "set", "type", "map")


def test_no_method_shadows_a_builtin_inside_its_class():
    shadowing = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name in SHADOWED:
                        shadowing.append(f"{module}.{node.name}.{item.name}")
    assert shadowing == []


def test_public_api():
    import directorsync

    assert directorsync.__all__ == ["__version__", *sorted(directorsync.API)]
    for name in directorsync.API:
        value = getattr(directorsync, name)
        assert getattr(importlib.import_module(directorsync.API[name]), name) is value
    assert set(directorsync.__all__) <= set(dir(directorsync))
    with pytest.raises(AttributeError):
        directorsync.no_such_name  # noqa: B018


def test_type_checking_names_match_the_api():
    """The ``TYPE_CHECKING`` block names exactly the API, from the same modules."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and _is_type_checking(n))
    declared = {
        a.name: n.module for n in block.body if isinstance(n, ast.ImportFrom) for a in n.names
    }
    import directorsync

    assert declared == directorsync.API
