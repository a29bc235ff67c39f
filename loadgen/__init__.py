"""loadgen: the load side of wsrace — the protocol core, the WebSocket session, the Locust plugin.

Its parts in levels, from the bottom up; a module imports only from its own level and the levels
before it (tests/architecture/test_layers.py checks it, TYPE_CHECKING and function-local imports
included):

1. :mod:`loadgen.protocol` — the pure protocol core shared with ``target_app``: wire format and
   client/server message builders, the conversation rules a client judges a server by, the job
   state machine, the error taxonomy, tokens, close codes, metric names, the fault catalogue. It
   imports nothing else of the project and no event loop or socket.
2. Pure helpers with no Locust: :mod:`.urls` (a target's URLs), :mod:`.paths` (the shipped
   scenarios, schedules, thresholds), :mod:`.exitcodes`, :mod:`.counter_growth`, :mod:`.backoff`
   (a user's wait after fast failures), :mod:`loadgen.judge` (thresholds, schedule, results,
   verdicts, JUnit, compare, the web UI's Thresholds tab as data), :mod:`.progress_line` (a
   headless run's progress line: its text and when it is written), the pure parts of
   :mod:`loadgen.report`: :mod:`~loadgen.report.timeline` (per-interval samples),
   :mod:`~loadgen.report.plot` (the PNG) and :mod:`~loadgen.report.html` (the verdict in HTML),
   :mod:`.sessions_plan` (processes and source addresses for N sessions), :mod:`.machine_limits`
   (an OS limit as an error kind in plain words) and :mod:`loadgen.capacity.levels` (hold schedules,
   capacity levels and their verdict).
3. I/O without Locust: :mod:`loadgen.session` (the gevent-native WebSocket client on websockets'
   sans-I/O core), :mod:`.client` (``ProtocolClient``: drives a session, judges by the core's
   conversation rules), :mod:`.metrics_scrape`, :mod:`.tokens_source`, :mod:`.children` (child
   processes), :mod:`.bundled` (the bundled target as a child process), :mod:`.run_options` (the
   flags of a run, declared once), :mod:`loadgen.capacity.machine` (the machine's fd, port and
   memory limits).
4. Inside Locust: :mod:`.context` (the one run context on the Environment), :mod:`.collector`,
   :mod:`.server_poller`, :mod:`.shape`, :mod:`.user` (``RaceUser``), :mod:`.fast_stats` (a step's
   request written into Locust's stats while they are its only listener), :mod:`.plugin` (options,
   bundled target, verdict at quit), :mod:`.probe` (the run's latency baseline), :mod:`.abort`
   (``abort = true``: stop at the first breach), :mod:`.interrupts` (SIGINT/SIGTERM: a graceful
   stop, then a quick one), :mod:`.process_watch` (processes that died during the run),
   :mod:`.checkpoint` (the master's results as of now, for a master that dies), :mod:`.progress`
   (a quiet headless terminal: the progress line, Locust's tables off, the verdict last),
   :mod:`.webui` (the Thresholds tab, the start form, one fresh run per start in Locust's web UI),
   :mod:`.locust_scale` (Locust's master and workers at tens of thousands of users: spawn
   messages without a parser per option, heartbeats on a machine busy by design), and the rest
   of :mod:`loadgen.report` (the sampler of each run, the plot and the HTML report).
5. The CLI: :mod:`.cli` and :mod:`loadgen.commands`
   (``wsrace run|serve|check|compare|plot|bench|selftest|soak|capacity``), :mod:`loadgen.bench`,
   :mod:`loadgen.selftest` (every fault against the scenarios), :mod:`loadgen.soak` (a profile
   again and again against one target) and :mod:`loadgen.capacity` (the hold profile's plan, the
   capacity ramp). Only ``wsrace serve`` (:mod:`loadgen.commands.serve`)
   imports ``target_app``, to hand over to it; nothing else of loadgen does.

Importing this package itself loads nothing, so the target app can share :mod:`loadgen.protocol`
without pulling in gevent or Locust.
"""

__version__ = "0.1.0"
