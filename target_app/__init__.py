"""The bundled target app: a WebSocket server that implements PROTOCOL.md correctly by default.

``python -m target_app`` (or ``wsrace serve``) starts a supervisor process (:mod:`.supervisor`) and
N uvloop worker processes (:mod:`.worker`) sharing one port with SO_REUSEPORT. Each ``--fault NAME``
swaps in a faithful copy of one real race-condition bug (:mod:`.faults`), so that the scenarios
can show they catch it.

Layout: :mod:`.cli` (flags -> :class:`~.config.Config`), :mod:`.supervisor` (parent),
:mod:`.worker` / :mod:`.server` (one worker's event loop and shutdown), :mod:`.app` (one worker's
state), :mod:`.routes` (``process_request``: /healthz, /metrics, handshake auth), :mod:`.connection`
(one client), :mod:`.outbox` and :mod:`.stall` (what a connection owes its client, and when it gives
up), :mod:`.jobs` (the ``start``/``subscribe`` jobs of one worker), :mod:`.metrics`, :mod:`.ids`,
:mod:`.tasks`, :mod:`.wiring` (the parts a fault may replace).
"""
