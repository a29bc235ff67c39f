"""Checks a loaded results document before anything reads it (``wsrace check``/``compare``).

Only what the readers rely on is checked; unknown fields are fine (additive changes keep version 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from loadgen.judge.config_errors import ConfigError, join

__all__ = ["validate_results"]

_OBJ = "an object"


def _fail(file: str, key: str, expectation: str, got: object) -> ConfigError:
    return ConfigError.expected(file, key, expectation, got, dicts=_OBJ)


def _obj(file: str, key: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(file, key, _OBJ, value)
    return value


def _whole(file: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(file, key, "a whole number >= 0", value)
    return value


def _number_or_null(file: str, key: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(file, key, "a number or null", value)


def _counts(file: str, key: str, value: object) -> None:
    for name, count in _obj(file, key, value).items():
        _whole(file, join(key, name), count)


def _scenario(file: str, path: str, entry: object) -> None:
    entry = _obj(file, path, entry)
    for name in ("successes", "failures", "interrupted"):
        _whole(file, join(path, name), entry.get(name, 0))
    iterations = entry.get("successes", 0) + entry.get("failures", 0)
    if "iterations" in entry and entry["iterations"] != iterations:
        raise _fail(
            file, join(path, "iterations"), f"successes + failures = {iterations}",
            entry["iterations"],
        )
    for name in ("failures_by_kind", "close_codes"):
        _counts(file, join(path, name), entry.get(name, {}))
    steps_path = join(path, "steps")
    for step, stats in _obj(file, steps_path, entry.get("steps", {})).items():
        step_path = join(steps_path, step)
        stats = _obj(file, step_path, stats)
        for name, value in stats.items():
            if name in ("count", "failures"):
                _whole(file, join(step_path, name), value)
            else:
                _number_or_null(file, join(step_path, name), value)


def validate_results(file: str, doc: object) -> None:
    """Raise :class:`ConfigError` unless ``doc`` is a readable wsrace-results version-1 document."""
    doc = _obj(file, "", doc)
    if doc.get("format") != "wsrace-results":
        raise _fail(file, "format", '"wsrace-results" (is this a wsrace results file?)',
                    doc.get("format"))
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > 1:
        raise ConfigError(
            file, "version",
            f"written by a newer wsrace (version {version}); this wsrace reads version 1",
        )
    if version != 1 or isinstance(version, bool):
        raise _fail(file, "version", "1", version)
    _obj(file, "run", doc.get("run", {}))
    for name, entry in _obj(file, "scenarios", doc.get("scenarios", {})).items():
        _scenario(file, join("scenarios", name), entry)
    server = _obj(file, "server", doc.get("server", {}))
    if not isinstance(server.get("available", False), bool):
        raise _fail(file, "server.available", "true or false", server.get("available"))
    for name, value in _obj(file, "server.counters", server.get("counters", {})).items():
        _number_or_null(file, join("server.counters", name), value)
    if doc.get("thresholds") is not None:
        _obj(file, "thresholds", doc["thresholds"])
    verdicts = doc.get("verdicts", [])
    if not isinstance(verdicts, list):
        raise _fail(file, "verdicts", "a list", verdicts)
    for index, verdict in enumerate(verdicts):
        verdict = _obj(file, f"verdicts[{index}]", verdict)
        if verdict.get("category") not in ("scenario", "server", "run"):
            raise _fail(file, f"verdicts[{index}].category", '"scenario", "server" or "run"',
                        verdict.get("category"))
        if not isinstance(verdict.get("passed"), bool):
            raise _fail(file, f"verdicts[{index}].passed", "true or false", verdict.get("passed"))
        for name in ("check", "metric", "message"):
            if not isinstance(verdict.get(name), str):
                raise _fail(file, f"verdicts[{index}].{name}", "a string", verdict.get(name))
        if verdict.get("scenario") is not None and not isinstance(verdict["scenario"], str):
            raise _fail(file, f"verdicts[{index}].scenario", "a string or null", verdict["scenario"])
        for name in ("limit", "value"):
            _number_or_null(file, f"verdicts[{index}].{name}", verdict.get(name))
    run_error = doc.get("run_error")
    if run_error is not None and not isinstance(run_error, str):
        raise _fail(file, "run_error", "a string or null", run_error)
