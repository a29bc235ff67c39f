"""Tsung (Debian ``tsung``, 1.7) on the benchmark's workloads: its XML, its command line, and the
errors its log counts. Pure: text in and out, no process.

How each workload is written for Tsung's ``ts_websocket`` sessions (Tsung's manual, "Websocket"):

- ``roundtrip``: N users arrive at N per second (``maxnumber`` N); each sends the WebSocket upgrade
  (``type="connect"``) and then loops a ``type="message"`` request, which waits for the server's
  reply (Tsung's default ``ack="parse"``) before the next, until ``<load duration>`` ends the run;
- ``storm``: N users arrive the same way; each loops connect, one echo (waiting for the
  reply), close (``type="close"``: the close frame, Tsung waits for the server's), and Tsung opens
  a fresh TCP connection for the next ``connect``. If this Tsung cannot reconnect in a loop, the
  server's count shows it (one handshake per user) and the sample fails rather than report it.

Text frames (``websocket_frame``), no compression (Tsung offers none), one Erlang VM
(``use_controller_vm``), no web dashboard (``-n``), Erlang's node names and distribution on
127.0.0.1 only (``-I``, ``ERL_EPMD_ADDRESS``, ``inet_dist_use_interface``).
"""

from __future__ import annotations

import re
from typing import Final
from xml.sax.saxutils import escape, quoteattr

__all__ = ["ENV", "WORKLOADS", "command", "config", "failures"]

WORKLOADS: Final = ("roundtrip", "storm")
ARRIVAL_S: Final = 10
"""The arrival phase: Tsung's arrivals are random (Poisson) at the rate, so N users at N per second
may take longer than a second; ``maxnumber`` stops at N, and the window starts once all N are in."""
LOOP_MAX: Final = 1_000_000_000
"""Iterations of a user's loop: never reached, ``<load duration>`` ends the run first."""
ENV: Final = {
    "ERL_EPMD_ADDRESS": "127.0.0.1",
    "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
}

PLANNED_END: Final = "error_abort"
_STATS = re.compile(r"^stats:\s+(error_\S+)\s+(\d+)\s+(\d+)", re.MULTILINE)


def config(workload: str, host: str, port: int, path: str, connections: int, run_s: float,
           message: str) -> str:
    """The Tsung XML for ``workload`` against ``ws://host:port/path``; the run ends after ``run_s``
    seconds (``<load duration>``), whatever the users are doing."""
    if workload not in WORKLOADS:
        raise ValueError(f"Tsung does not run the {workload!r} workload here (only {', '.join(WORKLOADS)})")
    connect = f'<request><websocket type="connect" path={quoteattr(path)}></websocket></request>'
    echo = f'<request><websocket type="message">{escape(message)}</websocket></request>'
    close = '<request><websocket type="close"></websocket></request>'
    if workload == "roundtrip":
        flow = f'{connect}\n      <for from="1" to="{LOOP_MAX}" var="i">\n        {echo}\n      </for>'
    else:
        cycle = "\n        ".join((connect, echo, close))
        flow = f'<for from="1" to="{LOOP_MAX}" var="i">\n        {cycle}\n      </for>'
    return f"""<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="error" version="1.0" dumptraffic="false">
  <clients>
    <client host="localhost" use_controller_vm="true" maxusers="{connections + 10}"/>
  </clients>
  <servers>
    <server host="{host}" port="{port}" type="tcp"/>
  </servers>
  <load duration="{max(1, round(run_s))}" unit="second">
    <arrivalphase phase="1" duration="{ARRIVAL_S}" unit="second">
      <users maxnumber="{connections}" arrivalrate="{connections}" unit="second"/>
    </arrivalphase>
  </load>
  <options>
    <option name="websocket_frame" value="text"/>
  </options>
  <sessions>
    <session name="{workload}" probability="100" type="ts_websocket">
      {flow}
    </session>
  </sessions>
</tsung>
"""


def command(executable: str, config_path: str, log_dir: str) -> list[str]:
    """``tsung start`` in the foreground: no web dashboard, node names on 127.0.0.1."""
    return [executable, "-n", "-I", "127.0.0.1", "-f", config_path, "-l", log_dir, "start"]


def failures(log_text: str) -> tuple[int, str | None]:
    """From Tsung's ``tsung.log`` (its stats every 10 s, ``stats: NAME count_in_period total``):
    the errors it counted by the end (``error_*``, e.g. ``error_connect_econnrefused``) and the
    first one's name. ``error_abort`` is not one: it is the controller stopping the users when
    ``<load duration>`` is reached ("Tsung test max duration reached"), the planned end."""
    totals: dict[str, int] = {}
    for name, _, total in _STATS.findall(log_text):
        if name == PLANNED_END:
            continue
        totals[name] = max(totals.get(name, 0), int(total))
    errors = {name: count for name, count in totals.items() if count}
    return sum(errors.values()), next(iter(sorted(errors)), None)
