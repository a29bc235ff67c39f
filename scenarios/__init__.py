"""wsrace's race scenarios: the locustfiles run by ``locust -f scenarios`` and ``wsrace run``.

One race per file, each a :class:`loadgen.user.RaceUser`; ``schedule.py`` holds the load shape that
runs them in stages (``--profile quick|full`` or ``--schedule FILE``); ``thresholds.toml`` holds the
default pass thresholds. Files starting with ``_`` are not locustfiles. The directory's path, for
code that needs it, is :data:`loadgen.paths.SCENARIOS_DIR` (not here: inside a Locust run this
package is loaded as a plain directory of locustfiles).

Scenarios build on :mod:`loadgen` (``RaceUser``, ``ProtocolClient``, the session, the error kinds)
and talk to a server over the network; they never import ``target_app`` (tests/architecture
checks it), so the same files test any server that speaks PROTOCOL.md.
"""
