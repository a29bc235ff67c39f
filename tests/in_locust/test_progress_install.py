"""loadgen.progress on a real Locust Environment, no sockets: what a headless run and the web UI get.

Headless: Locust's table logger is raised to WARNING (unless --locust-stats), the progress line is
hooked to test_start / test_stop, and the verdict is held until Locust's ``quit`` event. The web UI
(not headless): none of it.
"""

from __future__ import annotations

import argparse
import io
import logging
from collections.abc import Iterator

import pytest
from locust.env import Environment

from loadgen import progress
from loadgen.context import RunContext
from loadgen.run_options import RunOptions
from loadgen.tokens_source import token_source


@pytest.fixture
def stats_logger() -> Iterator[logging.Logger]:
    """Locust's table logger, its level put back after the test (install() changes it process-wide)."""
    logger = logging.getLogger(progress.STATS_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(level)


def _environment(*, headless: bool) -> Environment:
    env = Environment(user_classes=[], host="ws://127.0.0.1:1")
    env.parsed_options = argparse.Namespace(headless=headless)
    return env


def _context(locust_stats: bool = False) -> RunContext:
    return RunContext(RunOptions(locust_stats=locust_stats), token_source(None, None, None))


def test_the_web_ui_gets_no_progress_line_and_locusts_tables_unchanged(stats_logger: logging.Logger) -> None:
    """Not headless: no listener on test_start, Locust's table logger as it was, the verdict straight out."""
    env = _environment(headless=False)
    listeners = len(env.events.test_start._handlers)
    progress.install(env, _context())
    assert len(env.events.test_start._handlers) == listeners
    assert stats_logger.level == logging.INFO
    assert progress.output(env) == progress.sys.stdout.write


@pytest.mark.parametrize(("locust_stats", "level"), [(False, logging.WARNING), (True, logging.INFO)])
def test_headless_quiets_locusts_tables_unless_asked(stats_logger: logging.Logger, locust_stats: bool,
                                                    level: int) -> None:
    """Headless: Locust's tables (INFO on its table logger) are off; --locust-stats leaves them on."""
    env = _environment(headless=True)
    progress.install(env, _context(locust_stats))
    assert stats_logger.level == level
    assert stats_logger.isEnabledFor(logging.INFO) is locust_stats
    assert stats_logger.isEnabledFor(logging.WARNING)  # Locust's warnings stay visible either way
    env.events.quit.fire(exit_code=0)


def test_headless_holds_the_verdict_until_locusts_quit(stats_logger: logging.Logger,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """What the verdict writes comes out once, in order, when Locust fires quit (its last word)."""
    out = io.StringIO()
    monkeypatch.setattr(progress.sys, "stdout", out)
    env = _environment(headless=True)
    progress.install(env, _context())
    write = progress.output(env)
    write("table\n")
    write("results: r.json\n")
    assert out.getvalue() == ""
    env.events.quit.fire(exit_code=0)
    env.events.quit.fire(exit_code=0)
    assert out.getvalue() == "table\nresults: r.json\n"
