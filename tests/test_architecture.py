"""The structure the code promises: no import cycle, no private name used across modules (ictgis/ and web/)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"ictgis": ROOT / "ictgis", "ictgis_web": ROOT / "web"}


def modules() -> dict[str, Path]:
    """Every module of the two packages by its dotted name (``web/`` is imported as ``ictgis_web``)."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = modules()


def resolve(module: str, path: Path, level: int, name: str | None) -> str:
    """Absolute module name of a (relative) import in `module`."""
    if level == 0:
        return name or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports(module: str, path: Path) -> list[tuple[str, str | None, int, bool]]:
    """(imported module, imported name or None, line, at module level) for each import of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body} | {id(n) for node in tree.body if isinstance(node, ast.If)
                                               for n in node.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, None, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, path, node.level, node.module)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    out.append((sub, None, node.lineno, id(node) in top))
                else:
                    out.append((target, alias.name, node.lineno, id(node) in top))
    return out


def own(name: str) -> str | None:
    """The module of ours `name` is, or None (third-party)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_no_private_name_is_imported_across_modules():
    offences = []
    for module, path in MODULES.items():
        for target, name, line, _ in imports(module, path):
            if name and name.startswith("_") and not name.startswith("__") and own(target) and own(target) != module:
                offences.append(f"{path.relative_to(ROOT)}:{line}: {target}.{name}")
        # attribute access on an imported module of ours: ``io._read_csv``
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if own(alias.name) == alias.name:
                        aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                target = resolve(module, path, node.level, node.module)
                for alias in node.names:
                    if f"{target}.{alias.name}" in MODULES:
                        aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and aliases[node.value.id] != module):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
    assert offences == [], "\n".join(offences)


def cycles(*, top_level_only: bool) -> list[list[str]]:
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, _, _, at_top in imports(module, path):
            dep = own(target)
            if dep and dep != module and (at_top or not top_level_only):
                graph[module].add(dep)
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def is_package_init_edge(cycle: list[str]) -> bool:
    """A package's ``__init__`` importing its own submodules (to re-export them) is not a cycle of design."""
    return any(b.startswith(a + ".") for a, b in itertools.pairwise(cycle))


@pytest.mark.parametrize("top_level_only", [True, False], ids=["at import", "anywhere"])
def test_no_import_cycle(top_level_only):
    found = [c for c in cycles(top_level_only=top_level_only) if not is_package_init_edge(c)]
    assert found == []
