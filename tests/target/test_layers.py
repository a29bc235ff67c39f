"""target_app's imports go one way: no import cycle, and of loadgen only the pure protocol core.

Every import counts - TYPE_CHECKING ones and those inside functions too - read from the source with
``ast``, so the test sees what a reader sees, not only what happens to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import target_app

PACKAGE = Path(target_app.__file__).parent


def module_name(path: Path) -> str:
    parts = ["target_app", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names (relative ones resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def graph() -> dict[str, set[str]]:
    """target_app module -> the target_app modules it imports (names resolved to modules)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = set()
        for imp in imported(path):
            parts = imp.split(".")
            while parts and ".".join(parts) not in paths:
                parts.pop()
            if parts and ".".join(parts) != name:
                targets.add(".".join(parts))
        edges[name] = targets
    return edges


def a_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the path around it, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_is_read_from_every_module() -> None:
    """The parser sees the package (so the checks below cannot pass on an empty graph)."""
    edges = graph()
    assert "target_app.connection" in edges["target_app.app"]
    assert "target_app.context" in edges["target_app.jobs"]
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b"}, "b": set()}) is None


def test_target_app_has_no_import_cycle() -> None:
    assert a_cycle(graph()) is None


def test_target_app_imports_of_loadgen_only_the_protocol_core() -> None:
    wrong = sorted(
        f"{module_name(path)} -> {imp}"
        for path in PACKAGE.rglob("*.py") for imp in imported(path)
        if imp.split(".")[0] == "loadgen" and imp != "loadgen"
        and not imp.startswith("loadgen.protocol")
    )
    assert wrong == []


def test_the_worker_context_is_a_leaf() -> None:
    """What every part is handed imports none of the parts (nor anything above them)."""
    assert graph()["target_app.context"] <= {
        "target_app.config", "target_app.ids", "target_app.metrics", "target_app.tasks",
    }
