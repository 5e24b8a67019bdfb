"""Accounts (assistant/users.py, `assistant users`, `assistant chat --users`): the users file, its
hashes and permissions, the login check, and the chat's wiring. Fast: no models."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import sys
import time

import pytest

from assistant import cli, ui, users
from assistant.errors import InputError


def test_add_verify_remove(tmp_path):
    path = tmp_path / "conf" / "users.toml"
    assert users.add(path, "ana", "zeer geheim") is True
    assert users.add(path, "bob@gemeente.nl", "ander wachtwoord") is True
    loaded = users.load(path)
    assert set(loaded) == {"ana", "bob@gemeente.nl"}
    assert users.verify(loaded, "ana", "zeer geheim")
    assert not users.verify(loaded, "ana", "zeer geheim ")
    assert not users.verify(loaded, "ana", "ander wachtwoord")  # bob's password is not ana's
    assert not users.verify(loaded, "carol", "zeer geheim")
    assert not users.verify(loaded, "ana", "")
    text = path.read_text(encoding="utf-8")
    assert "zeer geheim" not in text and "scrypt" in text
    assert loaded["ana"].salt != loaded["bob@gemeente.nl"].salt  # salted per user
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert users.add(path, "ana", "nieuw") is False  # a new password
    assert users.verify(users.load(path), "ana", "nieuw") and not users.verify(users.load(path), "ana", "zeer geheim")
    users.remove(path, "ana")
    assert set(users.load(path)) == {"bob@gemeente.nl"}
    with pytest.raises(InputError, match="no user 'ana'.*users: bob@gemeente.nl"):
        users.remove(path, "ana")
    assert [p.name for p in path.parent.iterdir()] == ["users.toml"]  # no temp file left


def test_bad_names_and_a_damaged_file(tmp_path):
    for bad in ("", "a b", "-x", "ana]", 'a"b', "x" * 65):
        with pytest.raises(InputError, match="user name"):
            users.make_user(bad, "pw")
    with pytest.raises(InputError, match="empty"):
        users.make_user("ana", "")
    path = tmp_path / "users.toml"
    path.write_text("[users.ana]\nsalt = 12\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read.*users add"):
        users.load(path)


def test_login_checker_waits_after_a_failure_and_follows_the_file(tmp_path):
    path = tmp_path / "users.toml"
    users.add(path, "ana", "pw-ana")
    f = users.UsersFile(path)
    check = users.login_checker(f, 0.3)
    t0 = time.perf_counter()
    assert asyncio.run(check("ana", "pw-ana"))
    t_ok = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert not asyncio.run(check("ana", "fout"))
    assert time.perf_counter() - t0 >= 0.3 > 0  # the failed-login delay
    assert not asyncio.run(check("nobody", "pw-ana"))
    assert t_ok < 5
    users.add(path, "bob", "pw-bob")  # added while the chat runs: the next login sees it
    assert asyncio.run(check("bob", "pw-bob"))
    with pytest.raises(InputError, match="has no users"):
        users.UsersFile(tmp_path / "none.toml")


def test_users_cli(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.toml"
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret pw\n"))
    assert cli.main(["users", "add", "ana", "--password-stdin", "--users", str(path)]) == 0
    monkeypatch.setenv("ASSISTANT_USERS", str(path))  # the environment names the file too
    monkeypatch.setattr(sys, "stdin", io.StringIO("bob-pw\n"))
    assert cli.main(["users", "add", "bob", "--password-stdin"]) == 0
    capsys.readouterr()
    assert cli.main(["users", "list"]) == 0
    assert capsys.readouterr().out.split() == ["ana", "bob"]
    loaded = users.load(path)
    assert users.verify(loaded, "ana", "s3cret pw") and users.verify(loaded, "bob", "bob-pw")
    assert cli.main(["users", "remove", "bob"]) == 0
    assert cli.main(["users", "remove", "bob"]) == 2
    assert "no user 'bob'" in capsys.readouterr().err
    assert list(users.load(path)) == ["ana"]


def test_chat_refuses_auth_and_users_together(tmp_path, capsys):
    path = tmp_path / "users.toml"
    users.add(path, "ana", "pw")
    assert cli.main(["--index-dir", str(tmp_path / "index"), "chat", "--users", str(path), "--auth", "a:b"]) == 2
    assert "--auth and --users" in capsys.readouterr().err
    with pytest.raises(InputError, match="--auth and --users"):
        ui.serve(None, "127.0.0.1", 0, auth=("a", "b"), users=users.UsersFile(path))


def test_a_users_file_counts_as_a_login_for_the_network(tmp_path):
    path = tmp_path / "users.toml"
    users.add(path, "ana", "pw")
    ui.check_exposure("0.0.0.0", users.UsersFile(path))  # no error: a login is required
    with pytest.raises(InputError, match="--users FILE"):
        ui.check_exposure("0.0.0.0", None)
