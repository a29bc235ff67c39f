"""Authentication (PROTOCOL.md): in the handshake (header, query) or in band; every refusal."""

from __future__ import annotations

import base64
import json
import time
import warnings

import jwt
import jwt.warnings
import pytest
from websockets.exceptions import InvalidStatus

from loadgen.protocol import metrics as names
from loadgen.protocol.tokens import mint
from tests.support.target import Target
from tests.target.client import Client, ametric, await_metric, run, token

pytestmark = pytest.mark.e2e

TARGET_ARGS = ("--auth-timeout", "0.5")


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(secret: str) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)  # HS512, short key
        return _bad_tokens(secret)


def _bad_tokens(secret: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "mallory", "exp": now + 600}
    return {
        "garbage": "not-a-jwt",
        "empty": "",
        "wrong-secret": jwt.encode(claims, "another-secret-of-32-bytes-or-more!!", algorithm="HS256"),
        "expired": mint(secret, "mallory", ttl_s=-60),
        "unsigned": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "other-alg": jwt.encode(claims, secret, algorithm="HS512"),
        "no-sub": jwt.encode({"exp": now + 600}, secret, algorithm="HS256"),
        "empty-sub": jwt.encode({"sub": "", "exp": now + 600}, secret, algorithm="HS256"),
        "no-exp": jwt.encode({"sub": "mallory"}, secret, algorithm="HS256"),
    }


BAD = list(bad_tokens("x" * 64))


@pytest.mark.parametrize("auth", ["header", "query", "inband"])
def test_each_auth_path_gets_ready_first_with_seq_0(target: Target, auth: str) -> None:
    async def body() -> None:
        client = await Client.ready(target, "alice", auth=auth)  # type: ignore[arg-type]
        assert client.worker in (0, 1)
        assert (await client.request({"op": "echo", "id": 1, "data": "hi"}))["seq"] == 1
        await client.close()

    run(body())


def test_a_binary_first_message_closes_1003_without_an_auth_error(target: Target) -> None:
    """PROTOCOL.md 1.1: a binary frame is 1003 at any time, before authentication too (no unauthorized)."""
    async def body() -> None:
        client = await Client.open(target, auth="none")
        await client.send_raw(b"\x00binary")
        assert await client.closed() == 1003

    run(body())


@pytest.mark.parametrize("auth", ["header", "query"])
@pytest.mark.parametrize("kind", BAD)
def test_a_bad_handshake_token_is_http_401(target: Target, auth: str, kind: str) -> None:
    """Invalid, expired, unsigned, other-algorithm or sub-less tokens: 401, no WebSocket."""
    async def body() -> None:
        before = await ametric(target, names.AUTH_FAILURES)
        with pytest.raises(InvalidStatus) as refused:
            await Client.open(target, auth=auth, bearer=bad_tokens(target.secret)[kind])  # type: ignore[arg-type]
        assert refused.value.response.status_code == 401
        await await_metric(target, names.AUTH_FAILURES, before + 1)

    run(body())


def test_an_authorization_header_that_is_not_bearer_is_401(target: Target) -> None:
    async def body() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await Client.open(target, auth="none",
                              additional_headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert refused.value.response.status_code == 401

    run(body())


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_in_band_token_is_unauthorized_then_1008(target: Target, kind: str) -> None:
    async def body() -> None:
        before = await ametric(target, names.AUTH_FAILURES)
        client = await Client.open(target, auth="none")
        msg = await client.request({"op": "auth", "id": 7, "token": bad_tokens(target.secret)[kind]})
        assert msg["type"] == "error" and msg["code"] == "unauthorized" and msg["id"] == 7
        assert msg["seq"] == 0
        assert await client.closed() == 1008
        assert await ametric(target, names.AUTH_FAILURES) >= before + 1

    run(body())


@pytest.mark.parametrize(
    "first",
    ['{"op":"echo","id":3,"data":1}', "not json", "[]", '{"op":"auth"}'],
    ids=["echo", "bad-json", "not-object", "auth-without-token"],
)
def test_a_first_message_that_is_not_auth_is_unauthorized_then_1008(target: Target,
                                                                     first: str | bytes) -> None:
    async def body() -> None:
        client = await Client.open(target, auth="none")
        await client.send_raw(first)
        msg = await client.recv()
        assert msg["type"] == "error" and msg["code"] == "unauthorized"
        assert await client.closed() == 1008

    run(body())


def test_no_auth_message_in_time_is_1008(target: Target) -> None:
    """--auth-timeout 0.5 here: a silent client is closed with 1008 and nothing else."""
    async def body() -> None:
        before = await ametric(target, names.AUTH_FAILURES)
        client = await Client.open(target, auth="none")
        started = time.monotonic()
        assert await client.closed(timeout=5) == 1008
        assert 0.4 <= time.monotonic() - started < 4
        await await_metric(target, names.AUTH_FAILURES, before + 1)

    run(body())


def test_messages_after_a_failed_in_band_auth_are_ignored(target: Target) -> None:
    async def body() -> None:
        client = await Client.open(target, auth="none")
        await client.send({"op": "auth", "token": "bad"})
        for i in range(5):
            await client.send({"op": "echo", "id": i, "data": i})
        assert (await client.recv())["code"] == "unauthorized"
        assert await client.closed() == 1008  # closed() fails on any further message's seq

    run(body())


def test_user_is_the_token_subject(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target, "ünïcode user", bearer=token(target, "ünïcode user"))
        assert client.user == "ünïcode user"
        await client.close()

    run(body())
