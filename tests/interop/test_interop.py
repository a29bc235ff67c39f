"""Interop: wsrace's scenarios pass against a correct server of PROTOCOL.md on uvicorn (issue 9, point 0).

First the server itself is checked row by row with an independent client (websockets' sync client),
so that a broken interop server fails here and is not blamed on wsrace; then ``wsrace run --profile
quick`` runs against it, as a user would, once on uvicorn + wsproto and once on uvicorn +
websockets-sansio: every scenario must run and pass. Each stack gets its own server process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from tests.interop.process import ServerProcess, running_server
from tests.interop.wsclient import (
    counter,
    open_peer,
    pipeline_after_101,
    scrape,
    token,
    wait_for_counter,
    wait_until_steady,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

COUNTERS = ("wsrace_connections_open", "wsrace_connections_total", "wsrace_auth_failures_total",
            "wsrace_messages_received_total", "wsrace_messages_sent_total", "wsrace_jobs_started_total",
            "wsrace_dropped_messages_total", "wsrace_unhandled_errors_total")
"""PROTOCOL.md's counters, written out here rather than imported, so a drift on either side shows."""
SCENARIOS = set(parse_schedule(default_schedule("quick")).scenarios)
"""Every scenario the quick profile runs, read from its schedule."""
WSRACE = Path(sys.executable).with_name("wsrace")
RUN_TIMEOUT_S = 120
SMALL_WINDOW = 65536
"""SO_RCVBUF of a client that stops reading (see ``open_peer``)."""


# ----------------------------------------------------------------------------- HTTP and auth


