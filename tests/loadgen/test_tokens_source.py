"""Where users' tokens come from: minted, a file, a command — and clear errors for bad ones."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from loadgen.exitcodes import UsageError
from loadgen.protocol import tokens
from loadgen.protocol.tokens import resolve_secret
from loadgen.tokens_source import CommandTokens, FileTokens, MintedTokens, token_source

SECRET = "tokens-source-test-secret-0123456789abcdef"


def test_minted_tokens_carry_the_wanted_user() -> None:
    """Minted tokens verify with the same secret and name the user asked for."""
    ident = MintedTokens(SECRET).identity("user-1")
    assert ident.user == "user-1"
    assert tokens.verify(SECRET, ident.token) == "user-1"


def test_secret_comes_from_flag_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """--secret beats WSRACE_SECRET, which beats the documented development default."""
    monkeypatch.delenv(tokens.SECRET_ENV, raising=False)
    assert resolve_secret(None) == tokens.DEV_SECRET
    monkeypatch.setenv(tokens.SECRET_ENV, "from-env")
    assert resolve_secret(None) == "from-env"
    assert resolve_secret("from-flag") == "from-flag"


def test_file_tokens_are_used_round_robin_with_their_sub(tmp_path: Path) -> None:
    """Each line is a token; users take them in turn; the user id is the token's sub."""
    path = tmp_path / "t.txt"
    path.write_text(f"# comment\n{tokens.mint(SECRET, 'a')}\n\n{tokens.mint(SECRET, 'b')}\n")
    source = FileTokens(str(path))
    assert [source.identity("ignored").user for _ in range(3)] == ["a", "b", "a"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "no tokens"), ("not-a-jwt\n", "not a JWT"), (None, "cannot read")],
)
def test_bad_token_files_are_usage_errors(tmp_path: Path, content: str | None, message: str) -> None:
    """An empty, malformed or missing file is bad input that names the file."""
    path = tmp_path / "t.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message) as info:
        FileTokens(str(path))
    assert str(path) in str(info.value)


def test_command_tokens_get_the_wanted_user(tmp_path: Path) -> None:
    """The command runs with WSRACE_USER set and its output is the token."""
    script = tmp_path / "mint.py"
    script.write_text(
        "import os\nfrom loadgen.protocol.tokens import mint\n"
        f"print(mint({SECRET!r}, os.environ['WSRACE_USER']))\n"
    )
    ident = CommandTokens(f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}").identity("user-9")
    assert ident.user == "user-9"
    assert tokens.verify(SECRET, ident.token) == "user-9"


def test_a_failing_command_says_so() -> None:
    """A token command that exits non-zero is bad input with its exit code."""
    with pytest.raises(UsageError, match="exited 3"):
        CommandTokens("exit 3").identity("u")


def test_file_and_command_together_are_refused() -> None:
    """Two token sources at once is ambiguous: refused with a message."""
    with pytest.raises(UsageError, match="not both"):
        token_source(None, "a", "b")
