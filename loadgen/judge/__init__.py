"""wsrace's judging layer: thresholds, schedule, results file, verdicts, reports. Pure + file I/O.

Nothing here imports gevent, Locust, asyncio or sockets, so it is tested by feeding it dicts and
files, and ``wsrace check``/``compare`` run without a load generator. The Locust side calls:

- :func:`parse_schedule`, :func:`check_scenarios`, :func:`stage_at`, :func:`next_tick` — the load shape;
- :class:`ScenarioTally` + :func:`merge` — counting iterations on workers, adding them on the master;
- :func:`parse_thresholds`, :func:`build_results` (which calls :func:`evaluate`),
  :func:`write_results`, :func:`render_table`, :func:`write_junit` — at the end of a run.
"""

from loadgen.judge.compare import Change, Tolerance, compare, regressions, render_comparison
from loadgen.judge.config_errors import ConfigError
from loadgen.judge.evaluate import Verdict, evaluate, run_check
from loadgen.judge.junit import junit_xml, write_junit
from loadgen.judge.results import (
    RunMeta,
    ScenarioTally,
    build_results,
    load_results,
    merge,
    utc_now,
    with_verdicts,
    write_results,
)
from loadgen.judge.schedule import Schedule, Stage, Tick, check_scenarios, next_tick, parse_schedule, stage_at
from loadgen.judge.table import render_table
from loadgen.judge.thresholds import LatencyLimit, ScenarioLimits, Thresholds, parse_thresholds

__all__ = [
    "Change",
    "ConfigError",
    "LatencyLimit",
    "RunMeta",
    "ScenarioLimits",
    "ScenarioTally",
    "Schedule",
    "Stage",
    "Thresholds",
    "Tick",
    "Tolerance",
    "Verdict",
    "build_results",
    "check_scenarios",
    "compare",
    "evaluate",
    "junit_xml",
    "load_results",
    "merge",
    "next_tick",
    "parse_schedule",
    "parse_thresholds",
    "regressions",
    "render_comparison",
    "render_table",
    "run_check",
    "stage_at",
    "utc_now",
    "with_verdicts",
    "write_junit",
    "write_results",
]
