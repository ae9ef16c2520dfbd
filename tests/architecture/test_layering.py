"""The package map holds: stages import each other in one direction only, settings are read in one place.

Imports inside functions count: a lazy import is still a dependency, and cycles hidden in
functions are how the seams between stages tangled before.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import sentinel

PACKAGE = Path(sentinel.__file__).parent


def _unit(path: Path) -> str:
    """The top-level unit of a module: a subpackage name or a top-level module name."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(source: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names imported from it) for every absolute import of ``source``, in functions too."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []


def _dependencies() -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> the modules that import it."""
    deps: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        for _, module, imported in _imports(path.read_text(encoding="utf-8")):
            for name in [module, *(f"{module}.{n}" for n in imported)]:
                parts = name.split(".")
                if (
                    parts[0] == "sentinel"
                    and len(parts) > 1
                    and ((PACKAGE / parts[1]).exists() or (PACKAGE / f"{parts[1]}.py").exists())
                    and parts[1] != unit
                ):
                    deps[unit][parts[1]].add(str(path.relative_to(PACKAGE)))
    return deps


def _cycle(deps: dict[str, dict[str, set[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = 1
        stack.append(unit)
        for nxt in sorted(deps.get(unit, {})):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[unit] = 2
        return None

    for unit in sorted(deps):
        if unit not in state and (found := visit(unit)):
            return found
    return None


def test_packages_import_each_other_without_a_cycle() -> None:
    deps = _dependencies()
    cycle = _cycle(deps)
    if cycle:
        links = [f"{a} -> {b} (in {', '.join(sorted(deps[a][b]))})" for a, b in itertools.pairwise(cycle)]
        raise AssertionError("import cycle between packages:\n  " + "\n  ".join(links))


def test_the_cycle_check_finds_a_planted_cycle() -> None:
    planted = {"a": {"b": {"a/x.py"}}, "b": {"c": {"b/y.py"}}, "c": {"a": {"c/z.py"}}}
    assert _cycle(planted) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": {"a/x.py"}}, "b": {}}) is None


def test_lower_stages_do_not_import_the_layers_above_them() -> None:
    """Sources know nothing of the spine; nothing below the entry points imports the API or the CLI."""
    deps = _dependencies()
    assert not set(deps["collect"]) & {"ingest", "api", "cli", "respond", "policy", "detect", "store"}
    for unit, targets in deps.items():
        if unit not in ("api", "cli"):
            assert "cli" not in targets, (unit, targets["cli"])
            if unit != "runtime":
                assert "api" not in targets, (unit, targets["api"])


def test_settings_variables_are_read_in_the_settings_module_only() -> None:
    """``SENTINEL_*`` names and the process environment belong to ``sentinel/config.py`` alone."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            if "SENTINEL_" in line or "os.environ" in line or "getenv(" in line:
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _packages() -> list[str]:
    return sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())


def _reaching_inside(source: str, rel: str) -> list[str]:
    """Imports in module ``rel`` of another package's modules (``sentinel.store.sqlite``), not the package."""
    unit = rel.split("/")[0].removesuffix(".py")
    found = []
    for lineno, module, _ in _imports(source):
        parts = module.split(".")
        if parts[0] == "sentinel" and len(parts) > 2 and parts[1] != unit:
            found.append(f"{rel}:{lineno}: {module}")
    return found


def test_packages_are_imported_through_their_public_names() -> None:
    """Another package's names come from the package (its ``__all__``), never from its modules."""
    offenders = [
        line
        for path in PACKAGE.rglob("*.py")
        for line in _reaching_inside(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix())
    ]
    assert not offenders, "import these names through their package:\n  " + "\n  ".join(offenders)


def test_the_import_check_finds_a_planted_reach_inside() -> None:
    planted = "from sentinel.store.sqlite import SQLiteStore\nfrom sentinel.store import Store\n"
    assert _reaching_inside(planted, "ingest/x.py") == ["ingest/x.py:1: sentinel.store.sqlite"]
    assert _reaching_inside(planted, "store/x.py") == []


def test_every_public_name_resolves_to_the_module_that_defines_it() -> None:
    """``__all__`` is true: each name loads, lives where the table says, and is not shadowed by a module."""
    import importlib
    import inspect

    for name in _packages():
        package = importlib.import_module(f"sentinel.{name}")
        exports = getattr(package, "_EXPORTS", {})
        assert set(exports) <= set(package.__all__), name
        modules = {p.stem for p in (PACKAGE / name).iterdir()}
        assert not set(package.__all__) & modules, f"sentinel.{name}: a public name is also a module's name"
        for public, module in exports.items():
            value = getattr(package, public)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__module__ == f"sentinel.{name}.{module}", (name, public, value.__module__)
