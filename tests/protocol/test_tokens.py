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


def _claims(**claims: object) -> dict[str, object]:
    return {"sub": "u", "exp": int(time.time()) + 3600, **claims}


# Tokens are built when each test runs, not at collection: an expiry must not pass while other tests run.
REFUSED = {
    "expired": (lambda: jwt.encode(_claims(exp=int(time.time()) - 10), SECRET, "HS256"), "expired"),
    "other-secret": (lambda: jwt.encode(_claims(), "another-secret-that-is-long-enough-for-hs256", "HS256"), "invalid"),
    "unsigned": (lambda: jwt.encode(_claims(), None, "none"), "invalid"),
    "other-alg": (lambda: jwt.encode(_claims(), SECRET, "HS512"), "invalid"),
    "no-exp": (lambda: jwt.encode({"sub": "u"}, SECRET, "HS256"), "invalid"),
    "no-sub": (lambda: jwt.encode({"exp": int(time.time()) + 3600}, SECRET, "HS256"), "invalid"),
    "empty-sub": (lambda: jwt.encode(_claims(sub=""), SECRET, "HS256"), "sub"),
    "int-sub": (lambda: jwt.encode(_claims(sub=5), SECRET, "HS256"), "sub"),
    "garbage": (lambda: "not-a-jwt", "invalid"),
    "empty": (lambda: "", "invalid"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_tokens_say_why(case: str) -> None:
    """Expired, foreign, unsigned, other-algorithm and claim-less tokens are refused with a reason."""
    make, why = REFUSED[case]
    with pytest.raises(tokens.TokenError, match=why):
        tokens.verify(SECRET, make())


def test_empty_sub_cannot_be_minted() -> None:
    """The client never mints a token the server must refuse."""
    with pytest.raises(ValueError):
        tokens.mint(SECRET, "")
