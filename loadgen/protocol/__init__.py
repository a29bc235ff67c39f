"""The wire protocol of PROTOCOL.md as pure code, shared by the target app and the load side.

Nothing here imports asyncio, gevent or socket: message shapes and validation (:mod:`.wire`),
sequence numbers (:mod:`.sequence`), the job state machine (:mod:`.jobs`), tokens (:mod:`.tokens`),
close-code judging (:mod:`.closecodes`) and the metric names (:mod:`.metrics`).
"""
