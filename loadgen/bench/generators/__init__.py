"""The three generators, each run as its own subprocess so that its CPU and memory are its own.

``python -m loadgen.bench.generators.<module> --workload W --url ws://... --connections N``; the
handshake with the parent is in :mod:`.control`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MODULES"]

MODULES: Final = {
    "wsrace": "loadgen.bench.generators.wsrace",
    "wssync": "loadgen.bench.generators.wssync",
    "asyncio": "loadgen.bench.generators.asyncio_plain",
}
