"""The hts-realtime command line: serve's start-up checks, user add, token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt

from tests.support import AUDIENCE, SECRET, Server


def run(args: list[str], env: dict[str, str], stdin: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hts_realtime", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("HTS_")}
    env["HTS_DATABASE"] = str(tmp_path / "cli.db")
    env.update(extra)
    return env


def test_serve_refuses_to_start_without_a_strong_secret(tmp_path: Path) -> None:
    r = run(["serve", "--port", "1"], _env(tmp_path))
    assert r.returncode == 2 and "HTS_JWT_SECRET" in r.stderr
    r = run(["serve", "--port", "1"], _env(tmp_path, HTS_JWT_SECRET="short"))
    assert r.returncode == 2 and "at least 32 bytes" in r.stderr
    assert "short" not in r.stderr


def test_user_add_and_token(tmp_path: Path) -> None:
    env = _env(tmp_path, HTS_JWT_SECRET=SECRET)
    r = run(["user", "add", "carol", "--password", "s3cret-pw"], env)
    assert r.returncode == 0, r.stderr
    assert "carol" in r.stdout and "s3cret-pw" not in r.stdout
    r = run(["user", "add", "dave", "--admin"], env, stdin="from-stdin-pw\n")
    assert r.returncode == 0 and "admin" in r.stdout
    r = run(["user", "add", "carol", "--password", "again-pw"], env)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = run(["user", "add", "bad name!", "--password", "pw12"], env)
    assert r.returncode == 1
    r = run(["token", "dave", "--ttl", "120"], env)
    assert r.returncode == 0, r.stderr
    claims = jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["name"] == "dave" and claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 120
    r = run(["token", "nobody"], env)
    assert r.returncode == 1 and "no user" in r.stderr


def test_a_cli_token_and_a_stdin_password_work_against_the_server(tmp_path: Path) -> None:
    srv = Server(tmp_path / "srv").start()
    try:
        env = srv.env()
        r = run(["user", "add", "erin"], env, stdin="erin-password\n", cwd=srv.workdir)
        assert r.returncode == 0, r.stderr
        assert srv.login("erin", "erin-password")
        r = run(["token", "erin"], env, cwd=srv.workdir)
        status, body, _ = srv.http("GET", "/api/account", token=r.stdout.strip())
        assert status == 200 and body["cash"] == 100_000_000
    finally:
        srv.stop()
    assert "erin-password" not in srv.log()


def test_demo_keeps_its_generated_secret_for_the_token_command(tmp_path: Path) -> None:
    srv = Server(tmp_path / "demo", env={"HTS_JWT_SECRET": ""}).start()
    try:
        env = srv.env()
        env.pop("HTS_JWT_SECRET")
        r = run(["token", "testuser", "--demo"], env, cwd=srv.workdir)
        assert r.returncode == 0, r.stderr
        status, body, _ = srv.http("GET", "/api/account", token=r.stdout.strip())
        assert status == 200, body
    finally:
        srv.stop()


def test_token_without_demo_against_a_demo_server_says_what_to_do(tmp_path: Path) -> None:
    srv = Server(tmp_path / "demo2", env={"HTS_JWT_SECRET": ""}).start()
    try:
        env = srv.env()
        env.pop("HTS_JWT_SECRET")
        r = run(["token", "testuser"], env, cwd=srv.workdir)
        assert r.returncode == 2
        assert "hts-realtime token --demo testuser" in r.stderr
        assert "/api/auth/login" in r.stderr
        assert r.stdout == ""
        # following the advice works
        r = run(["token", "testuser", "--demo"], env, cwd=srv.workdir)
        status, body, _ = srv.http("GET", "/api/account", token=r.stdout.strip())
        assert status == 200, body
    finally:
        srv.stop()


def test_token_without_a_database_says_where_to_run_it(tmp_path: Path) -> None:
    r = run(["token", "testuser"], _env(tmp_path, HTS_DATABASE=str(tmp_path / "none.db")))
    assert r.returncode == 1 and "no database at" in r.stderr
    assert not (tmp_path / "none.db").exists()


def test_demo_flag_is_explained_in_help(tmp_path: Path) -> None:
    r = run(["serve", "--help"], _env(tmp_path))
    assert r.returncode == 0
    help_text = " ".join(r.stdout.split())
    assert "--demo" in help_text and "testuser/testpass" in help_text
    assert "Not for production" in help_text


def test_user_passwd_disable_enable_logout(tmp_path: Path) -> None:
    import asyncio

    from hts_realtime.engine.users import UserStore
    from hts_realtime.storage.sqlite import SqliteStore

    env = _env(tmp_path, HTS_JWT_SECRET=SECRET)
    assert run(["user", "add", "fay", "--password", "first-pw"], env).returncode == 0

    async def read() -> tuple[bool, int, bool, bool]:
        store = SqliteStore(env["HTS_DATABASE"])
        try:
            users = UserStore(store)
            user = await users.by_username("fay")
            assert user is not None
            return (user.disabled, user.tokens_valid_after,
                    await users.authenticate("fay", "first-pw") is not None,
                    await users.authenticate("fay", "second-pw") is not None)
        finally:
            await store.close()

    def fay() -> tuple[bool, int, bool, bool]:
        return asyncio.run(read())

    assert fay() == (False, 0, True, False)
    r = run(["user", "passwd", "fay"], env, stdin="second-pw\n")
    assert r.returncode == 0 and "revoked" in r.stdout, r.stderr
    assert "second-pw" not in r.stdout + r.stderr
    disabled, valid_after, old_ok, new_ok = fay()
    assert (disabled, old_ok, new_ok) == (False, False, True) and valid_after > 0
    r = run(["user", "passwd", "fay", "--password", "abc"], env)
    assert r.returncode == 1 and "at least 4" in r.stderr
    r = run(["user", "disable", "fay"], env)
    assert r.returncode == 0 and "disabled fay" in r.stdout
    assert fay()[0] is True
    r = run(["token", "fay"], env)
    assert r.returncode == 1 and "disabled" in r.stderr and not r.stdout
    r = run(["user", "enable", "fay"], env)
    assert r.returncode == 0 and "enabled fay" in r.stdout
    assert fay()[0] is False
    r = run(["token", "fay"], env)
    assert r.returncode == 0
    claims = jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["iat"] >= fay()[1], "a new token must count after the revocations"
    before = fay()[1]
    r = run(["user", "logout", "fay"], env)
    assert r.returncode == 0 and "revoked every token of fay" in r.stdout
    assert fay()[1] >= before
    for cmd in ("passwd", "disable", "enable", "logout"):
        args = ["user", cmd, "nobody"] + (["--password", "whatever"] if cmd == "passwd" else [])
        r = run(args, env)
        assert r.returncode == 1 and "no user 'nobody'" in r.stderr, (cmd, r.stderr)


def test_a_port_in_use_is_one_log_line_and_no_listening_banner(tmp_path: Path) -> None:
    import json
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for fmt in ("text", "json"):
            r = run(["serve", "--demo", "--port", port], _env(tmp_path, HTS_LOG_FORMAT=fmt))
            out = r.stdout + r.stderr
            assert r.returncode == 1, out
            assert "Traceback" not in out and "listening on" not in out, out
            assert f"cannot listen on 127.0.0.1:{port}" in out, out
            if fmt == "json":
                lines = [json.loads(line) for line in out.splitlines() if line.strip()]
                assert any(entry["level"] == "ERROR" and "cannot listen" in entry["message"]
                           for entry in lines), out


def test_version(tmp_path: Path) -> None:
    from hts_realtime import __version__

    r = run(["--version"], _env(tmp_path))
    assert r.returncode == 0 and r.stdout.startswith(f"hts-realtime {__version__} (Python 3.")
