"""wsrace's race scenarios: the locustfiles run by ``locust -f scenarios`` and ``wsrace run``.

One race per file, each a :class:`loadgen.user.RaceUser`; ``schedule.py`` holds the load shape that
runs them in stages (``--profile quick|full`` or ``--schedule FILE``); ``thresholds.toml`` holds the
default pass thresholds. Files starting with ``_`` are not locustfiles.
"""

from pathlib import Path

SCENARIOS_DIR = Path(__file__).resolve().parent
