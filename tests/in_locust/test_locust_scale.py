"""loadgen.locust_scale: with it installed, Locust's filter of a spawn message's options (the
comprehension of ``WorkerRunner.handle_message``, one ``default_args_dict()`` per key) builds
Locust's argument parser once per process instead of once per key, and gives the same answer."""

from __future__ import annotations

from typing import Any

import pytest
from locust import argument_parser

from loadgen import locust_scale


def _spawn_filter(parsed_options: dict[str, Any]) -> dict[str, Any]:
    """What Locust 2.47's worker does with each spawn message's options (runners.py, "spawn")."""
    return {
        k: v
        for k, v in parsed_options.items()
        if k not in argument_parser.default_args_dict() or k in ["expect_workers", "tags", "exclude_tags"]
    }


@pytest.fixture
def parser_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts how often Locust's argument parser is set up, from a cold cache."""
    builds: list[int] = []
    setup = argument_parser.setup_parser_arguments

    def counting(parser: Any) -> None:
        builds.append(1)
        setup(parser)

    monkeypatch.setattr(argument_parser, "setup_parser_arguments", counting)
    monkeypatch.setattr(argument_parser, "default_args_dict", locust_scale._ORIGINAL)
    locust_scale._defaults.cache_clear()
    return builds


def _master_options() -> dict[str, Any]:
    """A spawn message's options as a master sends them: Locust's own plus custom ones."""
    options = dict(locust_scale._ORIGINAL())
    options.update({f"wsrace_option_{i}": i for i in range(30)})
    return options


def test_the_filter_builds_the_parser_once_per_key_without_it(parser_builds: list[int]) -> None:
    """Without the fix, one spawn message costs a parser build per option key (the bug itself)."""
    options = _master_options()
    parser_builds.clear()  # _master_options built one
    _spawn_filter(options)
    assert len(parser_builds) == len(options)


def test_installed_the_filter_builds_it_once_and_answers_the_same(parser_builds: list[int]) -> None:
    """Installed: many spawn messages, one parser build, the same custom options picked out."""
    options = _master_options()
    expected = _spawn_filter(options)
    parser_builds.clear()
    locust_scale.install()
    messages = 5
    got = [_spawn_filter(options) for _ in range(messages)]
    assert len(parser_builds) == 1
    assert all(answer == expected for answer in got)
    assert set(expected) == {k for k in options if k.startswith("wsrace_option_")} | {"expect_workers", "tags",
                                                                                      "exclude_tags"}


def test_each_caller_gets_its_own_copy(parser_builds: list[int]) -> None:
    """A caller that changes the dict it got does not change the next caller's."""
    locust_scale.install()
    first = argument_parser.default_args_dict()
    first["host"] = "changed"
    assert argument_parser.default_args_dict()["host"] != "changed"


def test_loading_the_plugin_installs_it() -> None:
    """Every Locust process that loads wsrace's plugin (workers included) runs with the fix."""
    import loadgen.plugin  # noqa: F401

    assert argument_parser.default_args_dict is locust_scale._cached_default_args_dict


def test_busy_profiles_tolerate_late_heartbeats_and_others_keep_locusts(monkeypatch: pytest.MonkeyPatch) -> None:
    """hold and capacity raise the missed heartbeats Locust allows; quick and full keep its own."""
    from locust import runners

    default = runners.HEARTBEAT_LIVENESS
    monkeypatch.setattr(runners, "HEARTBEAT_LIVENESS", default)
    for profile in ("quick", "full", None):
        locust_scale.tolerate_busy_machine(profile)
        assert default == runners.HEARTBEAT_LIVENESS
    for profile in locust_scale.BUSY_PROFILES:
        locust_scale.tolerate_busy_machine(profile)
        assert runners.HEARTBEAT_LIVENESS == locust_scale.BUSY_HEARTBEAT_LIVENESS > default
