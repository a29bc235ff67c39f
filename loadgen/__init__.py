"""loadgen: the Locust-side library of wsrace.

Import what you need from its modules; importing this package itself loads nothing heavy, so the
target app can share :mod:`loadgen.protocol` without pulling in gevent or Locust.
"""

__version__ = "0.1.0"
