"""Login and connect-time authentication against a real server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import socketio

from tests.support import Client, Server, mint


def test_login_issues_a_token_with_the_contract_claims(server: Server) -> None:
    import jwt

    status, body, _ = server.http("POST", "/api/auth/login",
                                  {"username": "testuser", "password": "testpass"})
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["user_id"] == "1"
    assert 0 < body["expires_in"] <= 24 * 3600
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"sub", "name", "roles", "iss", "aud", "iat", "exp", "jti"}
    assert claims["sub"] == "1" and claims["name"] == "testuser"


@pytest.mark.parametrize("body", [
    {"username": "testuser", "password": "wrong"},
    {"username": "nobody", "password": "testpass"},
])
def test_login_refuses_bad_credentials(server: Server, body: dict[str, str]) -> None:
    status, resp, _ = server.http("POST", "/api/auth/login", body)
    assert status == 401
    assert resp["error"]["code"] == "auth_failed"


@pytest.mark.parametrize("raw", [b"not json", b'{"username": 5, "password": "x"}', b"[]",
                                 b'{"username": "a"}'])
def test_login_validates_its_body(server: Server, raw: bytes) -> None:
    status, resp, _ = server.http("POST", "/api/auth/login", raw=raw)
    assert status == 400
    assert resp["error"]["code"] == "invalid_message"


async def _connected(client: Client) -> dict[str, object]:
    events = await client.wait_for("connected")
    return dict(events[0])


async def test_connect_with_auth_payload(server: Server, token: str,
                                         clients: Callable[[], Client]) -> None:
    c = await clients().connect(server.url, auth={"token": token})
    hello = await _connected(c)
    assert hello["type"] == "connected"
    assert hello["message"] == "Welcome testuser!"
    assert hello["user_id"] == "1"
    assert hello["session_id"] == c.sio.get_sid("/")
    assert isinstance(hello["last_seq"], int)


async def test_connect_with_query_token(server: Server, token: str,
                                        clients: Callable[[], Client]) -> None:
    c = await clients().connect(server.url, query=f"?token={token}")
    assert (await _connected(c))["user_id"] == "1"
    assert token not in server.log(), "a token reached the server log"


async def test_connect_with_bearer_header(server: Server, token: str,
                                          clients: Callable[[], Client]) -> None:
    c = await clients().connect(server.url, headers={"Authorization": f"Bearer {token}"})
    assert (await _connected(c))["user_id"] == "1"


async def test_connect_over_long_polling(server: Server, token: str,
                                         clients: Callable[[], Client]) -> None:
    c = await clients().connect(server.url, auth={"token": token}, transports=["polling"])
    assert (await _connected(c))["user_id"] == "1"
    ack = await c.call("ping", {"timestamp": "t1"})
    assert ack["ok"] is True and ack["timestamp"] == "t1"


async def test_one_user_may_hold_several_connections(server: Server, token: str,
                                                     clients: Callable[[], Client]) -> None:
    a = await clients().connect(server.url, auth={"token": token})
    b = await clients().connect(server.url, auth={"token": token})
    assert (await _connected(a))["session_id"] != (await _connected(b))["session_id"]
    assert (await a.call("ping", {}))["ok"] and (await b.call("ping", {}))["ok"]


def _refusals() -> list[tuple[str, Callable[[], object], str]]:
    now = int(time.time())
    return [
        ("missing", lambda: {}, "auth_required"),
        ("empty", lambda: {"token": ""}, "auth_required"),
        ("garbage", lambda: {"token": "not.a.jwt"}, "auth_failed"),
        ("wrong secret", lambda: {"token": mint(secret="another-secret-" + "y" * 40)},
         "auth_failed"),
        ("alg none", lambda: {"token": _alg_none()}, "auth_failed"),
        ("HS512", lambda: {"token": mint(alg="HS512")}, "auth_failed"),
        ("expired", lambda: {"token": mint(iat=now - 7200, exp=now - 3600)}, "token_expired"),
        ("wrong audience", lambda: {"token": mint(aud="someone-else")}, "auth_failed"),
        ("wrong issuer", lambda: {"token": mint(iss="evil")}, "auth_failed"),
        ("missing jti", lambda: {"token": mint(drop=("jti",))}, "auth_failed"),
        ("missing exp", lambda: {"token": mint(drop=("exp",))}, "auth_failed"),
        ("sub not a string", lambda: {"token": mint(sub=1)}, "auth_failed"),
        ("token not a string", lambda: {"token": 12345}, "invalid_message"),
        ("bad topic in auth", lambda: {"token": mint(), "topics": ["stock:1"]}, "invalid_topic"),
        ("unknown symbol in auth", lambda: {"token": mint(), "topics": ["price:999999"]},
         "unknown_symbol"),
        ("someone else's order in auth", lambda: {"token": mint(), "topics": ["order:ORDX"]},
         "not_found"),
        ("negative last_seq", lambda: {"token": mint(), "last_seq": -1}, "invalid_message"),
        ("string last_seq", lambda: {"token": mint(), "last_seq": "5"}, "invalid_message"),
        ("bool last_seq", lambda: {"token": mint(), "last_seq": True}, "invalid_message"),
        ("topics not a list", lambda: {"token": mint(), "topics": "price:005930"},
         "invalid_message"),
        ("auth not an object", lambda: "just-a-string", "invalid_message"),
    ]


def _alg_none() -> str:
    import base64
    import json

    def b64(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "1", "name": "testuser", "roles": ["admin"], "iss": "hts-realtime",
              "aud": "hts-clients", "iat": now, "exp": now + 600, "jti": "x"}
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


@pytest.mark.parametrize(("case", "auth", "code"), _refusals(), ids=[r[0] for r in _refusals()])
async def test_refused_connects_carry_a_code(server: Server, case: str,
                                             auth: Callable[[], object], code: str) -> None:
    c = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth=auth())
    assert isinstance(c.connect_error, dict), c.connect_error
    assert c.connect_error["code"] == code
    assert c.connect_error["message"]
    assert not c.events["connected"]


async def test_refused_connect_joins_nothing(server: Server, token: str) -> None:
    c = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth={"token": "garbage", "topics": ["price:005930"]})
    admin = server.login("admin", "adminpass")
    status, body, _ = server.http("GET", "/api/ws/status", token=admin)
    assert status == 200
    # no anonymous user appears anywhere
    for users in body["subscriptions"].values():
        assert all(u.isdigit() for u in users)
