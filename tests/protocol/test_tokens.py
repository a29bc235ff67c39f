"""Token checks of PROTOCOL.md's Authentication section: pure, no sockets."""

from __future__ import annotations

import time

import jwt
import pytest

from loadgen.protocol import tokens

SECRET = "test-secret-that-is-long-enough-for-hs256-and-hs512-signing-keys"


def test_minted_token_verifies_to_its_sub() -> None:
    """A token minted with the shared secret gives back its user id."""
    assert tokens.verify(SECRET, tokens.mint(SECRET, "user-7")) == "user-7"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (jwt.encode({"sub": "u", "exp": int(time.time()) - 10}, SECRET, "HS256"), "expired"),
        (
            jwt.encode(
                {"sub": "u", "exp": int(time.time()) + 60}, "another-secret-that-is-long-enough-for-hs256", "HS256"
            ),
            "invalid",
        ),
        (jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, None, "none"), "invalid"),
        (jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, SECRET, "HS512"), "invalid"),
        (jwt.encode({"sub": "u"}, SECRET, "HS256"), "invalid"),
        (jwt.encode({"exp": int(time.time()) + 60}, SECRET, "HS256"), "invalid"),
        (jwt.encode({"sub": "", "exp": int(time.time()) + 60}, SECRET, "HS256"), "sub"),
        (jwt.encode({"sub": 5, "exp": int(time.time()) + 60}, SECRET, "HS256"), "sub"),
        ("not-a-jwt", "invalid"),
        ("", "invalid"),
    ],
    ids=[
        "expired",
        "other-secret",
        "unsigned",
        "other-alg",
        "no-exp",
        "no-sub",
        "empty-sub",
        "int-sub",
        "garbage",
        "empty",
    ],
)
def test_refused_tokens_say_why(token: str, why: str) -> None:
    """Expired, foreign, unsigned, other-algorithm and claim-less tokens are refused with a reason."""
    with pytest.raises(tokens.TokenError, match=why):
        tokens.verify(SECRET, token)


def test_empty_sub_cannot_be_minted() -> None:
    """The client never mints a token the server must refuse."""
    with pytest.raises(ValueError):
        tokens.mint(SECRET, "")
