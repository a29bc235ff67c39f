"""A cheap, blocking WebSocket client session for load users: one socket, no helper thread.

:class:`Session` drives websockets' sans-I/O :class:`~websockets.client.ClientProtocol` over a plain
socket. Under Locust, gevent has monkey-patched :mod:`socket`, so every blocking call here yields to
the hub and a Locust user costs one greenlet; without gevent it works the same with blocking sockets
and threads. Nothing here imports Locust: timing and reporting belong to the layer above.

Its parts, one job each (dependencies point down this list; the first two are pure: bytes and
states in, no socket, no gevent):

- :mod:`~loadgen.session.frames`: the client's own data framing with a mask pool, the split of
  reads made only of whole data frames, and the frame-boundary tracker that says when it may run;
- :mod:`~loadgen.session.lifecycle`: the session's states and their transition table;
- :mod:`~loadgen.session.transport`: TCP/TLS opening and the I/O policy object, blocking or gevent,
  through which every read and write goes;
- :mod:`~loadgen.session.connection`: the socket, the protocol and the lifecycle under three
  locks: the opening handshake, writes, reads turned into messages, the close;
- :mod:`~loadgen.session.messages`: :class:`Session`, the message API (``send*``, ``recv*``) on a
  connection, and :class:`ConnectionEnded`.

Only the names in ``__all__`` below are public; import them from ``loadgen.session``.

What the race scenarios need from it, and where it lives:

- exact times (``time.perf_counter``, or the ``clock`` handed in): :attr:`Session.opened_at`,
  :attr:`~Session.last_sent_at`, :attr:`~Session.last_recv_at` (when the bytes of the message just
  returned were *read*, not when the caller got round to it), :attr:`~Session.close_received_at`;
- a deadline on every wait, set once at the call and never restarted (a retry, or a wait for
  another caller's read, counts against it): ``connect_timeout``, the ``timeout`` of each
  ``recv*``, ``send_timeout`` for a peer that stops reading, ``close_timeout`` for a peer that
  never ends TCP after a close;
- control over the order of bytes, inside RFC 6455 §4.1: ``connect(pipeline=[...])`` writes the
  upgrade request alone, reads the 101, and then at once, before reading anything else, writes the
  pipelined messages in one write (the early-message race: they reach the server before it can
  have sent ``ready``). A :meth:`Session.send` from another greenlet while the 101 is awaited
  waits for it (within the connect deadline), then goes out behind the pipeline;
- the close code exactly as received: :class:`ConnectionEnded` and
  :attr:`Session.close_code_received` (None: no close frame arrived, i.e. 1006).

How a session ends, and what each call then does (see :mod:`~loadgen.session.lifecycle`):

============================  =======================================  ========================
ended by                      ``recv*``                                ``send*``
============================  =======================================  ========================
the peer (close frame, EOF)   the messages read before, then           SessionClosedError
                              :class:`ConnectionEnded` (every time)
this side (close, abort)      SessionClosedError                       SessionClosedError
============================  =======================================  ========================

:meth:`Session.close` and :meth:`Session.abort` never raise on a session that already ended, and
do not change who ended it.

Concurrency: one greenlet (or thread) per session is the intended use, but another one may
``send``, ``close`` or ``abort`` while the first is blocked in ``recv``. Reads, writes and the
protocol object each have a lock; only a write to a peer that does not drain it waits for the peer
while holding one (bounded by ``send_timeout``), and the read side never waits for that lock: the
pongs and close replies it produces are queued for whoever writes next.
:attr:`Session.readers_waiting` says how many ``recv*`` calls are waiting for bytes.

Cost: the hot path is one ``send`` system call per message sent and one ``recv`` per read, with no
allocation but the frame and no lock but the read or write lock. Data frames are framed by
:class:`~loadgen.session.frames.ClientFramer`, and a read made only of whole, final, unmasked
data frames at a frame boundary is split by :func:`~loadgen.session.frames.split_data_frames`;
all else (handshake, control frames, fragments, cut frames, ``max_size``, errors, closing) is the
protocol's. See ``docs/session-choice.md`` for the measurements.

websockets is pinned below its next major version (pyproject.toml); the few of its internals
still read are named in :mod:`~loadgen.session.connection`.
"""

from loadgen.session.messages import ConnectionEnded, Session
from loadgen.session.transport import (
    SocketFactory,
    bound_connect,
    slow_reader_connect,
    tcp_connect,
    unverified_ssl_context,
)
from loadgen.urls import ws_url

__all__ = [
    "ConnectionEnded",
    "Session",
    "SocketFactory",
    "bound_connect",
    "slow_reader_connect",
    "tcp_connect",
    "unverified_ssl_context",
    "ws_url",
]
