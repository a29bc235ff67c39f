"""hold: many concurrent authenticated sessions held open, each with a small keep-alive echo.

Each user connects, authenticates (header, query string and in-band in turn), reads ``ready``, then
holds its session: it reads nothing for about ``--hold-interval`` seconds (30 by default; each
period jittered by ±20 % so that N sessions opened in the same second do not echo in lockstep),
then sends one small echo and checks its reply. Every message is judged by the conversation rules:
its ``seq`` (``seq_gap``, ``out_of_order``), its shape, and the ``user`` in the echo and in
``ready`` (``foreign_event``). A message pushed while the session is idle is judged the same way.

**An iteration is one held period**: from the end of the previous one (or the connect, for a
session's first) to the verified reply of the echo that closes it. So the counts mean "periods of
about ``--hold-interval`` seconds during which a session stayed up and answered": a session held
for the whole hold stage makes hold / interval successes, ``error_rate`` is the share of held
periods that failed, and the periods cut short by the end of the run are counted as interrupted
(one per session), never as successes. Connecting is part of a session's first iteration (steps
``connect``; the keep-alive is step ``echo``).

A dropped connection (``abnormal_close``: 1006, 1011...) or a graceful 1001 from a target worker
that restarts fails that period, its close code is counted, and the user reconnects at its next
iteration, after a pause that doubles from 1 s up to the interval while connecting keeps failing:
a long hold survives a target worker restart, and the verdict counts what it cost.

When the machine runs out of something, the connect fails with a kind of its own, not a traceback:
``out_of_fds`` (EMFILE/ENFILE), ``out_of_ports`` (EADDRNOTAVAIL), ``out_of_memory`` (ENOMEM), see
:mod:`loadgen.machine_limits`. With ``--source-addresses``, each Locust process binds its
sessions to its share of those addresses, in turn (:func:`loadgen.sessions_plan.address_share`).
``wsrace run --profile hold --sessions N`` plans the processes and addresses for N by itself.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from typing import Any

from locust import task

from loadgen.capacity.levels import JITTER
from loadgen.client import ProtocolClient
from loadgen.errors import ScenarioFailure, StepTimeout
from loadgen.machine_limits import machine_limit
from loadgen.session import SocketFactory, bound_connect
from loadgen.sessions_plan import parse_addresses, process_share
from loadgen.user import RaceUser

RETRY_FIRST_S = 1.0
"""The pause before reconnecting after a failed period; it doubles up to the interval."""
TURN_ATTR = "wsrace_hold_turn"
"""The Environment attribute holding this process's turn over its source addresses."""


def _process_share(environment: Any, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """This process's source addresses: its share when it is one of ``--processes`` workers (its
    index from the master), else all of them."""
    return process_share(addresses, getattr(environment.runner, "worker_index", -1),
                         getattr(environment.parsed_options, "processes", None), os.cpu_count() or 1)


class HoldUser(RaceUser):
    scenario = "hold"
    reply_timeout = 10.0
    connect_timeout = 10.0

    def on_start(self) -> None:
        self._client: ProtocolClient | None = None
        self._n = 0
        self._retry_in = 0.0
        options = self.ctx.options
        self._interval = options.hold_interval
        self._factory: SocketFactory | None = None
        if options.source_addresses:
            share = _process_share(self.environment, parse_addresses(options.source_addresses))
            turn = getattr(self.environment, TURN_ATTR, None)
            if turn is None:
                turn = itertools.count()
                setattr(self.environment, TURN_ATTR, turn)
            self.source_address = share[next(turn) % len(share)]
            self._factory = bound_connect(self.source_address)

    def wait_time(self) -> float:
        return self._retry_in

    def _session(self) -> ProtocolClient:
        if self._client is not None and self._client.session.state == "open":
            return self._client
        options = {"socket_factory": self._factory} if self._factory is not None else {}
        with self.step("connect"):
            try:
                client = self.connect(mode=self.next_auth_mode(), **options)
            except ScenarioFailure as exc:
                limit = machine_limit(exc)
                if limit is not None:
                    raise limit from exc
                raise
            client.expect_ready()
        self._client = client
        return client

    def _idle(self, client: ProtocolClient, seconds: float) -> None:
        """Hold the session for ``seconds``, judging anything the server sends meanwhile."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                client.read(remaining, "hold")
            except StepTimeout:
                return  # nothing came: the session was held quietly, as it should be

    @task
    def hold(self) -> None:
        with self.iteration():
            try:
                client = self._session()
                self._idle(client, self._interval * random.uniform(1 - JITTER, 1 + JITTER))
                self._n += 1
                with self.step("echo"):
                    client.echo({"user": self.identity.user, "n": self._n})
                self._retry_in = 0.0
            except ScenarioFailure as exc:
                code = getattr(exc, "code", False)
                if code is not False:
                    self.record_close(code)
                self._client = None
                self._retry_in = min(self._interval, max(RETRY_FIRST_S, self._retry_in * 2))
                raise
            except BaseException:
                self._client = None
                raise
