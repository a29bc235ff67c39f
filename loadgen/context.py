"""What one Locust process of a wsrace run shares between its users: tokens and tallies.

It hangs on the Locust ``Environment`` (one per process), not in module globals, so several
environments in one interpreter (tests) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadgen.collector import Collector
from loadgen.tokens_source import TokenSource, token_source

__all__ = ["RunContext", "run_context"]

ATTR = "wsrace"


@dataclass
class RunContext:
    tokens: TokenSource
    collector: Collector = field(default_factory=Collector)


def run_context(environment: Any) -> RunContext:
    """The process's context, built on first use from the parsed options (workers get them from the master)."""
    ctx = getattr(environment, ATTR, None)
    if ctx is None:
        opts = environment.parsed_options
        ctx = RunContext(
            tokens=token_source(
                getattr(opts, "secret", None), getattr(opts, "token_file", None), getattr(opts, "token_command", None)
            )
        )
        setattr(environment, ATTR, ctx)
    return ctx
