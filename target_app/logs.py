"""Logging to stderr for the supervisor and the workers (stdout carries only the listening line)."""

from __future__ import annotations

import logging
import sys


def setup(level: str, role: str) -> None:
    """``role`` names the process in every line: ``supervisor`` or ``w0``, ``w1``…"""
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format=f"%(asctime)s %(levelname)-7s wsrace-target[{role}] %(name)s: %(message)s",
        force=True,
    )
    if level != "debug":
        # websockets logs every connection opened and refused at INFO: far too much under load.
        logging.getLogger("websockets").setLevel(logging.WARNING)
