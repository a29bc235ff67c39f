"""SIGINT and SIGTERM in a Locust process: the first stops the run gracefully, a second at once.

A terminal sends Ctrl-C (SIGINT) to its whole foreground process group, a CI runner cancels with
SIGINT then SIGTERM then SIGKILL, systemd and ``docker stop`` send SIGTERM: every Locust process of
the run (master, ``--processes`` workers) gets the signal at the same moment. Left to Python and
Locust, SIGINT becomes a ``KeyboardInterrupt`` raised in whichever user greenlet happens to run
(tracebacks, lost results) and SIGTERM kills a shape run outright (Locust installs its own SIGTERM
handler only once the shape has finished). So the plugin installs, at the start of its ``init``,
gevent signal handlers (:func:`install`) that run in a greenlet of their own, never inside a user:

- **The judging process** (master or standalone), first signal: it is recorded in the run context
  (:class:`loadgen.context.Interrupts`); the load shape ends the run at its next tick (about a
  second) the way the end of the schedule does — :func:`end_workers` first, so that every worker's
  last report arrives before the master judges. A run without a shape is ended by the handler.
  The plugin's ``quitting`` then stops the bundled target (after the users), writes the results
  and JUnit with ``run.interrupted``, ``run.signal`` and ``run.stop_reason``, and sets the exit
  code 128 + the signal's number (:func:`loadgen.exitcodes.interrupted`). Second signal: the
  wait for the workers is cut short and the bundled target is killed instead of stopped; the
  results keep what was counted.
- **A worker**: its master got the same signal and will tell it to quit; it waits
  :data:`WORKER_GRACE_S` for that (the users are stopped and the last report sent on "quit"),
  then quits on its own. Second signal: it quits at once (the plugin's ``quitting`` on a worker
  still stops its users and sends its last report first).

A libev signal watcher replaces the disposition the process inherited, so this works too when the
parent shell ignored SIGINT (``bash -c 'wsrace run &'``: SIG_IGN survives ``exec``).
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any, Final

import gevent
from locust.rpc import Message
from locust.runners import STATE_INIT, MasterRunner, WorkerRunner

from loadgen.context import Interrupts

__all__ = ["END_WORKERS_S", "FORCED_WORKERS_S", "STOP_SIGNALS", "WORKER_GRACE_S", "end_workers", "headless",
           "install"]

log = logging.getLogger("wsrace")

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
WORKER_GRACE_S: Final = 5.0
"""How long a worker waits for its master's "quit" after a signal before it quits on its own."""
END_WORKERS_S: Final = 15.0
"""How long the master waits for its workers' last reports at the end of a run."""
FORCED_WORKERS_S: Final = 2.0
"""The same wait, after a second signal (the workers got it too and quit at once)."""
POLL_S: Final = 0.1


def install(environment: Any, interrupts: Interrupts) -> list[Any]:
    """Handle SIGINT and SIGTERM in this Locust process from now on; keep the returned handles."""
    handles = [gevent.signal_handler(signum, _on_signal, environment, interrupts, signum) for signum in STOP_SIGNALS]
    if isinstance(environment.runner, WorkerRunner):
        _keep_locusts_handlers_off_workers()
    return handles


def _keep_locusts_handlers_off_workers() -> None:
    """On a worker, leave out the SIGTERM handler Locust's ``main()`` installs after ``init``.

    SIGTERM to the process group reaches every worker at the moment it reaches the master. Locust's
    handler shuts a worker down at once; the master, which has only recorded the signal and ends the
    run at its shape's next tick, then sees a worker quit and hands its users to the workers left —
    which start them while they shut down themselves, so iterations were attempted that no report
    ever counted (seen as attempts > successes + failures + interrupted). With this, SIGTERM on a
    worker is handled like SIGINT: it waits for the master's "quit" (stop users, last report), and
    quits on its own only if none comes (:data:`WORKER_GRACE_S`). A second signal still quits at once.
    """
    original = gevent.signal_handler

    def signal_handler(signum: int, handler: Any, *args: Any, **kwargs: Any) -> Any:
        if signum in STOP_SIGNALS:
            log.debug("a later %s handler is left out on this worker: wsrace's handles it",
                      signal.Signals(signum).name)
            return None
        return original(signum, handler, *args, **kwargs)

    gevent.signal_handler = signal_handler


def end_workers(runner: Any, interrupts: Interrupts, wait_s: float = END_WORKERS_S) -> None:
    """On a master: tell every worker to quit and wait until each has (a worker stops its users,
    sends its last report, then says "quit"; messages arrive in order), by a deadline that a
    second signal shortens. Locust's own ``quit()`` waits a fixed 0.5 s, which loses the last
    reports of a busy machine. Does nothing on other runners."""
    if not isinstance(runner, MasterRunner):
        return
    deadline = time.monotonic() + wait_s
    for client in list(runner.clients.all):
        runner.server.send_to_client(Message("quit", None, client.id))
    while runner.clients.all:
        now = time.monotonic()
        if interrupts.forced:
            deadline = min(deadline, interrupts.received[1][1] + FORCED_WORKERS_S)
        if now >= deadline:
            left = ", ".join(client.id for client in runner.clients.all)
            log.error("workers did not quit within %.0f s; their last reports are lost: %s", wait_s, left)
            return
        gevent.sleep(POLL_S)


def _on_signal(environment: Any, interrupts: Interrupts, signum: int) -> None:
    name = signal.Signals(signum).name
    count = interrupts.add(name)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        if count == 1:
            gevent.spawn(_worker_quits_later, runner)
        else:
            runner.quit()
        return
    if count == 1:
        log.warning("%s: stopping the run (users, then the bundled target), results follow; "
                    "send it again to stop at once", name)
        _end_run(environment, interrupts)
    else:
        log.warning("%s again: stopping at once; the results keep what was counted", name)
        ctx = getattr(environment, "wsrace", None)
        if ctx is not None and ctx.finished and ctx.target is not None:
            ctx.target.kill()  # the verdict is being made: do not wait for the target's own shutdown


def headless(environment: Any) -> bool:
    return bool(getattr(environment.parsed_options, "headless", False))


def _end_run(environment: Any, interrupts: Interrupts) -> None:
    runner = environment.runner
    if environment.shape_class is not None and headless(environment):
        if isinstance(runner, MasterRunner) and runner.state == STATE_INIT:
            # Locust's headless master still waits for its workers (a loop that checks this option
            # every second): let it start the shape, whose first tick then ends the run.
            environment.parsed_options.expect_workers = 0
        return  # the shape sees the signal at its next tick and ends the run like the schedule's end

    def stop() -> None:
        # No shape, or the web UI (where the end of a shape only stops the users, and Locust waits
        # for the web UI to end): quit here.
        end_workers(runner, interrupts)
        runner.quit()
        if environment.web_ui is not None:
            environment.web_ui.stop()

    gevent.spawn(stop)


def _worker_quits_later(runner: Any) -> None:
    gevent.sleep(WORKER_GRACE_S)
    if len(runner.greenlet):  # Locust's group of the runner's greenlets, empty once it quit
        log.warning("no word from the master %.0f s after the signal: this worker quits", WORKER_GRACE_S)
        runner.quit()
