"""Pure helpers: stall detection, ids, handshake tokens (the faults' wiring: test_unit_faults)."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers

from target_app.ids import Ids, worker_of
from target_app.routes import handshake_token
from target_app.stall import StallWatch


def test_stall_watch_needs_a_full_timeout_without_any_progress() -> None:
    watch = StallWatch(timeout=1.0)
    watch.start(now=0.0, sent=5, buffered=1000)
    assert not watch.stalled(0.5, 5, 1000)
    assert not watch.stalled(0.9, 5, 1000)
    assert not watch.stalled(0.95, 5, 900)  # the client read something: progress
    assert not watch.stalled(1.9, 5, 900)
    assert watch.stalled(1.95, 5, 900)


def test_stall_watch_counts_a_message_sent_as_progress() -> None:
    watch = StallWatch(timeout=1.0)
    watch.start(0.0, 0, 0)
    assert not watch.stalled(0.99, 1, 5000)  # a message went out even though the buffer grew
    assert not watch.stalled(1.5, 1, 5000)
    assert watch.stalled(2.0, 1, 5000)
    assert StallWatch(0.0).interval > 0  # (a timeout of 0 turns the watch off in Connection)


def test_ids_name_their_worker_and_never_repeat() -> None:
    ids = Ids(3, boot="abc")
    made = {ids.session(), ids.job(), ids.session(), ids.job()}
    assert len(made) == 4
    assert all(worker_of(i) == 3 for i in made)
    assert Ids(3).prefix != Ids(3).prefix  # a restarted worker gets a new boot tag
    assert worker_of("job-1") is None


@pytest.mark.parametrize(
    ("headers", "query", "token"),
    [
        ({}, "", None),
        ({"Authorization": "Bearer abc"}, "", "abc"),
        ({"Authorization": "bearer  abc "}, "", "abc"),
        ({"Authorization": "Basic dXNlcg=="}, "", ""),  # meant to authenticate: a bad token
        ({}, "token=xyz&other=1", "xyz"),
        ({}, "token=", ""),
        ({"Authorization": "Bearer h"}, "token=q", "h"),
    ],
)
def test_handshake_token_sources(headers: dict[str, str], query: str, token: str | None) -> None:
    assert handshake_token(Headers(headers), query) == token
