"""The shared protocol core loads neither asyncio nor gevent nor Locust (STYLE.md: a core with no I/O)."""

from __future__ import annotations

import subprocess
import sys


def test_protocol_core_imports_no_event_loop() -> None:
    """Importing the protocol modules, the conversation rules and the error tree loads no event loop,
    server or Locust."""
    code = (
        "import sys\n"
        "import loadgen.protocol.wire, loadgen.protocol.jobs, loadgen.protocol.sequence\n"
        "import loadgen.protocol.tokens, loadgen.protocol.closecodes, loadgen.protocol.metrics\n"
        "import loadgen.protocol.conversation, loadgen.protocol.errors, loadgen.errors\n"
        "print(sorted(m for m in ('asyncio', 'gevent', 'locust', 'uvloop', 'websockets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_conversation_rules_load_no_socket() -> None:
    """The conversation rules (and the wire, job, sequence and close-code modules they use) load no socket
    module at all: they are fed dicts. (``tokens`` is left out: PyJWT itself imports ``ssl``.)"""
    code = (
        "import sys\n"
        "import loadgen.protocol.conversation, loadgen.errors\n"
        "print(sorted(m for m in ('socket', 'ssl', 'selectors', 'asyncio', 'gevent') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
