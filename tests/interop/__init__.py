"""An independent, correct server of PROTOCOL.md on another stack (Starlette on uvicorn), and its checks.

It proves wsrace's verdicts on more than the bundled ``websockets`` server: the scenarios must pass
against a correct server of the stack FastAPI and Starlette apps run on. Written from PROTOCOL.md
alone: nothing here imports ``target_app``, and the server takes from ``loadgen`` only the token
secret's development default, so that wsrace's minted tokens work.

- ``rules``: the protocol's messages, limits and tokens (pure: no I/O);
- ``jobs``: jobs that belong to the server, subscribe as one step, state events;
- ``outbox``: one connection's output: seq, backpressure, stall and size limits (1013);
- ``metrics``: the Prometheus counters of ``/metrics``;
- ``connection``: one WebSocket conversation on raw ASGI (auth, ready, ops);
- ``app``: the Starlette app (``/ws``, ``/healthz``, ``/metrics``) and its graceful close;
- ``serve``: ``python -m tests.interop.serve --ws wsproto|websockets-sansio`` on uvicorn.

For the tests: ``process`` runs the server as a real process, ``wsclient`` is a small independent
client (websockets' own), ``test_server_parts`` checks parts without sockets and ``test_interop``
checks the server row by row, then runs ``wsrace run --profile quick`` against it on each stack.
"""
