"""Revocation: logout, log out everywhere, password change, disable and delete.

Each takes effect on the next HTTP request and on every OPEN socket that
held the revoked token (an ``error`` with ``auth_revoked`` and then the close),
also when the change is made by another process (the CLI) on the same
database.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import socketio

from tests.hostile.identity import cli, closed_with, db_write, still_open
from tests.plainws import WsClient
from tests.support import Client, Server


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server().start()


async def _session(server: Server, token: str) -> Client:
    c = Client()
    await c.connect(server.url, auth={"token": token, "topics": ["order:*"]})
    await c.wait_for("connected")
    return c


async def _refused(server: Server, token: str, code: str) -> None:
    status, body, _ = server.http("GET", "/api/account", token=token)
    assert (status, body["error"]["code"]) == (401, code), body
    c = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth={"token": token})
    assert c.connect_error["code"] == code, c.connect_error


async def test_logout_revokes_only_the_presented_token(srv: Server) -> None:
    a, b = srv.add_user("lou", "lou-pass"), srv.login("lou", "lou-pass")
    sock_a, sock_b = await _session(srv, a), await _session(srv, b)
    status, body, _ = srv.http("POST", "/api/auth/logout", token=a)
    assert status == 204, body
    await closed_with(sock_a, "auth_revoked")
    await still_open(sock_b)
    await _refused(srv, a, "auth_revoked")
    status, _, _ = srv.http("GET", "/api/account", token=b)
    assert status == 200
    assert a not in srv.log() and b not in srv.log(), "a token reached the log"
    await sock_b.disconnect()


async def test_logout_everywhere_revokes_every_token_of_the_user(srv: Server) -> None:
    a, b = srv.add_user("eve", "eve-pass"), srv.login("eve", "eve-pass")
    other = srv.add_user("bystander", "by-pass")
    sock_a, sock_b, sock_o = (await _session(srv, a), await _session(srv, b),
                              await _session(srv, other))
    status, body, _ = srv.http("POST", "/api/auth/logout", {"everywhere": True}, token=b)
    assert status == 204, body
    await closed_with(sock_a, "auth_revoked")
    await closed_with(sock_b, "auth_revoked")
    await still_open(sock_o)
    await _refused(srv, a, "auth_revoked")
    await _refused(srv, b, "auth_revoked")
    fresh = srv.login("eve", "eve-pass")  # in the same second as the revocation
    status, _, _ = srv.http("GET", "/api/account", token=fresh)
    assert status == 200
    await still_open(await _session(srv, fresh))
    status, body, _ = srv.http("POST", "/api/auth/logout", {"everywhere": "yes"}, token=fresh)
    assert (status, body["error"]["code"]) == (400, "invalid_message")
    await sock_o.disconnect()


async def test_cli_disable_closes_open_sockets_and_refuses_everything(srv: Server) -> None:
    token = srv.add_user("mallory", "mal-pass")
    sock = await _session(srv, token)
    other = await _session(srv, srv.login())
    r = cli(srv, "user", "disable", "mallory")
    assert r.returncode == 0, r.stderr
    await closed_with(sock, "auth_revoked")
    await still_open(other)
    await _refused(srv, token, "auth_revoked")
    status, body, _ = srv.http("POST", "/api/auth/login",
                               {"username": "mallory", "password": "mal-pass"})
    assert (status, body["error"]["code"]) == (401, "auth_failed"), body
    r = cli(srv, "token", "mallory")
    assert r.returncode == 1 and "disabled" in r.stderr
    r = cli(srv, "user", "enable", "mallory")
    assert r.returncode == 0, r.stderr
    await _refused(srv, token, "auth_revoked")  # enabling does not bring old tokens back
    fresh = srv.login("mallory", "mal-pass")
    await still_open(await _session(srv, fresh))
    await other.disconnect()


async def test_cli_password_change_revokes_older_tokens(srv: Server) -> None:
    token = srv.add_user("pat", "old-pass")
    sock = await _session(srv, token)
    r = cli(srv, "user", "passwd", "pat", stdin="new-pass\n")
    assert r.returncode == 0, r.stderr
    await closed_with(sock, "auth_revoked")
    await _refused(srv, token, "auth_revoked")
    status, _, _ = srv.http("POST", "/api/auth/login", {"username": "pat", "password": "old-pass"})
    assert status == 401
    await still_open(await _session(srv, srv.login("pat", "new-pass")))
    assert "new-pass" not in srv.log()


async def test_http_password_change_revokes_older_tokens_and_returns_a_new_one(
        srv: Server) -> None:
    token = srv.add_user("quinn", "first-pass")
    sock = await _session(srv, token)
    status, body, _ = srv.http("POST", "/api/auth/password",
                               {"current_password": "wrong", "new_password": "second-pass"},
                               token=token)
    assert (status, body["error"]["code"]) == (401, "auth_failed")
    await still_open(sock)
    status, body, _ = srv.http("POST", "/api/auth/password",
                               {"current_password": "first-pass", "new_password": "x"},
                               token=token)
    assert (status, body["error"]["code"]) == (400, "invalid_message")
    status, body, _ = srv.http("POST", "/api/auth/password",
                               {"current_password": "first-pass", "new_password": "second-pass"},
                               token=token)
    assert status == 200, body
    await closed_with(sock, "auth_revoked")
    await _refused(srv, token, "auth_revoked")
    status, _, _ = srv.http("GET", "/api/account", token=body["access_token"])
    assert status == 200
    assert srv.login("quinn", "second-pass")
    log = srv.log()
    assert "first-pass" not in log and "second-pass" not in log


async def test_a_deleted_user_is_refused_and_its_sockets_closed(srv: Server) -> None:
    token = srv.add_user("gone", "gone-pass")
    sock = await _session(srv, token)
    db_write(srv, "DELETE FROM users WHERE username = ?", "gone")  # an operator, by hand
    await closed_with(sock, "auth_failed")
    await _refused(srv, token, "auth_failed")
    _, report, _ = srv.http("GET", "/api/ws/status", token=srv.login("admin", "adminpass"))
    assert report["auth"]["connections_closed_revoked"] == 1


async def test_plain_websocket_connections_are_closed_too(srv: Server) -> None:
    token = srv.add_user("plain", "plain-pass")
    c = WsClient()
    try:
        await c.connect(srv.url, f"?token={token}")
        await c.wait_for("connected")
        r = cli(srv, "user", "logout", "plain")
        assert r.returncode == 0, r.stderr
        assert await c.wait_closed() == 4401
        assert c.close_reason == "auth_revoked"
        (err,) = c.events["error"]
        assert err["code"] == "auth_revoked"
        refused = WsClient()
        await refused.connect(srv.url, f"?token={token}")
        assert await refused.wait_closed() == 4401 and refused.close_reason == "auth_revoked"
        await refused.close()
    finally:
        await c.close()
