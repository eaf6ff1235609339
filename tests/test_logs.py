"""HTS_LOG_FORMAT=json: one JSON object per line, with the structured fields, and
never a token or a password; the default stays human-readable."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support import Client, Server


async def test_json_logs(make_server: Callable[..., Server],
                         clients: Callable[[], Client]) -> None:
    srv = make_server({"HTS_LOG_FORMAT": "json"}).start()
    token = srv.login()  # the password travels in the body
    assert srv.http("POST", "/api/auth/login",
                    {"username": "testuser", "password": "wrong-pw-123"})[0] == 401
    c = await clients().connect(srv.url, auth={"token": token, "topics": ["price:005930"]},
                                query=f"?token={token}")
    (hello,) = await c.wait_for("connected")
    sid = hello["session_id"]
    assert not (await c.call("subscribe", {"topic": "price:NOPE"}))["ok"]
    assert srv.http("GET", "/api/account", token=token)[0] == 200
    await c.disconnect()
    srv.stop()
    text = srv.log()
    assert token not in text and token.split(".")[1] not in text
    assert "wrong-pw-123" not in text
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line]
    # only the --demo banner names the demo password, on purpose
    assert all("testpass" not in e["message"] for e in lines if e["logger"] != "hts.cli")
    for entry in lines:
        assert set(entry) >= {"time", "level", "logger", "message", "user", "sid", "event",
                              "code"}, entry
        assert entry["time"].endswith("+00:00")
    assert any("listening on" in e["message"] for e in lines), "the banner is JSON too"
    connected = [e for e in lines if e["logger"].startswith("hts.") and " connected" in e["message"]
                 and e["sid"] == sid]
    assert connected and connected[0]["user"] == "1" and connected[0]["level"] == "INFO"
    (failed,) = [e for e in lines if e["code"] == "unknown_symbol"]
    assert failed["sid"] == sid and failed["event"] == "subscribe"
    assert any(e["logger"] == "aiohttp.access" and "/api/auth/login" in e["message"]
               for e in lines)
    # the access log's fields are keys, not only text: who, what, how it went, how long
    (account,) = [e for e in lines if e["logger"] == "aiohttp.access"
                  and e.get("path") == "/api/account"]
    assert account["method"] == "GET" and account["status"] == 200
    assert account["user"] == "1" and account["remote"] == "127.0.0.1"
    assert isinstance(account["duration_ms"], float) and account["duration_ms"] >= 0
    (refused,) = [e for e in lines if e["logger"] == "aiohttp.access"
                  and e.get("path") == "/api/auth/login" and e["status"] == 401]
    assert refused["user"] is None


def test_default_logs_are_human_readable(server: Server) -> None:
    server.login()
    lines = [line for line in server.log().splitlines() if line]
    # the banner comes once the socket is bound (engine start-up lines may come first;
    # tests/test_cli.py: no banner at all when the bind fails)
    assert any(line.startswith("hts-realtime listening on http://") for line in lines), lines
    assert any(" INFO hts.http: login user=1" in line for line in lines)
    for line in lines:
        assert not line.startswith("{"), line


def test_redact_hides_tokens_and_passwords_in_any_message() -> None:
    from hts_realtime.ops.logs import redact

    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert jwt_like not in redact(f"query ?token={jwt_like}&x=1")
    assert jwt_like not in redact(f"Authorization: Bearer {jwt_like}")
    assert "hunter2" not in redact('{"username": "a", "password": "hunter2"}')
    assert "hunter2" not in redact("password=hunter2 user=1")
    assert redact("sid=abc user=1 error=token_expired") == "sid=abc user=1 error=token_expired"
