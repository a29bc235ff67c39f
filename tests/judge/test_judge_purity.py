"""The judging layer is pure + file I/O: no event loop, no Locust, no sockets; a short, checked __all__."""

from __future__ import annotations

import subprocess
import sys

import loadgen.judge


def test_judge_imports_no_event_loop_locust_or_socket() -> None:
    """Importing the judge and its two commands loads neither gevent, Locust, asyncio nor socket."""
    code = (
        "import sys\n"
        "import loadgen.judge, loadgen.commands.check, loadgen.commands.compare\n"
        "print(sorted(m for m in ('asyncio', 'gevent', 'locust', 'socket', 'uvloop', 'websockets')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_exist_and_are_listed_once() -> None:
    """Every name in loadgen.judge.__all__ exists, once, in sorted order."""
    names = loadgen.judge.__all__
    assert all(hasattr(loadgen.judge, name) for name in names)
    assert len(set(names)) == len(names)
    assert names == sorted(names, key=lambda n: (not n[0].isupper(), n))
