"""The wire protocol of PROTOCOL.md as pure code, shared by the target app and the load side.

Bytes and dicts in, values and failures out: no asyncio, gevent, socket or Locust, and no import
of anything else of the project (tests/protocol/test_purity.py and tests/architecture check both).

- :mod:`.wire`: message shapes, validation of client messages, builders of client ops and server
  messages;
- :mod:`.conversation`: the promises a client judges a server by (seq, reply order, job traces,
  burst progress, foreign users, close codes), raising :mod:`.errors`' failures;
- :mod:`.errors`: the error taxonomy, one documented tree;
- :mod:`.jobs`: the job state machine; :mod:`.sequence`: sequence numbers;
- :mod:`.tokens`: JWT minting, checking and the secret's resolution; :mod:`.closecodes`: close-code
  judging; :mod:`.metrics`: the ``/metrics`` names; :mod:`.faults`: the catalogue of injectable bugs.
"""
