"""Artillery (npm ``artillery``, version 2) on the benchmark's workloads: its script, its command
line, and what its report says went wrong. Pure: text and data in and out, no process.

How each workload is written for Artillery's ``ws`` engine (``@artilleryio/int-core``'s
``engine_ws.js``), the way its documentation writes a WebSocket test:

- ``roundtrip``: N virtual users arrive in the first second; each opens one connection and loops
  ``send`` with a ``match`` on the reply (a ``send`` without ``capture``/``match`` does not wait
  for the reply, so it would not be a round trip), while the processor's ``untilEnd`` says the
  run's end has not come;
- ``storm``: Artillery's users are an open loop (arrivals per second) and its ``ws`` engine opens
  the connection once per user, so a user cannot reconnect in a loop. The nearest to N users
  connecting again and again: arrivals at ``STORM_ARRIVALS_PER_USER`` times N per second, at most N
  at once (``maxVusers``; arrivals over the cap are skipped). Each user connects, sends one echo,
  waits for it (``match``), and ends, which closes the connection (``ws.close()``: the closing
  handshake).

Both offer no compression (``perMessageDeflate: false``; the ``ws`` library offers it by default),
like every other generator here. Telemetry is switched off by the environment
(``ARTILLERY_DISABLE_TELEMETRY``): the benchmark makes no call off the machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["END_ENV", "ENV", "PROCESSOR_JS", "STOP_ENV", "WORKLOADS", "command", "failures", "script", "script_text"]

WORKLOADS: Final = ("roundtrip", "storm")
END_ENV: Final = "WSRACE_BENCH_END_MS"
"""The run's end as a Unix time in ms: the processor stops the users' loops there at the latest."""
STOP_ENV: Final = "WSRACE_BENCH_STOP_FILE"
"""A file whose appearance stops the loops sooner: the parent makes it when its window is over."""
ENV: Final = {"ARTILLERY_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
STORM_ARRIVALS_PER_USER: Final = 20
REPLY_TIMEOUT_S: Final = 30

PROCESSOR_JS: Final = f"""// wsrace bench: round trips loop until the run's end (a Unix time in ms, from the parent),
// or until the parent's stop file appears (looked for every 100 ms, not per round trip).
const fs = require("fs");
const END_MS = Number(process.env.{END_ENV});
const STOP_FILE = process.env.{STOP_ENV};
let stopped = false;
setInterval(() => {{ if (STOP_FILE && fs.existsSync(STOP_FILE)) stopped = true; }}, 100).unref();
module.exports = {{
  untilEnd(context, next) {{
    return next(!stopped && Date.now() < END_MS);
  }},
}};
"""


def _echo_step(message: str) -> dict[str, Any]:
    return {"send": {"payload": message, "match": {"json": "$.op", "value": "echo"}}}


def script(workload: str, url: str, connections: int, run_s: float, message: str,
           processor: str) -> dict[str, Any]:
    """The Artillery script (JSON is YAML, so it is written as a ``.yml`` file as it is).
    ``run_s``: how long users keep arriving (storm) or looping (round trips, with the processor's
    end); ``message``: the echo request, already encoded."""
    if workload not in WORKLOADS:
        raise ValueError(f"Artillery does not run the {workload!r} workload here (only {', '.join(WORKLOADS)})")
    if workload == "roundtrip":
        phases = [{"duration": 1, "arrivalCount": connections}]
        flow: list[dict[str, Any]] = [{"loop": [_echo_step(message)], "whileTrue": "untilEnd"}]
    else:
        phases = [{"duration": max(1, round(run_s)), "arrivalRate": STORM_ARRIVALS_PER_USER * connections,
                   "maxVusers": connections}]
        flow = [_echo_step(message)]
    return {
        "config": {
            "target": url,
            "processor": processor,
            "phases": phases,
            "timeout": REPLY_TIMEOUT_S,
            "ws": {"perMessageDeflate": False},
        },
        "scenarios": [{"name": workload, "engine": "ws", "flow": flow}],
    }


def script_text(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def command(executable: str, script_path: str, report_path: str) -> list[str]:
    """``artillery run`` quietly (no progress per 10 s), its report as JSON in ``report_path``."""
    return [executable, "run", "--quiet", "--output", report_path, script_path]


def failures(report: Mapping[str, Any]) -> tuple[int, str | None]:
    """From Artillery's JSON report: how many errors it counted (``errors.*`` counters, e.g.
    ``errors.ECONNREFUSED``, ``errors.Failed capture or match``), and the first one's name."""
    counters = (report.get("aggregate") or {}).get("counters") or {}
    errors = {key[len("errors."):]: int(value) for key, value in counters.items()
              if key.startswith("errors.") and value}
    first = next(iter(sorted(errors)), None)
    return sum(errors.values()), first
