"""Refresh tokens and renewing an open connection, on every role's public surface.

A login gives an access token and a rotating refresh token; a refresh spends
the refresh token once; a used one presented again revokes the whole family
(its access tokens too, so their sockets close) and is logged without the
token. Logout, log out everywhere, a password change and an operator's
``user disable`` stop refresh tokens too. An open connection is warned before
its token expires, renews in place with ``renew``, and is closed
``token_expired`` at ``exp`` if it did not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile.identity import cli, closed_with, still_open
from tests.plainws import WsClient
from tests.support import Client, Server


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server().start()


@pytest.fixture
def short(make_server: Callable[..., Server]) -> Server:
    """Access tokens of 3 s, warned 2 s before expiry."""
    return make_server({"HTS_ACCESS_TOKEN_TTL_SECONDS": "3",
                        "HTS_TOKEN_EXPIRY_WARNING_SECONDS": "2"}).start()


def _login(srv: Server, name: str, password: str) -> dict[str, Any]:
    status, body, _ = srv.http("POST", "/api/auth/login",
                               {"username": name, "password": password})
    assert status == 200, body
    assert body["refresh_expires_in"] > 0 and body["refresh_token"] != body["access_token"]
    return dict(body)


def _refresh(srv: Server, refresh_token: object) -> tuple[int, Any]:
    status, body, _ = srv.http("POST", "/api/auth/refresh", {"refresh_token": refresh_token})
    return status, body


def _refused(status: int, body: Any, code: str) -> None:
    assert (status, body["error"]["code"]) == (401, code), body


async def _session(srv: Server, token: str) -> Client:
    c = Client()
    await c.connect(srv.url, auth={"token": token, "topics": ["order:*"]})
    await c.wait_for("connected")
    return c


async def test_refresh_rotates_and_a_reused_token_revokes_its_family(srv: Server) -> None:
    srv.add_user("rita", "rita-pass")
    first = _login(srv, "rita", "rita-pass")
    other = _login(srv, "rita", "rita-pass")  # another device: its own family
    status, second = _refresh(srv, first["refresh_token"])
    assert status == 200, second
    assert second["user_id"] == first["user_id"] and second["username"] == "rita"
    assert second["refresh_token"] not in (first["refresh_token"], other["refresh_token"])
    assert srv.http("GET", "/api/account", token=second["access_token"])[0] == 200
    sock = await _session(srv, second["access_token"])
    bystander = await _session(srv, other["access_token"])

    # the first refresh token again: someone else holds the family
    status, body = _refresh(srv, first["refresh_token"])
    _refused(status, body, "auth_revoked")
    await closed_with(sock, "auth_revoked")  # the family's access tokens are revoked
    status, body, _ = srv.http("GET", "/api/account", token=second["access_token"])
    _refused(status, body, "auth_revoked")
    _refused(*_refresh(srv, second["refresh_token"]), "auth_revoked")
    # the other login is untouched
    await still_open(bystander)
    status, third = _refresh(srv, other["refresh_token"])
    assert status == 200, third
    log = srv.log() + getattr(srv, "engine", srv).log()
    assert "refresh token reuse" in log
    for secret in (first, second, other, third):
        assert secret["refresh_token"] not in log and secret["access_token"] not in log
    await bystander.disconnect()


@pytest.mark.parametrize("bad", ["nope", "", 7, None, "x" * 129])
async def test_a_bad_refresh_token_is_refused(srv: Server, bad: object) -> None:
    status, body = _refresh(srv, bad)
    expected = (401, "auth_failed") if bad == "nope" else (400, "invalid_message")
    assert (status, body["error"]["code"]) == expected, body


async def test_logout_password_change_and_disable_stop_refresh_tokens(srv: Server) -> None:
    srv.add_user("lena", "lena-pass")
    a, b = _login(srv, "lena", "lena-pass"), _login(srv, "lena", "lena-pass")
    # logout: this login's refresh tokens, not the other device's
    assert srv.http("POST", "/api/auth/logout", token=a["access_token"])[0] == 204
    _refused(*_refresh(srv, a["refresh_token"]), "auth_revoked")
    status, b2 = _refresh(srv, b["refresh_token"])
    assert status == 200, b2
    # an access token from before a refresh logs out the same family
    c = _login(srv, "lena", "lena-pass")
    status, c2 = _refresh(srv, c["refresh_token"])
    assert status == 200
    assert srv.http("POST", "/api/auth/logout", token=c["access_token"])[0] == 204
    _refused(*_refresh(srv, c2["refresh_token"]), "auth_revoked")
    # everywhere: every family
    d = _login(srv, "lena", "lena-pass")
    assert srv.http("POST", "/api/auth/logout", {"everywhere": True},
                    token=b2["access_token"])[0] == 204
    _refused(*_refresh(srv, b2["refresh_token"]), "auth_revoked")
    _refused(*_refresh(srv, d["refresh_token"]), "auth_revoked")
    # a password change: the old families stop, the answer starts a new one
    e = _login(srv, "lena", "lena-pass")
    status, changed, _ = srv.http("POST", "/api/auth/password",
                                  {"current_password": "lena-pass", "new_password": "new-pass"},
                                  token=e["access_token"])
    assert status == 200, changed
    _refused(*_refresh(srv, e["refresh_token"]), "auth_revoked")
    status, f = _refresh(srv, changed["refresh_token"])
    assert status == 200, f
    # an operator disables the user in another process: no refresh either
    assert cli(srv, "user", "disable", "lena").returncode == 0
    _refused(*_refresh(srv, f["refresh_token"]), "auth_revoked")
    assert "new-pass" not in srv.log()


async def test_a_socket_renews_in_place_and_closes_at_expiry_otherwise(short: Server) -> None:
    short.add_user("sam", "sam-pass")
    short.add_user("bob", "bob-pass")
    login = _login(short, "sam", "sam-pass")
    renewing = await _session(short, login["access_token"])
    lazy = await _session(short, login["access_token"])
    sid = renewing.sio.get_sid()
    (warning,) = await renewing.wait_for("token_expiring")
    assert warning["expires_in"] <= 2 and warning["expires_at"] > 0
    status, fresh = _refresh(short, login["refresh_token"])
    assert status == 200, fresh
    ack = await renewing.call("renew", {"token": fresh["access_token"]})
    assert ack["ok"] is True and ack["expires_at"] > warning["expires_at"], ack
    (renewed,) = await renewing.wait_for("renewed")
    assert renewed["expires_at"] == ack["expires_at"]
    # the one that did not renew is closed at its exp, with the documented code
    await closed_with(lazy, "token_expired")
    assert renewing.sio.get_sid() == sid  # same connection, same rooms
    await still_open(renewing)
    # another user's token, or a bad one, is refused and changes nothing
    other = _login(short, "bob", "bob-pass")["access_token"]
    for token, code in ((other, "auth_failed"), ("garbage", "auth_failed")):
        ack = await renewing.call("renew", {"token": token})
        assert ack == {"ok": False, "error": {"code": code, "message": ack["error"]["message"]}}
    renewing.events["error"].clear()
    await renewing.wait_for("token_expiring", 2)
    await closed_with(renewing, "token_expired")


async def test_a_plain_websocket_renews_the_same_way(short: Server) -> None:
    short.add_user("wes", "wes-pass")
    login = _login(short, "wes", "wes-pass")
    renewing, lazy = WsClient(), WsClient()
    try:
        for c in (renewing, lazy):
            await c.connect(short.url, f"?token={login['access_token']}")
            await c.wait_for("connected")
        await renewing.wait_for("token_expiring")
        status, fresh = _refresh(short, login["refresh_token"])
        assert status == 200
        reply = await renewing.request({"type": "renew", "token": fresh["access_token"]},
                                       "renewed")
        assert reply["type"] == "renewed" and reply["user_id"] == login["user_id"], reply
        assert await lazy.wait_closed() == 4401 and lazy.close_reason == "token_expired"
        assert lazy.events["error"][-1]["code"] == "token_expired"
        pong = await renewing.request({"type": "ping"}, "pong")
        assert pong["type"] == "pong"
        assert await renewing.wait_closed() == 4401 and renewing.close_reason == "token_expired"
    finally:
        await renewing.close()
        await lazy.close()
