"""The client's side of a PROTOCOL.md conversation as pure rules: fed message dicts, raising failures.

A :class:`Conversation` is what one connection has seen and promised: the ``seq`` expected next, the
ops sent and not yet answered, the jobs it started or subscribed to, the bursts it asked for. It does
no I/O: :class:`loadgen.client.ProtocolClient` reads and sends, and hands each message here. Each rule
relies only on what the protocol promises, never on quirks of the bundled target, and raises one kind
of :mod:`.errors`:

=======================================================  =========================================
rule                                                     failure (kind)
=======================================================  =========================================
a message of unknown type, or a field missing / wrong    ``bad_reply``
first message not ``ready`` (``unauthorized``: refused)  ``bad_reply`` (``auth_rejected``)
close 1008 instead of ``ready``                          ``auth_rejected``
``ready`` or a state event naming another user           ``foreign_event``
``seq`` skipped / repeated or going back                 ``seq_gap`` / ``out_of_order``
an error without ``seq`` after ``ready``                 ``bad_reply``
a reply whose id answers no outstanding op               ``bad_reply``
a later op answered before ours (ops run in order)       ``missed_event``
an op answered with an error, or the wrong type          ``bad_reply``
a state event for a job never subscribed to              ``foreign_event``
a state event after the job halted, or a step back       ``out_of_order``
a state event that skips steps                           ``missed_event``
a state or snapshot the job's transitions never reach    ``bad_reply``
no ``halted`` by the deadline                            ``missed_event``
a burst item skipped / repeated                          ``missed_event`` / ``out_of_order``
a burst item of unknown burst, or of the wrong size      ``bad_reply``
a change, item or reply still owed at the deadline       ``missed_event``
an answer to an op sent after a ``close`` op             ``bad_reply``
echo data changed (carrying another user's data)         ``bad_reply`` (``foreign_event``)
a close code the step does not allow                     ``abnormal_close`` / ``unexpected_close``
=======================================================  =========================================

Job states are judged through :mod:`.jobs`' transitions (:func:`.jobs.advance`,
:func:`.jobs.reachable`), so the client and the target app share one state machine.

**What is owed** (:meth:`Conversation.owed`) is derived from the same records, so a loss is noticed
by content, never only by a ``seq`` gap (a server that numbers messages as it writes them keeps the
``seq`` continuous while dropping one): for each subscribed job of known length, every change from
the last one seen (the snapshot at first) to ``halted``; for each burst, every item not yet read;
for each op sent, its reply. A caller reads until nothing is owed, and at its deadline turns what is
left into one ``missed_event`` (:meth:`Conversation.missed`) naming every missing message.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from loadgen.protocol import wire
from loadgen.protocol.closecodes import MID_CONVERSATION, POLICY, Expectation, classify_close
from loadgen.protocol.errors import (
    AbnormalClose,
    AuthRejected,
    BadReply,
    ForeignEvent,
    MissedEvent,
    OutOfOrder,
    ScenarioFailure,
    SeqGap,
    UnexpectedClose,
)
from loadgen.protocol.jobs import HALTED, JobState, advance, reachable
from loadgen.protocol.sequence import Backwards, Gap, SeqChecker

__all__ = [
    "FINISHED_JOBS_KEPT",
    "REPLY_TYPES",
    "BurstProgress",
    "Conversation",
    "JobTrace",
    "Owed",
    "check_echo",
    "check_seq",
    "close_failure",
    "judge_close",
]

FINISHED_JOBS_KEPT: Final = 256
"""Halted jobs remembered per connection, so a late event for one reads as out of order."""

_PUSHED: Final = ("state", "burst")
"""Message types the server pushes; every other type after ``ready`` is the reply to one op."""

REPLY_TYPES: Final[dict[str, str]] = {"echo": "echo", "start": "started", "subscribe": "subscribed"}
"""The reply type of each op that has one direct reply (``burst`` is answered by its items, ``close``
by the close)."""


# --------------------------------------------------------------------------- closes and echoes


def close_failure(code: int | None, reason: str, expect: Expectation, context: str) -> ScenarioFailure | None:
    """The failure a received close code means under ``expect``, or None when it is fine."""
    kind = classify_close(code, expect)
    if kind is None:
        return None
    cls = AbnormalClose if kind == "abnormal_close" else UnexpectedClose
    return cls(code, reason, context)


def judge_close(code: int | None, reason: str, expect: Expectation, context: str) -> None:
    """Raise the failure a received close code means under ``expect``; return if it is fine."""
    failure = close_failure(code, reason, expect, context)
    if failure is not None:
        raise failure


def check_echo(reply: dict[str, Any], data: Any, user: str) -> None:
    """An echo reply must carry exactly the data sent; another user's data is a foreign event."""
    got = reply.get("data")
    if got == data:
        return
    if isinstance(got, dict) and got.get("user") not in (None, user):
        raise ForeignEvent(f"echo carried user {got.get('user')!r}'s data to {user!r}")
    raise BadReply(f"echo returned {got!r}, sent {data!r}")