def test_http_routes_and_every_counter(server: ServerProcess) -> None:
    """/healthz says ok, /metrics has every counter and closes{code=1000}, any other path is 404."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as resp:
        assert (resp.status, resp.read()) == (200, b"ok")
    samples = scrape(server.port)
    for name in COUNTERS:
        assert (name, ()) in samples, name
    assert ("wsrace_closes_total", (("code", "1000"),)) in samples
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/nope", timeout=5)
    assert caught.value.code == 404


@pytest.mark.parametrize("mode", ["header", "query", "inband"])
def test_each_auth_mode_gets_ready_then_numbered_replies(server: ServerProcess, mode: str) -> None:
    """Header, query string and in-band auth each lead to ready (seq 0) and a numbered echo."""
    tok = token("alice")
    with open_peer(server.url, None if mode == "inband" else tok, mode=mode) as peer:
        if mode == "inband":
            peer.send({"op": "auth", "token": tok})
        peer.ready("alice")
        assert peer.ask({"op": "echo", "id": 7, "data": {"a": [1, None]}}, "echo")["data"] == {"a": [1, None]}


BAD_TOKENS = {
    "garbage": ("header", "not-a-jwt"),
    "expired": ("header", token("alice", ttl_s=-60)),
    "other secret": ("header", token("alice", secret="another-secret-just-as-long-as-the-development-one")),
    "other algorithm": ("header", token("alice", algorithm="HS512")),
    "unsigned": ("header", token("alice", algorithm="none")),
    "no sub": ("header", token(None)),
    "empty sub": ("header", token("")),
    "empty query token": ("query", ""),
    "empty bearer": ("raw", "Bearer "),
    "other scheme": ("raw", "Basic YWxpY2U6cHc="),
}


def test_every_bad_handshake_token_is_401(server: ServerProcess) -> None:
    """Each invalid token in the handshake (incl. empty ones, another scheme) is HTTP 401, counted."""
    before = counter(server.port, "wsrace_auth_failures_total")
    for case, (mode, value) in BAD_TOKENS.items():
        url = f"{server.url}?token={value}" if mode == "query" else server.url
        headers = {"Authorization": value if mode == "raw" else f"Bearer {value}"} if mode != "query" else None
        with pytest.raises(InvalidStatus) as caught, connect(url, additional_headers=headers, open_timeout=5):
            pass
        assert caught.value.response.status_code == 401, case
    assert counter(server.port, "wsrace_auth_failures_total") - before == len(BAD_TOKENS)


@pytest.mark.parametrize("first", ["bad token", "not auth"])
def test_in_band_refusal_is_unauthorized_then_1008(server: ServerProcess, first: str) -> None:
    """A bad in-band token, or a first message that is not auth: unauthorized (no seq, id null), 1008."""
    with open_peer(server.url) as peer:
        peer.send({"op": "auth", "token": "x"} if first == "bad token" else {"op": "echo", "id": 1, "data": 1})
        error = peer.recv()
        assert (error["type"], error["code"], error["id"]) == ("error", "unauthorized", None) and "seq" not in error
        assert isinstance(error["message"], str)
        assert peer.closed_code() == (1008, [])


def test_no_auth_message_in_time_is_1008(impatient_server: ServerProcess) -> None:
    """A connection that sends nothing is closed with 1008 once auth_timeout passed."""
    with open_peer(impatient_server.url) as peer:
        assert peer.closed_code(timeout=10) == (1008, [])


def test_binary_frame_is_1003_before_and_after_auth(server: ServerProcess) -> None:
    """A binary frame closes the connection with 1003, before authentication and after ready."""
    with open_peer(server.url) as peer:
        peer.send(b"\x00")
        assert peer.closed_code() == (1003, [])
    with open_peer(server.url, token("alice")) as peer:
        peer.ready()
        peer.send(b"\x00")
        assert peer.closed_code() == (1003, [])


# ----------------------------------------------------------------------------- messages before ready


@pytest.mark.parametrize("mode", ["header", "inband"])
def test_ops_written_with_the_101_read_are_handled_in_order_after_ready(server: ServerProcess, mode: str) -> None:
    """rapid_connect by hand: ops written in one write the instant the 101 is read (in band: behind
    the auth message) are all answered, in order, after ready, as the authenticated user."""
    tok = token("carol")
    early = [{"op": "echo", "id": n, "data": {"n": n}} for n in range(1, 4)] + [{"op": "start", "id": 4, "steps": 0,
                                                                               "step_ms": 0}]
    frames = ([{"op": "auth", "token": tok}] if mode == "inband" else []) + early
    got = pipeline_after_101(server.url, frames, 1 + len(early), tok=None if mode == "inband" else tok)
    assert (got[0]["type"], got[0]["seq"], got[0]["user"]) == ("ready", 0, "carol"), got[0]
    assert [(m["type"], m["id"], m["seq"]) for m in got[1:]] == [("echo", 1, 1), ("echo", 2, 2), ("echo", 3, 3),
                                                                 ("started", 4, 4)]
    with open_peer(server.url, tok) as peer:  # the job is carol's: her other connection may subscribe
        peer.ready("carol")
        reply = peer.ask({"op": "subscribe", "id": 1, "job": got[4]["job"]}, "subscribed")
        assert (reply["state"], reply["step"]) == ("halted", 0)


# ----------------------------------------------------------------------------- bad input


BAD_INPUT = [
    ("not json", "bad_json", None),
    ('{"op": "echo", "id": 1, "data": NaN}', "bad_json", None),
    ("[1, 2]", "bad_request", None),
    ({"id": 1}, "bad_request", 1),
    ({"op": 5, "id": 2}, "bad_request", 2),
    ({"op": "echo", "id": "x", "data": 1}, "bad_request", None),
    ({"op": "echo", "id": True, "data": 1}, "bad_request", None),
    ({"op": "nope", "id": 3}, "unknown_op", 3),
    ({"op": "echo", "id": 4}, "bad_request", 4),
    ({"op": "start", "id": 5, "steps": 1001, "step_ms": 0}, "bad_request", 5),
    ({"op": "start", "id": 6, "steps": -1, "step_ms": 0}, "bad_request", 6),
    ({"op": "start", "id": 7, "steps": "1", "step_ms": 0}, "bad_request", 7),
    ({"op": "start", "id": 8, "steps": 1, "step_ms": 10001}, "bad_request", 8),
    ({"op": "start", "id": 9, "steps": 1.0, "step_ms": 1}, "bad_request", 9),
    ({"op": "burst", "id": 10, "count": 0, "size": 1}, "bad_request", 10),
    ({"op": "burst", "id": 11, "count": 10001, "size": 1}, "bad_request", 11),
    ({"op": "burst", "id": 12, "count": 1, "size": 65537}, "bad_request", 12),
    ({"op": "subscribe", "id": 13, "job": ""}, "bad_request", 13),
    ({"op": "subscribe", "id": 14, "job": 5}, "bad_request", 14),
    ({"op": "subscribe", "id": 15, "job": "no-such-job"}, "not_found", 15),
    ({"op": "close", "id": 16, "code": 1001}, "bad_request", 16),
    ({"op": "close", "id": 17, "code": 3999}, "bad_request", 17),
    ({"op": "close", "id": 18, "code": 5000}, "bad_request", 18),
    ({"op": "close", "id": 19, "code": 4000, "reason": "r" * 124}, "bad_request", 19),
    ({"op": "auth", "id": 20, "token": token("alice")}, "bad_request", 20),
]


def test_every_bad_input_row_gets_its_error_and_the_connection_stays(server: ServerProcess) -> None:
    """Each row of the bad-input table gets its error code (with id, seq, message); then echo still works."""
    with open_peer(server.url, token("alice")) as peer:
        peer.ready()
        for sent, code, msg_id in BAD_INPUT:
            peer.send(sent)
            reply = peer.recv()
            assert (reply["type"], reply["code"], reply["id"]) == ("error", code, msg_id), (sent, reply)
            assert isinstance(reply["message"], str) and reply["message"], reply
        peer.ask({"op": "echo", "id": 99, "data": "still open"}, "echo")


def test_a_message_over_1_mib_is_1009_and_one_of_1_mib_is_echoed(server: ServerProcess) -> None:
    """max_size is 1 MiB: a message of exactly 1 MiB is handled, one byte more closes with 1009."""
    frame = '{"op":"echo","id":1,"data":"%s"}'
    exact = frame % ("x" * ((1 << 20) - len(frame % "")))
    assert len(exact) == 1 << 20
    with open_peer(server.url, token("alice")) as peer:
        peer.ready()
        peer.send(exact)
        reply = peer.recv()
        assert (reply["type"], reply["id"], len(reply["data"])) == ("echo", 1, len(json.loads(exact)["data"]))
        peer.send(frame % ("x" * ((1 << 20) - len(frame % "") + 1)))
        assert peer.closed_code() == (1009, [])


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (4000, "bye"), (4999, "r" * 123)])
def test_close_op_closes_with_that_code_and_ignores_later_ops(server: ServerProcess, code: int, reason: str) -> None:
    """The close op closes with the code asked; ops sent right behind it get no answer, no error."""
    with open_peer(server.url, token("alice")) as peer:
        peer.ready()
        peer.send({"op": "close", "id": 1, "code": code, "reason": reason})
        for n in range(2, 12):
            try:
                peer.send({"op": "echo", "id": n, "data": n})
            except ConnectionClosed:
                break  # the server's close may overtake our later sends: they are ignored either way
        received, before = peer.closed_code()
        assert (received, before, peer.ws.close_reason) == (code, [], reason)


# ----------------------------------------------------------------------------- jobs


def test_a_fast_halt_is_in_the_snapshot_and_sends_no_event(server: ServerProcess) -> None:
    """start steps 0, then subscribe: the snapshot says halted at step 0, and no event follows."""
    with open_peer(server.url, token("alice")) as peer:
        peer.ready()
        job = peer.ask({"op": "start", "id": 1, "steps": 0, "step_ms": 0}, "started")["job"]
        reply = peer.ask({"op": "subscribe", "id": 2, "job": job}, "subscribed")
        assert (reply["job"], reply["state"], reply["step"]) == (job, "halted", 0)
        peer.ask({"op": "echo", "id": 3, "data": 0}, "echo")  # the next message: no event came between


def test_state_events_reach_every_subscribed_connection_of_the_owner(server: ServerProcess) -> None:
    """Two connections of one user subscribed to a running job both get every change, in order;
    another user gets forbidden, and the halted job is still subscribable (halted snapshot)."""
    steps = 4
    with open_peer(server.url, token("dave")) as a, open_peer(server.url, token("dave")) as b, \
            open_peer(server.url, token("erin")) as other:
        for peer, user in ((a, "dave"), (b, "dave"), (other, "erin")):
            peer.ready(user)
        job = a.ask({"op": "start", "id": 1, "steps": steps, "step_ms": 150}, "started")["job"]
        snapshots = [peer.ask({"op": "subscribe", "id": 2, "job": job}, "subscribed") for peer in (a, b)]
        refused = other.ask({"op": "subscribe", "id": 2, "job": job}, "error")
        assert refused["code"] == "forbidden"
        for peer, snapshot in zip((a, b), snapshots, strict=True):
            assert snapshot["state"] == "running"
            events = [peer.recv() for _ in range(steps - snapshot["step"])]
            assert [(e["type"], e["job"], e["user"], e["state"], e["step"]) for e in events] == [
                ("state", job, "dave", "halted" if i == steps else "running", i)
                for i in range(snapshot["step"] + 1, steps + 1)]
        late = b.ask({"op": "subscribe", "id": 3, "job": job}, "subscribed")
        assert (late["state"], late["step"]) == ("halted", steps)


# ----------------------------------------------------------------------------- slow readers


def test_a_burst_waits_for_a_reader_that_stopped_and_resumes_when_it_reads(server: ServerProcess) -> None:
    """A burst the client does not read stops short (backpressure: the server's sent counter stops
    moving below the burst's count); once read, every item arrives, in order, with no gap."""
    count, size = 500, 65536
    with open_peer(server.url, token("alice"), receive_buffer=SMALL_WINDOW) as peer:
        peer.ready()
        before = counter(server.port, "wsrace_messages_sent_total")
        peer.send({"op": "burst", "id": 1, "count": count, "size": size})
        paused_at = wait_until_steady(server.port, "wsrace_messages_sent_total")
        assert paused_at - before < count, "the server sent the whole burst to a reader that read nothing"
        items = [peer.recv() for _ in range(count)]
        assert [(m["type"], m["id"], m["i"], len(m["data"])) for m in items] == [
            ("burst", 1, i, size) for i in range(count)]
        peer.ask({"op": "echo", "id": 2, "data": "after"}, "echo")
    assert counter(server.port, "wsrace_dropped_messages_total") == 0


def test_a_reader_that_makes_no_progress_is_closed_1013_and_the_rest_counted(
        impatient_server: ServerProcess) -> None:
    """After stall_timeout without progress: 1013; items read + items counted dropped = the burst."""
    count, port = 500, impatient_server.port
    with open_peer(impatient_server.url, token("alice"), receive_buffer=SMALL_WINDOW) as peer:
        peer.ready()
        dropped_before = counter(port, "wsrace_dropped_messages_total")
        peer.send({"op": "burst", "id": 1, "count": count, "size": 65536})
        dropped = wait_for_counter(port, "wsrace_dropped_messages_total", dropped_before) - dropped_before
        code, items = peer.closed_code(timeout=30)
        assert (code, peer.ws.close_reason) == (1013, "reader too slow: no progress")
        assert [m["i"] for m in items] == list(range(len(items)))
        assert len(items) + dropped == count, (len(items), dropped)


def test_output_piling_up_unread_is_closed_1013(server: ServerProcess) -> None:
    """More than 4 MiB of replies left unread: 1013 at once (no stall wait), the abandoned ones counted."""
    ops, size = 250, 60_000  # 15 MB of replies: over 4 MiB more than the socket buffers can hold
    with open_peer(server.url, token("alice"), receive_buffer=SMALL_WINDOW) as peer:
        peer.ready()
        dropped_before = counter(server.port, "wsrace_dropped_messages_total")
        for n in range(ops):
            peer.send({"op": "echo", "id": n, "data": "x" * size})
        dropped = wait_for_counter(server.port, "wsrace_dropped_messages_total", dropped_before) - dropped_before
        code, replies = peer.closed_code(timeout=30)
        assert (code, peer.ws.close_reason) == (1013, "reader too slow: output piled up")
        assert [m["id"] for m in replies] == list(range(len(replies)))
        assert len(replies) + dropped <= ops, (len(replies), dropped)


# ----------------------------------------------------------------------------- shutdown


def test_sigterm_closes_every_connection_1001_and_exits_0(ws_stack: str) -> None:
    """On SIGTERM every connection (ready, mid-auth, subscribed to a running job) gets 1001; exit 0.
    (Fresh, the server already counts closes with code 1000, at 0.)"""
    with running_server(ws_stack) as proc, contextlib.ExitStack() as stack:
        assert scrape(proc.port)[("wsrace_closes_total", (("code", "1000"),))] == 0
        peers = [stack.enter_context(open_peer(proc.url, token("alice"))) for _ in range(2)]
        pending = stack.enter_context(open_peer(proc.url))
        for peer in peers:
            peer.ready()
        job = peers[0].ask({"op": "start", "id": 1, "steps": 1000, "step_ms": 1000}, "started")["job"]
        peers[0].ask({"op": "subscribe", "id": 2, "job": job}, "subscribed")
        assert counter(proc.port, "wsrace_connections_open") == 3  # premise: all three are open
        proc.child.proc.send_signal(signal.SIGTERM)
        assert [peer.closed_code()[0] for peer in [*peers, pending]] == [1001, 1001, 1001]
        assert proc.stop() == 0


# ----------------------------------------------------------------------------- wsrace itself


def _run_wsrace(host: str, results: Path) -> tuple[int, str]:
    """``wsrace run --profile quick --host HOST``, the installed CLI, in its own process group."""
    proc = subprocess.Popen([str(WSRACE), "run", "--profile", "quick", "--host", host, "--results", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            cwd=results.parent, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=30)
        raise AssertionError(f"wsrace run did not finish in {RUN_TIMEOUT_S} s:\n{output[-4000:]}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, output


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
def test_the_quick_profile_passes_against_the_interop_server(server: ServerProcess, tmp_path: Path) -> None:
    """wsrace run --profile quick --host (this stack): every scenario ran, none failed, exit 0."""
    code, output = _run_wsrace(server.host, tmp_path / "r.json")
    verdict = output[output.rfind("\nscenario "):] if "\nscenario " in output else output[-3000:]
    doc = json.loads((tmp_path / "r.json").read_text())
    scenarios = doc["scenarios"]
    failing = {name: dict(entry["failures_by_kind"]) for name, entry in scenarios.items() if entry["failures"]}
    assert set(scenarios) == SCENARIOS, sorted(scenarios)
    assert not failing, f"failures by kind on uvicorn + {server.ws}: {failing}\n{verdict}"
    assert all(entry["iterations"] > 0 for entry in scenarios.values()), scenarios
    assert code == 0 and doc["passed"], f"exit {code}\n{verdict}"
    assert counter(server.port, "wsrace_unhandled_errors_total") == 0
