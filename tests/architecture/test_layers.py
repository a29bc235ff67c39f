"""The dependency rules of the layout (README, "Layout"), checked on the source itself.

- ``loadgen.protocol`` is the shared pure core: it imports nothing else of the project.
- ``target_app`` may import ``loadgen.protocol`` and nothing else of ``loadgen``.
- ``loadgen`` never imports ``target_app``, except ``wsrace serve``'s hand-over.
- ``scenarios`` build on ``loadgen`` and never import ``target_app``.
- Inside ``loadgen``, the levels of its package docstring: a module imports only from its own level
  and the levels before it.
- No import cycle anywhere, and no module much over 500 lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.imports import build_graph, cycles, find_modules, imported_names

ROOT = Path(__file__).resolve().parents[2]
SERVE_HANDOVER = {"loadgen.commands.serve"}
MAX_LINES = 550  # "about 500": a module past this has more than one job

LOADGEN_LEVELS = (
    ("loadgen.protocol",),
    ("loadgen.urls", "loadgen.paths", "loadgen.exitcodes", "loadgen.counter_growth", "loadgen.judge",
     "loadgen.report.timeline", "loadgen.report.plot", "loadgen.report.html", "loadgen.progress_line",
     "loadgen.backoff", "loadgen.sessions_plan", "loadgen.machine_limits", "loadgen.capacity.levels"),
    ("loadgen.errors", "loadgen.session", "loadgen.client", "loadgen.metrics_scrape", "loadgen.tokens_source",
     "loadgen.children", "loadgen.bundled", "loadgen.run_options", "loadgen.capacity.machine"),
    ("loadgen.context", "loadgen.collector", "loadgen.server_poller", "loadgen.shape", "loadgen.user",
     "loadgen.fast_stats",
     "loadgen.plugin", "loadgen.probe", "loadgen.abort", "loadgen.interrupts", "loadgen.process_watch",
     "loadgen.checkpoint", "loadgen.report", "loadgen.progress", "loadgen.webui",
     "loadgen.locust_scale"),
    ("loadgen.cli", "loadgen.commands", "loadgen.bench", "loadgen.selftest", "loadgen.soak", "loadgen.capacity"),
)
"""loadgen's levels, bottom up, as its package docstring lists them."""


def level_of(module: str) -> int | None:
    """The level of a loadgen module (the longest prefix in LOADGEN_LEVELS wins), None if unplaced."""
    found, length = None, -1
    for index, names in enumerate(LOADGEN_LEVELS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > length:
                found, length = index, len(name)
    return found


def level_violations(graph: dict[str, set[str]]) -> list[str]:
    """loadgen modules that are in no level, or import from a level above their own."""
    out = []
    for importer, targets in sorted(graph.items()):
        if not importer.startswith("loadgen."):
            continue
        mine = level_of(importer)
        if mine is None:
            out.append(f"{importer}: in no level of loadgen's docstring (add it to LOADGEN_LEVELS and the docstring)")
            continue
        for target in sorted(targets):
            theirs = level_of(target) if target.startswith("loadgen.") else None
            if theirs is not None and theirs > mine:
                out.append(f"{importer} (level {mine + 1}) -> {target} (level {theirs + 1}): imports upwards")
    return out


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


def test_loadgen_levels(graph: dict[str, set[str]]) -> None:
    """Every loadgen module has a level, and none imports from a level above its own."""
    assert level_violations(graph) == []


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
    assert level_violations({"loadgen.protocol.wire": {"loadgen.plugin"}, "loadgen.nowhere": set()}) == [
        "loadgen.nowhere: in no level of loadgen's docstring (add it to LOADGEN_LEVELS and the docstring)",
        "loadgen.protocol.wire (level 1) -> loadgen.plugin (level 4): imports upwards",
    ]
    assert layer_violations({"target_app.connection": {"loadgen.protocol.wire"},
                             "loadgen.commands.serve": {"target_app.cli"}}) == []


def test_relative_imports_resolve() -> None:
    """``from . import x`` and ``from .. import y`` name the modules they load."""
    names = imported_names("from . import wire\nfrom ..errors import Kind\n", "loadgen.protocol.conv", False)
    assert {"loadgen.protocol.wire", "loadgen.errors.Kind"} <= names
