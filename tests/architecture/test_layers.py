"""The dependency rules of the layout (README, "Layout"), checked on the source itself.

- ``loadgen.protocol`` is the shared pure core: it imports nothing else of the project.
- ``target_app`` may import ``loadgen.protocol`` and nothing else of ``loadgen``.
- ``loadgen`` never imports ``target_app``, except ``wsrace serve``'s hand-over.
- ``scenarios`` build on ``loadgen`` and never import ``target_app``.
- No import cycle anywhere, and no module much over 500 lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.imports import build_graph, cycles, find_modules, imported_names

ROOT = Path(__file__).resolve().parents[2]
SERVE_HANDOVER = {"loadgen.commands.serve"}
MAX_LINES = 550  # "about 500": a module past this has more than one job


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every edge that goes the wrong way, as 'importer -> imported: rule'."""
    out = []
    for importer, targets in sorted(graph.items()):
        top = importer.split(".")[0]
        for target in sorted(targets):
            ttop = target.split(".")[0]
            in_core = target == "loadgen.protocol" or target.startswith("loadgen.protocol.")
            if importer.startswith("loadgen.protocol") and not in_core:
                out.append(f"{importer} -> {target}: the protocol core imports nothing else of the project")
            elif top == "target_app" and ttop == "loadgen" and not in_core:
                out.append(f"{importer} -> {target}: target_app may import only loadgen.protocol")
            elif top == "loadgen" and ttop == "target_app" and importer not in SERVE_HANDOVER:
                out.append(f"{importer} -> {target}: loadgen imports target_app only to hand over in wsrace serve")
            elif top == "scenarios" and ttop == "target_app":
                out.append(f"{importer} -> {target}: scenarios talk to a server, never import one")
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return build_graph(find_modules(ROOT))


def test_imports_go_one_way(graph: dict[str, set[str]]) -> None:
    """No import, TYPE_CHECKING and function-local ones included, breaks a layer rule."""
    assert layer_violations(graph) == []


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    """No two modules of the project import each other, directly or through others."""
    assert cycles(graph) == []


def test_no_long_module() -> None:
    """Every source module stays small enough to have one job."""
    long = [f"{m.path.relative_to(ROOT)}: {m.lines} lines" for m in find_modules(ROOT).values() if m.lines > MAX_LINES]
    assert long == []


def test_the_checks_see_what_they_must() -> None:
    """The checks fail on a cycle, a wrong-direction import and a TYPE_CHECKING-only import."""
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from target_app.app import App\n"
    assert "target_app.app.App" in imported_names(source, "loadgen.client", is_package=False)
    bad = {"loadgen.client": {"target_app.app"}, "target_app.app": {"loadgen.user"},
           "loadgen.protocol.wire": {"loadgen.errors"}, "scenarios.x": {"target_app"}}
    assert len(layer_violations(bad)) == 4
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_violations({"target_app.connection": {"loadgen.protocol.wire"},
                             "loadgen.commands.serve": {"target_app.cli"}}) == []


def test_relative_imports_resolve() -> None:
    """``from . import x`` and ``from .. import y`` name the modules they load."""
    names = imported_names("from . import wire\nfrom ..errors import Kind\n", "loadgen.protocol.conv", False)
    assert {"loadgen.protocol.wire", "loadgen.errors.Kind"} <= names