def check_seq(checker: SeqChecker, msg: dict[str, Any]) -> None:
    """Feed ``msg``'s ``seq`` to ``checker``: a skipped number is a lost message, a repeat reordering."""
    try:
        checker.check(msg.get("seq"))
    except Gap as exc:
        raise SeqGap(exc.expected, exc.got) from None
    except Backwards as exc:
        raise OutOfOrder(f"seq went from {exc.expected - 1} to {exc.got!r}") from None


def _check_shape(msg: Any) -> None:
    problem = wire.check_server_message(msg)
    if problem is not None:
        raise BadReply(problem)


# --------------------------------------------------------------------------- what is tracked


@dataclass(slots=True)
class BurstProgress:
    """Items of one burst as they arrive: each ``i`` must be the next one."""

    count: int
    size: int
    received: int = 0
    nbytes: int = 0

    @property
    def complete(self) -> bool:
        return self.received == self.count


@dataclass(slots=True)
class JobTrace:
    """What a connection has seen of one of its jobs: ``(state, step)`` from the snapshot, then events."""

    job: str
    steps: int | None = None
    snapshot: tuple[str, int] | None = None
    events: list[tuple[str, int]] = field(default_factory=list)

    @property
    def last(self) -> tuple[str, int] | None:
        return self.events[-1] if self.events else self.snapshot

    @property
    def halted(self) -> bool:
        last = self.last
        return last is not None and last[0] == HALTED

    def owed(self) -> tuple[tuple[str, int], ...]:
        """The changes still owed after the last one seen, to ``halted``: none before the snapshot
        (nothing is promised before subscribing) or once halted; the job's length must be known."""
        last = self.last
        if last is None or last[0] == HALTED or self.steps is None:
            return ()
        walk, owed = JobState(*last), []
        while walk.state != HALTED:
            walk = advance(walk, self.steps)
            owed.append((walk.state, walk.step))
        return tuple(owed)


@dataclass(frozen=True, slots=True)
class Owed:
    """What a connection still waits for: per job the changes, per burst the items ``(next, count)``,
    the ops whose reply has not come ``(id, op)``, and the subscribed jobs of unknown length not yet
    halted (their last change is owed, its step unknown)."""

    changes: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    items: dict[int, tuple[int, int]] = field(default_factory=dict)
    replies: tuple[tuple[int, str], ...] = ()
    halts: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes or self.items or self.replies or self.halts)

    def describe(self) -> str:
        parts = [f"job {job}: {', '.join(f'{st} {step}' for st, step in owed)}" for job, owed in self.changes.items()]
        parts += [f"job {job}: halted" for job in self.halts]
        parts += [f"burst {bid}: items {nxt}..{count - 1}" for bid, (nxt, count) in self.items.items()]
        parts += [f"op {op_id} ({op}): its reply" for op_id, op in self.replies]
        return "; ".join(parts) or "nothing"


# --------------------------------------------------------------------------- the conversation


