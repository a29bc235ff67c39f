"""The bundled target app: a WebSocket server that implements PROTOCOL.md correctly by default.

``python -m target_app`` (or ``wsrace serve``) starts a supervisor process (:mod:`.supervisor`) and
N uvloop worker processes (:mod:`.worker`) sharing one port with SO_REUSEPORT. Each ``--fault NAME``
swaps in a faithful copy of one real race-condition bug (:mod:`.faults`), so that the scenarios
can show they catch it.

Layers, each importing only the ones above it (no import cycle, TYPE_CHECKING imports included):

1. Leaves: :mod:`.config` (the settings), :mod:`.ids`, :mod:`.metrics`, :mod:`.tasks`,
   :mod:`.outbox` and :mod:`.stall` (what a connection owes its client, and when it gives up),
   :mod:`.sockets`, :mod:`.logs`; then :mod:`.context`, the :class:`~.context.WorkerContext` that
   every part of a worker is handed (settings, metrics, ids, tasks, failure reporting, the
   shutting-down flag).
2. The parts: :mod:`.jobs` (the ``start``/``subscribe`` jobs of one worker, which know their
   subscribers only through the :class:`~.jobs.Subscriber` protocol), :mod:`.connection` (one
   client; it calls the jobs, never the reverse), :mod:`.routes` (``process_request``: /healthz,
   /metrics, handshake auth; given only the secret and a counter), :mod:`.broker` (``--broker``:
   the jobs across workers through Redis, seen by the jobs only as their ``JobBus`` protocol) and
   its pure half :mod:`.broker_merge` (a leaf).
3. :mod:`.wiring` (which parts a worker runs with, and how faults' replacements compose) and
   :mod:`.faults` (one module per bug, each declaring the parts it replaces; which faults combine is
   derived from those parts).
4. The worker: :mod:`.app` (builds the parts and hands each its dependencies), :mod:`.server` (one
   worker's event loop and shutdown), :mod:`.worker` (the process; installs the faults);
   :mod:`.supervisor` and :mod:`.cli` (flags -> :class:`~.config.Config`) above them.

Of ``loadgen``, this package imports only the shared pure core, :mod:`loadgen.protocol` (wire
format, tokens, close codes, the job state machine, the fault catalogue); nothing else.
"""
