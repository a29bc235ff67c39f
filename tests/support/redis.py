"""Start a real ``redis-server`` for a test: on a unix socket in the test's own directory, no TCP.

    with running_redis(tmp_path) as redis:
        running_target("--broker", redis.url, workers=2)    # unix:///…/redis.sock

``--port 0`` (no TCP port to race for), ``--save ''`` and ``--appendonly no`` (nothing written to
disk). A :class:`loadgen.children.Child` in its own process group, dying with the test process;
leaving the ``with`` block always stops it, even when the test failed. Tests that need it skip with
the reason where ``/usr/bin/redis-server`` is missing (:data:`MISSING`; ``.ci/install-system-deps``
installs it in CI).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadgen.children import Child

__all__ = ["MISSING", "REDIS_SERVER", "Redis", "running_redis"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
MISSING = None if Path(REDIS_SERVER).exists() else (
    f"no redis-server at {REDIS_SERVER} (Debian's redis-server package; .ci/install-system-deps installs it)"
)
"""Why a broker test cannot run here, or None."""
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Redis:
    child: Child
    socket_path: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"


def _answers(path: Path) -> bool:
    """Whether the server on ``path`` answers PING (one short, bounded attempt)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1.0)
        sock.connect(str(path))
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[Redis]:
    """A redis-server on ``directory/redis.sock``, up and answering, until the block ends."""
    path = directory / "redis.sock"
    cmd = [REDIS_SERVER, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
           "--save", "", "--appendonly", "no", "--dir", str(directory), "--loglevel", "warning"]
    with Child.start(cmd, name="redis", output="log") as child:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(path):
            if child.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not answer on {path}:\n{child.tail()}")
            time.sleep(0.02)
        try:
            yield Redis(child, path)
        finally:
            child.stop(grace=5.0)