class Conversation:
    """The rules of one connection, as seen by the client whose user is ``user``."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.seq = SeqChecker()
        self.ready: dict[str, Any] | None = None
        self.jobs: dict[str, JobTrace] = {}
        self.bursts: dict[int, BurstProgress] = {}
        self._next_id = 1
        self._outstanding: dict[int, dict[str, Any]] = {}  # ops sent and not yet answered, by id, in send order
        # Halted jobs forgotten (newest last), made at the first: an empty deque keeps a 64-slot
        # block, 760 bytes of every idle connection a load generator holds.
        self._finished: deque[str] | None = None

    # ------------------------------------------------------------------ sending

    def number(self, op: dict[str, Any]) -> dict[str, Any]:
        """The op as it goes out: with the next id if it has none (1, 2, ...), awaited as a reply.

        ``auth`` is not an op with a reply and gets no id."""
        if op.get("op") == "auth":
            return op
        if "id" not in op:
            op = {**op, "id": self._next_id}
            self._next_id += 1
        if isinstance(op["id"], int):
            self._outstanding[op["id"]] = op
        return op

    def refused_send(self, code: int | None, reason: str, op: str | None) -> ScenarioFailure:
        """A send refused because the server already closed: judged by its close code, as if the close
        had been read while waiting (no close is fine mid-conversation)."""
        failure = close_failure(code, reason, MID_CONVERSATION, f"before sending {op!r}")
        return failure or UnexpectedClose(code, reason)

    # ------------------------------------------------------------------ the first message

    def refused_at_ready(self, closed: UnexpectedClose) -> AuthRejected | None:
        """A close 1008 where ``ready`` was due: the server refused our (good) token."""
        if closed.code == POLICY:
            return AuthRejected(f"good token for {self.user!r} refused: close 1008")
        return None

    def first(self, msg: Any) -> dict[str, Any]:
        """Judge the first message: ``ready``, seq 0, for our user."""
        _check_shape(msg)
        if msg["type"] == "error" and msg.get("code") == wire.UNAUTHORIZED:
            raise AuthRejected(f"good token for {self.user!r} refused in band: {msg.get('message', '')}")
        if msg["type"] != "ready":
            raise BadReply(f"first message must be 'ready', got {msg.get('type')!r}")
        check_seq(self.seq, msg)
        if msg["user"] != self.user:
            raise ForeignEvent(f"ready names user {msg['user']!r}, we are {self.user!r}")
        self.ready = msg
        return msg

    # ------------------------------------------------------------------ every later message

    def message(self, msg: Any) -> dict[str, Any]:
        """Judge any message after ``ready``: shape, seq; state events and burst items are recorded."""
        _check_shape(msg)
        kind = msg["type"]
        if kind == "error" and "seq" not in msg:
            raise BadReply(f"error message without seq after ready: {msg.get('code')}")
        check_seq(self.seq, msg)
        if kind == "state":
            self._on_state(msg)
        elif kind == "burst":
            self._on_burst_item(msg)
        return msg

    def reply(self, msg: dict[str, Any], msg_id: int, expected_type: str) -> bool:
        """Judge a message (already through :meth:`message`) read while waiting for the reply to
        ``msg_id``; True when it is that reply. Replies come in the order the ops were sent."""
        if msg["type"] in _PUSHED:
            return False
        reply_id = msg.get("id")
        if reply_id not in self._outstanding:
            raise BadReply(f"{msg['type']} reply with id {reply_id!r} answers no outstanding op")
        order = list(self._outstanding)
        if reply_id != msg_id and msg_id in self._outstanding and order.index(reply_id) > order.index(msg_id):
            # Ops are handled in order, so a later op answered first means ours was skipped.
            raise MissedEvent(f"op {msg_id} got no reply: op {reply_id}, sent after it, was answered first")
        del self._outstanding[reply_id]
        if msg["type"] == "error":
            raise BadReply(f"op {reply_id} answered with error {msg['code']}: {msg.get('message', '')}")
        if reply_id == msg_id and msg["type"] != expected_type:
            raise BadReply(f"op {reply_id} answered with {msg['type']!r}, expected {expected_type!r}")
        return reply_id == msg_id

    def answer(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Judge a message (already through :meth:`message`) read while nobody waits for one reply in
        particular: a reply must answer the oldest op still owed one (ops run in order), with the
        type and content that op asks for; it is recorded as :meth:`started` and :meth:`subscribed`
        record theirs. Returns the op it answered (None for a pushed message)."""
        if msg["type"] in _PUSHED:
            return None
        # A close op is answered by the close, so the reply is the oldest other op's.
        oldest = next((op_id for op_id, op in self._outstanding.items() if op.get("op") != "close"), None)
        if oldest is None:
            raise BadReply(f"{msg['type']} reply with id {msg.get('id')!r} answers no outstanding op")
        op = self._outstanding[oldest]
        self.reply(msg, oldest, REPLY_TYPES.get(op.get("op", ""), msg["type"]))
        if op["op"] == "echo":
            check_echo(msg, op.get("data"), self.user)
        elif op["op"] == "start":
            self.started(msg, op["steps"])
        elif op["op"] == "subscribe":
            self.subscribed(op["job"], msg)
        return op

    def after_close_op(self, msg: dict[str, Any], close_id: int) -> None:
        """The server ignores every op after a ``close`` op: answering one is a bad reply."""
        msg_id = msg.get("id")
        if isinstance(msg_id, int) and msg_id > close_id:
            raise BadReply(f"server answered op {msg_id} ({msg['type']}) sent after its close op {close_id}")

    # ------------------------------------------------------------------ jobs

    def started(self, reply: dict[str, Any], steps: int) -> str:
        """Record the job a ``started`` reply names, of ``steps`` steps; return its id."""
        job = reply["job"]
        self.jobs[job] = JobTrace(job, steps)
        return job

    def subscribed(self, job: str, reply: dict[str, Any]) -> tuple[str, int]:
        """Record a ``subscribed`` reply's snapshot; it must name the job and be a state the job reaches."""
        if reply["job"] != job:
            raise BadReply(f"subscribed reply names job {reply['job']!r}, asked for {job!r}")
        trace = self.jobs.setdefault(job, JobTrace(job))
        trace.snapshot = (reply["state"], reply["step"])
        if trace.steps is not None and not reachable(JobState(*trace.snapshot), trace.steps):
            raise BadReply(f"snapshot {trace.snapshot} impossible for a job of {trace.steps} steps")
        return trace.snapshot

    def expect_job(self, job: str, steps: int) -> None:
        """A job of our user started elsewhere (on another connection), of ``steps`` steps: once
        subscribed here, its every later change is owed here too."""
        self.jobs.setdefault(job, JobTrace(job)).steps = steps

    def halted(self, job: str) -> bool:
        return self.jobs[job].halted

    def halt_missed(self, job: str, timeout: float) -> MissedEvent:
        """The failure of a job whose ``halted`` did not come within ``timeout`` seconds."""
        return MissedEvent(f"job {job} never reported 'halted' within {timeout:g} s (last seen: {self.jobs[job].last})")

    def finish_job(self, job: str) -> None:
        """Forget a halted job's trace; any later event for it is out of order."""
        self.jobs.pop(job, None)
        finished = self._finished
        if finished is None:
            finished = self._finished = deque(maxlen=FINISHED_JOBS_KEPT)
        finished.append(job)

    def _on_state(self, msg: dict[str, Any]) -> None:
        if msg["user"] != self.user:
            raise ForeignEvent(f"state event of user {msg['user']!r} (job {msg['job']}) reached {self.user!r}")
        trace = self.jobs.get(msg["job"])
        if trace is None and self._finished is not None and msg["job"] in self._finished:
            raise OutOfOrder(f"job {msg['job']}: event {(msg['state'], msg['step'])} after it halted")
        if trace is None or trace.snapshot is None:
            # A job of ours we have not subscribed to (or not yet seen the reply of) sends no events.
            raise ForeignEvent(f"state event for job {msg['job']!r} this connection never subscribed to")
        last = trace.events[-1] if trace.events else trace.snapshot
        state = (msg["state"], msg["step"])
        if last[0] == HALTED:
            raise OutOfOrder(f"job {trace.job}: event {state} after it halted")
        if state[1] <= last[1]:
            raise OutOfOrder(f"job {trace.job}: step {state[1]} after step {last[1]}")
        if state[1] != last[1] + 1:
            raise MissedEvent(f"job {trace.job}: step {state[1]} follows step {last[1]}: the steps between were lost")
        if trace.steps is not None:
            # ``last`` is a running state the job reaches (the snapshot and every event were checked), so
            # the table has exactly one move from it.
            want = advance(JobState(*last), trace.steps)
            if JobState(*state) != want:
                raise BadReply(f"job {trace.job} of {trace.steps} steps: {state} should be {want.state}")
        trace.events.append(state)

    # ------------------------------------------------------------------ what is owed

    def owed(self) -> Owed:
        """Every message this connection is still owed (see the module docstring)."""
        changes, halts = {}, []
        for job, trace in self.jobs.items():
            if trace.snapshot is None or trace.halted:
                continue
            if trace.steps is None:
                halts.append(job)
            else:
                changes[job] = trace.owed()
        items = {bid: (p.received, p.count) for bid, p in self.bursts.items() if not p.complete}
        replies = tuple((op_id, str(op.get("op"))) for op_id, op in self._outstanding.items()
                        if op.get("op") != "close")
        return Owed(changes, items, replies, tuple(halts))

    @property
    def settled(self) -> bool:
        """Nothing is owed (the same as ``not owed()``, cheap enough to ask after every message)."""
        return not (
            any(trace.snapshot is not None and not trace.halted for trace in self.jobs.values())
            or any(not progress.complete for progress in self.bursts.values())
            or any(op.get("op") != "close" for op in self._outstanding.values())
        )

    def missed(self, when: str) -> MissedEvent:
        """The failure of what is still owed ``when`` (e.g. "at the deadline"), naming every message."""
        return MissedEvent(f"still owed {when}: {self.owed().describe()}")

    # ------------------------------------------------------------------ bursts

    def burst_asked(self, msg_id: int, count: int, size: int) -> BurstProgress:
        """Track the burst op ``msg_id``: it has no single reply, its items are the answer."""
        progress = self.bursts[msg_id] = BurstProgress(count, size)
        del self._outstanding[msg_id]
        return progress

    def _on_burst_item(self, msg: dict[str, Any]) -> None:
        progress = self.bursts.get(msg["id"])
        if progress is None:
            raise BadReply(f"burst item for unknown burst id {msg['id']!r}")
        i = msg["i"]
        if i != progress.received:
            if i > progress.received:
                raise MissedEvent(f"burst {msg['id']}: item {i} arrived, items {progress.received}..{i - 1} lost")
            raise OutOfOrder(f"burst {msg['id']}: item {i} after item {progress.received - 1}")
        if len(msg["data"]) != progress.size:
            raise BadReply(f"burst {msg['id']}: item {i} has {len(msg['data'])} chars, asked for {progress.size}")
        progress.received += 1
        progress.nbytes += progress.size
