"""The admin tokens file as a tired operator edits it: a file that does not parse is named
at startup and, once serving, refuses its tokens (never keeps the old list: the edit may
have been a revocation) and says so in the log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from schemas.admin_access import AccessDenied, TokenBook, add_token


def _touch_later(path: Path) -> None:
    """A later modification time, as an edit a second later has (mtime is the reload cue)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_file_that_does_not_parse_is_named_at_startup(tmp_path: Path) -> None:
    path = tmp_path / "admin-tokens.json"
    path.write_text('{"tokens": [{"name": "ops",}]}')
    with pytest.raises(ValueError, match=r"cannot read .*admin-tokens\.json: Expecting"):
        TokenBook(None, path).require()


def test_an_edit_that_breaks_the_file_refuses_its_tokens_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "admin-tokens.json"
    secret = add_token(path, "ops", ["operator"])
    book = TokenBook(None, path)
    book.require()
    assert book.authorize(f"Bearer {secret}", "operator").name == "ops"

    path.write_text(path.read_text().replace('"tokens"', '"tokens":', 1))  # a stray colon
    _touch_later(path)
    with (
        caplog.at_level(logging.ERROR, logger="tollway.admin_access"),
        pytest.raises(AccessDenied) as refused,
    ):
        book.authorize(f"Bearer {secret}", "operator")
    assert refused.value.status == 401
    assert "tokens file is refused until it is fixed" in caplog.text
    assert secret not in caplog.text

    add_token(path.with_name("fresh.json"), "ops", ["operator"])  # a fixed file, new secret
    path.write_text(path.with_name("fresh.json").read_text())
    _touch_later(path)
    with pytest.raises(AccessDenied):
        book.authorize(f"Bearer {secret}", "operator")  # the old secret is not in it
    book.require()  # readable again


def test_an_environment_token_still_serves_while_the_file_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "admin-tokens.json"
    path.write_text("not json")
    book = TokenBook("env-secret-0123456789abcdef", path)
    book.require()
    assert book.authorize("Bearer env-secret-0123456789abcdef", "finance").name == "env"


def test_a_replaced_token_refuses_its_old_secret_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "admin-tokens.json"
    books = add_token(path, "books", ["finance"])
    old = add_token(path, "gateway", ["support"])
    with pytest.raises(ValueError, match="a token named 'gateway' exists already"):
        add_token(path, "gateway", ["support"])
    new = add_token(path, "gateway", ["support"], replace=True)
    book = TokenBook(None, path)
    assert book.authorize(f"Bearer {new}", "support").name == "gateway"
    assert book.authorize(f"Bearer {books}", "finance").name == "books"
    with pytest.raises(AccessDenied):
        book.authorize(f"Bearer {old}", "support")
    assert path.stat().st_mode & 0o777 == 0o600  # digests only, still the owner's alone
    assert [p.name for p in tmp_path.iterdir()] == ["admin-tokens.json"]  # no half-written copy
