"""Subcommands of the ``wsrace`` CLI; each module has ``main(argv) -> int`` (an exit code).

The top of loadgen's levels: a command may import any of loadgen. Only :mod:`.serve` imports
``target_app``, to hand ``wsrace serve`` over to it; the others start the target as a child process
(:mod:`loadgen.bundled`), so that ``wsrace run`` never loads asyncio servers and ``wsrace serve``
never loads gevent or Locust.
"""
