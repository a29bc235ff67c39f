"""The schedule: stages of scenarios from a TOML file, as a Locust load shape.

``--profile quick`` (CI, under a minute) or ``--profile full`` (default) pick a shipped schedule;
``--schedule FILE`` runs your own. Stage changes are logged as they happen.
"""

from loadgen.shape import ScheduleShape


class Schedule(ScheduleShape):
    """Runs the stages of the chosen schedule file, then stops the test."""
