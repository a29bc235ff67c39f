"""When the machine says no: an OS error turned into an error kind and a line in plain words. Pure.

Holding many sessions ends, on a correct server, at one of the machine's limits, and each has its
``errno``. A failure there is not the server's fault and not a protocol finding, so it gets a kind
of its own, and the verdict says which limit in words instead of quoting a traceback:

=============================  =================  ==========================================
errno                          kind               plain words
=============================  =================  ==========================================
``EMFILE``, ``ENFILE``         ``out_of_fds``     file descriptors (``ulimit -n``, ``fs.file-max``)
``EADDRNOTAVAIL``, ``EADDRINUSE``  ``out_of_ports``   ephemeral ports (``ip_local_port_range``)
``ENOMEM``, ``ENOBUFS``        ``out_of_memory``  memory
=============================  =================  ==========================================

:func:`machine_limit` finds such an error in an exception's chain (a
:class:`~loadgen.errors.HandshakeFailed` keeps the ``OSError`` as its cause); :func:`explain`
turns counts of failures by kind into the verdict's lines.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Final

from loadgen.protocol.errors import ScenarioFailure

__all__ = ["KINDS", "MachineLimit", "explain", "kind_of_errno", "machine_limit"]

_BY_ERRNO: Final[dict[int, str]] = {
    errno.EMFILE: "out_of_fds",
    errno.ENFILE: "out_of_fds",
    errno.EADDRNOTAVAIL: "out_of_ports",
    errno.EADDRINUSE: "out_of_ports",
    errno.ENOMEM: "out_of_memory",
    errno.ENOBUFS: "out_of_memory",
}

WORDS: Final[dict[str, str]] = {
    "out_of_fds": "file descriptors: a process reached its open-file limit (EMFILE: ulimit -n) or the "
                  "system its own (ENFILE: fs.file-max); use more processes or raise the limit",
    "out_of_ports": "ephemeral ports: no free local port for another connection to the target "
                    "(EADDRNOTAVAIL, net.ipv4.ip_local_port_range); spread the sessions over more "
                    "--source-addresses",
    "out_of_memory": "memory: the kernel refused memory or socket buffers (ENOMEM/ENOBUFS); ask for "
                     "fewer sessions or free memory",
}
KINDS: Final = tuple(WORDS)


class MachineLimit(ScenarioFailure):
    """A step failed because the machine ran out of something (its ``kind`` says what)."""

    def __init__(self, kind: str, error: OSError) -> None:
        self.kind = kind  # type: ignore[misc]  # per instance: one class for the three limits
        self.errno = error.errno
        name = errno.errorcode.get(error.errno or 0, str(error.errno))
        super().__init__(f"the machine said no: {WORDS[kind].split(':')[0]} ({name}: {error.strerror})")


def kind_of_errno(number: int | None) -> str | None:
    """The kind of a machine limit for an ``errno``, None for any other error."""
    return _BY_ERRNO.get(number) if number is not None else None


def machine_limit(exc: BaseException) -> MachineLimit | None:
    """A :class:`MachineLimit` for the first ``OSError`` of a machine limit in ``exc``'s chain
    (``exc`` itself, its ``__cause__``, then ``__context__``), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (kind := kind_of_errno(current.errno)) is not None:
            return MachineLimit(kind, current)
        current = current.__cause__ or current.__context__
    return None


def explain(failures: Mapping[str, int]) -> list[str]:
    """One plain line per machine limit that failed iterations (``failures``: count by kind)."""
    return [f"the machine said no ({count:,} failed): {WORDS[kind]}"
            for kind, count in failures.items() if kind in WORDS and count > 0]
