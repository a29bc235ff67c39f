"""The parent process: reserve the port, start the workers, restart the ones that die, stop them all.

Always a supervisor plus N worker processes, even for N = 1, so that shutdown escalation works the
same way everywhere:

1. Bind (not listen) a SO_REUSEPORT socket: ``--port 0`` gets its port here, and the port stays ours
   while a worker restarts. Create the metrics directory (``PROMETHEUS_MULTIPROC_DIR``).
2. Start each worker as a fresh interpreter (``python -m target_app.worker``); each writes ``ready``
   on a pipe once it accepts connections. When all have, print the one listening line on stdout.
3. A worker that exits on its own is logged and restarted (with a backoff if it keeps dying); its
   live gauges are dropped from the metrics (``mark_process_dead``). Each exit and each restart is
   also one JSON line on stdout, after the listening line, for whoever started us to name it::

     {"event": "worker_exit", "index": 1, "pid": 4321, "code": -9, "signal": 9, "time": 1760000000.123}
     {"event": "worker_restarted", "index": 1, "pid": 4399, "time": 1760000000.456}

   ``code`` is the exit code (negative: killed by that signal, also given as ``signal``, else
   null); ``time`` is the wall clock (Unix seconds), as the reader's clock is another process's.
4. On SIGTERM / SIGINT: forward the signal to every worker and wait ``shutdown_timeout`` plus a
   small grace. A worker still running then is killed, reported on stderr, and the exit code is 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Final

from loadgen.protocol.tokens import SECRET_ENV
from target_app import logs
from target_app.config import BROKER_ENV, Config
from target_app.sockets import shared_socket

log = logging.getLogger("target_app.supervisor")

STARTUP_TIMEOUT_S: Final = 60.0
ESCALATION_GRACE_S: Final = 1.0
"""Beyond the shutdown timeout, before a worker that has not exited is killed."""
STABLE_AFTER_S: Final = 5.0
"""A worker that ran this long before dying is restarted at once; sooner, with a growing delay."""
MAX_RESTART_DELAY_S: Final = 5.0
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BROKEN = 0, 1, 2, 3  # wsrace's exit-code contract


@dataclass(eq=False)
class Worker:
    index: int
    proc: asyncio.subprocess.Process
    started: float
    ready: asyncio.Future[bool]
    exited: asyncio.Task[int] = field(init=False)

    def __post_init__(self) -> None:
        self.exited = asyncio.get_running_loop().create_task(self.proc.wait())

    @property
    def label(self) -> str:
        return f"worker {self.index} (pid {self.proc.pid})"


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.workers: dict[int, Worker] = {}
        self._stop = asyncio.Event()
        self._signal = signal.SIGTERM
        self._restart_delay: dict[int, float] = {}
        self._env: dict[str, str] = {}
        self._metrics_dir = ""

    def _on_signal(self, signum: signal.Signals) -> None:
        if not self._stop.is_set():
            log.info("got %s: stopping the workers", signum.name)
            self._signal = signum
            self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            reservation = shared_socket(self.config.host, self.config.port)
        except OSError as exc:
            sys.stderr.write(
                f"target_app: cannot listen on {self.config.host}:{self.config.port}: "
                f"{exc.strerror or exc}\n"
            )
            return EXIT_BAD_INPUT
        if self.config.broker:
            from target_app.broker import reachable  # only with a broker: the default path never loads redis

            problem = await reachable(self.config.broker)
            if problem:
                reservation.close()
                sys.stderr.write(f"target_app: cannot reach the broker --broker {self.config.broker}: {problem}\n")
                return EXIT_BAD_INPUT
        self._metrics_dir = tempfile.mkdtemp(prefix="wsrace-metrics-")
        try:
            port = int(reservation.getsockname()[1])
            self.config = self.config.with_port(port)
            self._env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": self._metrics_dir,
                         SECRET_ENV: self.config.secret}
            self._env.pop(BROKER_ENV, None)
            if self.config.broker:
                self._env[BROKER_ENV] = self.config.broker
            return await self._serve()
        finally:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
            reservation.close()

    async def _serve(self) -> int:
        for index in range(self.config.workers):
            self.workers[index] = await self._spawn(index)
        if not await self._all_ready():
            await self._stop_all()
            return EXIT_BROKEN  # the server never came up: nothing was judged, the run broke
        _say(event="listening", host=self.config.host, port=self.config.port,
             workers=self.config.workers, pid=os.getpid())
        log.info("listening on %s:%d with %d workers", self.config.host, self.config.port,
                 self.config.workers)
        log.log(*jobs_note(self.config))
        await self._supervise()
        return await self._stop_all()

    # ------------------------------------------------------------------------------- starting

    async def _spawn(self, index: int) -> Worker:
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "target_app.worker",
                "--index", str(index), "--config", self.config.to_worker_json(),
                "--ready-fd", str(write_fd), "--parent-pid", str(os.getpid()),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno(),  # stdout is only for the listening line
                pass_fds=(write_fd,),
                env=self._env,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return Worker(index, proc, loop.time(), self._watch_ready(read_fd))

    def _watch_ready(self, fd: int) -> asyncio.Future[bool]:
        """True once the worker writes ``ready``; False if it closes the pipe first (it died)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        seen = bytearray()

        def readable() -> None:
            try:
                chunk = os.read(fd, 64)
            except BlockingIOError:
                return
            seen.extend(chunk)
            if chunk and b"ready" not in seen:
                return
            loop.remove_reader(fd)
            os.close(fd)
            if not future.done():
                future.set_result(bool(chunk))

        os.set_blocking(fd, False)
        loop.add_reader(fd, readable)
        return future

    async def _all_ready(self) -> bool:
        stop = asyncio.ensure_future(self._stop.wait())
        pending: set[asyncio.Future[bool] | asyncio.Future[object]] = {
            w.ready for w in self.workers.values()
        }
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while pending - {stop}:
                    done, pending = await asyncio.wait(
                        pending | {stop}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stop in done:
                        return False
                    for worker in self.workers.values():
                        if worker.ready in done and not worker.ready.result():
                            code = await worker.exited
                            log.error("%s exited with code %s before accepting connections",
                                      worker.label, code)
                            return False
        except TimeoutError:
            log.error("workers not accepting connections after %g s", STARTUP_TIMEOUT_S)
            return False
        finally:
            stop.cancel()
        return True

    # ---------------------------------------------------------------------------- supervising

    async def _supervise(self) -> None:
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                exits = {w.exited: w for w in self.workers.values()}
                done, _ = await asyncio.wait([*exits, stop], return_when=asyncio.FIRST_COMPLETED)
                for task, worker in exits.items():
                    if task in done and not self._stop.is_set():
                        await self._restart(worker)
        finally:
            stop.cancel()

    async def _restart(self, worker: Worker) -> None:
        loop = asyncio.get_running_loop()
        code = worker.proc.returncode
        log.warning("%s exited unexpectedly with code %s; restarting it", worker.label, code)
        _say(event="worker_exit", index=worker.index, pid=worker.proc.pid, code=code,
             signal=-code if code is not None and code < 0 else None, time=time.time())
        self._forget(worker)
        lived = loop.time() - worker.started
        delay = 0.0 if lived >= STABLE_AFTER_S else min(
            MAX_RESTART_DELAY_S, max(0.1, 2 * self._restart_delay.get(worker.index, 0.0))
        )
        self._restart_delay[worker.index] = delay
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
        fresh = await self._spawn(worker.index)
        self.workers[worker.index] = fresh
        fresh.ready.add_done_callback(lambda ready: self._restarted(fresh) if ready.result() else None)

    @staticmethod
    def _restarted(worker: Worker) -> None:
        log.info("%s restarted and accepting", worker.label)
        _say(event="worker_restarted", index=worker.index, pid=worker.proc.pid, time=time.time())

    def _forget(self, worker: Worker) -> None:
        """A dead worker's open connections must stop counting in the summed gauge."""
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(worker.proc.pid, self._metrics_dir)

    # ------------------------------------------------------------------------------- stopping

    async def _stop_all(self) -> int:
        signum = self._signal
        workers = [w for w in self.workers.values() if w.proc.returncode is None]
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(signum)
        limit = self.config.shutdown_timeout + ESCALATION_GRACE_S
        code = EXIT_OK
        if workers:
            _, stuck = await asyncio.wait([w.exited for w in workers], timeout=limit)
            for worker in workers:
                if worker.exited in stuck:
                    log.error(
                        "%s did not exit within %g s of %s (shutdown timeout %g s): killed it",
                        worker.label, limit, signum.name, self.config.shutdown_timeout,
                    )
                    with contextlib.suppress(ProcessLookupError):
                        worker.proc.kill()
                    await worker.exited
                    code = EXIT_FAILED
                elif worker.proc.returncode != 0:
                    log.error("%s exited with code %s on shutdown", worker.label,
                              worker.proc.returncode)
                    code = EXIT_FAILED
        for worker in self.workers.values():
            self._forget(worker)
        log.info("stopped (exit code %d)", code)
        return code


def jobs_note(config: Config) -> tuple[int, str]:
    """The log level and line that say where jobs live (a warning where PROTOCOL.md 1.1 breaks)."""
    if config.broker:
        return logging.INFO, f"jobs are shared by the {config.workers} workers through the broker"
    if config.workers > 1:
        return logging.WARNING, (
            f"jobs are per worker: with {config.workers} workers and no --broker, a connection on "
            "another worker gets not_found for a job (PROTOCOL.md 1.1 wants it shared: "
            "--broker redis://HOST:PORT or unix:///PATH shares it)")
    return logging.INFO, "jobs are this one worker's"


def _say(**line: object) -> None:
    """One JSON line on stdout (the listening line, then worker events); a reader that went away
    is not our failure: the line is in the log too."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def main(config: Config) -> int:
    logs.setup(config.log_level, "supervisor")
    return asyncio.run(Supervisor(config).run())
