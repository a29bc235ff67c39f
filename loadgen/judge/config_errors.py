"""One error for every bad thresholds, schedule or results file.

:class:`ConfigError` is a :class:`~loadgen.exitcodes.UsageError`, so every ``wsrace`` command turns
it into its message and exit code 2. The message always names the file, the key (a dotted path such
as ``scenarios.fast_halt.latency.ready.p95``) and what was expected, so the user knows what to fix::

    scenarios/thresholds.toml: scenarios.fast_halt.max_error_rate: expected a number between 0
    and 1, got "x"
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from loadgen.exitcodes import UsageError

__all__ = ["ConfigError", "check_keys", "describe", "load_toml", "read_text"]


class ConfigError(UsageError):
    """A file that cannot be used: ``file``, ``key`` (dotted, or "" for the whole file), ``problem``."""

    def __init__(self, file: str | Path, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + problem)

    @classmethod
    def expected(
        cls, file: str | Path, key: str, expectation: str, got: object, *, dicts: str = "a table"
    ) -> ConfigError:
        """``file: key: expected <expectation>, got <value>``."""
        return cls(file, key, f"expected {expectation}, got {describe(got, dicts=dicts)}")


def describe(value: object, *, dicts: str = "a table") -> str:
    """Show a parsed value the way the user wrote it (strings quoted, tables named)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return dicts
    if isinstance(value, list):
        return "a list"
    return repr(value)


def join(path: str, key: str) -> str:
    """Dotted path of ``key`` under ``path``; keys that are not bare words are quoted as in TOML."""
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)
    return f"{path}.{shown}" if path else shown


def check_keys(file: str | Path, path: str, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise on the first key of ``table`` not in ``allowed``, with a "did you mean" if one is close."""
    known = sorted(allowed)
    for key in table:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            file, join(path, key), f"unknown key{hint}; expected one of: {', '.join(known)}"
        )


def read_text(path: str | Path) -> str:
    """Read a UTF-8 file, turning OS and decoding errors into a ConfigError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a directory, expected a file") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text (byte {exc.start})") from exc


_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, line and column."""
    text = read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _AT.search(message)
        if match:
            where = f"line {match[1]}, column {match[2]}"
            message = message[: match.start()]
        else:  # "(at end of document)" and friends
            where = "end of file" if "end of document" in message else "syntax"
            message = re.sub(r"\s*\(at end of document\)\s*$", "", message)
        raise ConfigError(path, "", f"{where}: invalid TOML: {message}") from exc
