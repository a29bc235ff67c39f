"""Flag parsing (pure: no process is started) and the config handed to workers."""

from __future__ import annotations

import pytest

from loadgen.protocol.tokens import DEV_SECRET
from target_app import cli
from target_app.config import Config


def test_defaults_are_the_documented_ones() -> None:
    """No flags: the defaults of the issue and PROTOCOL.md."""
    config = cli.parse([], environ={})
    assert config == Config(
        host="127.0.0.1", port=8765, workers=1, secret=DEV_SECRET, auth_timeout=5.0,
        max_size=2**20, shutdown_timeout=5.0, stall_timeout=10.0, faults=(), log_level="info",
    )


def test_every_flag_is_parsed() -> None:
    config = cli.parse(
        ["--host", "::1", "--port", "0", "--workers", "3", "--secret", "s3", "--auth-timeout", "0.5",
         "--max-size", "1000", "--shutdown-timeout", "2", "--stall-timeout", "1.5",
         "--fault", "lossy-queue", "--fault", "global-lock", "--fault", "lossy-queue",
         "--log-level", "debug", "--broker", "unix:///run/redis.sock"],
        environ={},
    )
    assert isinstance(config, Config)
    assert (config.host, config.port, config.workers, config.secret) == ("::1", 0, 3, "s3")
    assert (config.auth_timeout, config.max_size, config.shutdown_timeout, config.stall_timeout) == (
        0.5, 1000, 2.0, 1.5)
    assert config.faults == ("lossy-queue", "global-lock")  # repeats collapse, order kept
    assert config.log_level == "debug"
    assert config.broker == "unix:///run/redis.sock"


def test_secret_from_environment_then_flag() -> None:
    """--secret wins over WSRACE_SECRET, which wins over the development default."""
    from_env = cli.parse([], environ={"WSRACE_SECRET": "env-secret"})
    assert isinstance(from_env, Config) and from_env.secret == "env-secret"
    from_flag = cli.parse(["--secret", "flag"], environ={"WSRACE_SECRET": "env-secret"})
    assert isinstance(from_flag, Config) and from_flag.secret == "flag"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--port", "70000"], "not a port number"),
        (["--port", "http"], "not a port number"),
        (["--workers", "0"], "at least 1"),
        (["--auth-timeout", "-1"], "number of seconds"),
        (["--auth-timeout", "0"], "above 0"),
        (["--stall-timeout", "nan"], "number of seconds"),
        (["--max-size", "0"], "at least 1"),
        (["--fault", "bogus"], "valid faults: lost-snapshot, lossy-queue, early-drop"),
        (["--fault", "cross-talk", "--fault", "unsafe-close"], "cannot be combined"),
        (["--log-level", "loud"], "invalid choice"),
        (["--broker", "http://127.0.0.1:6379"], "not a broker URL: give redis://HOST:PORT"),
        (["--broker", "unix://"], "names no socket"),
        (["--secret", ""], "must not be empty"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(argv: list[str], says: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A bad flag is one line naming what to fix, exit code 2, no traceback."""
    assert cli.parse(argv, environ={}) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_help_exits_0_and_lists_every_flag_and_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.parse(["--help"], environ={}) == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--workers", "--secret", "--auth-timeout", "--max-size",
                 "--shutdown-timeout", "--stall-timeout", "--fault", "--log-level", "--broker"):
        assert flag in out
    from target_app.faults import FAULTS

    assert all(name in out for name in FAULTS)
    assert '{"event": "listening"' in out


def test_worker_config_round_trips_without_the_secret() -> None:
    """The secret never goes on a worker's command line."""
    config = Config(port=0, workers=2, secret="hush", faults=("early-drop",))
    text = config.to_worker_json()
    assert "hush" not in text
    assert Config.from_worker_json(text, "hush") == config


def test_worker_config_round_trips_without_the_broker_url() -> None:
    """The broker URL (it may hold a Redis password) goes by environment, like the secret."""
    config = Config(port=0, workers=2, secret="hush", broker="redis://:pw@127.0.0.1:6379")
    text = config.to_worker_json()
    assert "pw@" not in text
    assert Config.from_worker_json(text, "hush", "redis://:pw@127.0.0.1:6379") == config
    assert Config.from_worker_json(text, "hush").broker is None


@pytest.mark.parametrize(("workers", "broker", "level", "says"), [
    (1, None, "INFO", "this one worker's"),
    (2, None, "WARNING", "jobs are per worker: with 2 workers and no --broker"),
    (2, "unix:///r.sock", "INFO", "shared by the 2 workers through the broker"),
])
def test_the_start_log_says_where_jobs_live(workers: int, broker: str | None, level: str, says: str) -> None:
    import logging

    from target_app.supervisor import jobs_note

    got_level, line = jobs_note(Config(workers=workers, broker=broker))
    assert logging.getLevelName(got_level) == level and says in line
