"""Token forgeries: claims of the wrong JSON type, and signed tokens for users that do not exist.

A token is only as good as the user behind it: every authenticated HTTP
route and the Socket.IO handshake check the user store, and nothing is ever
created for a user id the store does not know.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import socketio

from hts_realtime.roles import create_app
from hts_realtime.settings import Settings
from tests.hostile.identity import db_rows
from tests.support import SECRET, Client, Server, mint

WRONG_TYPES: list[tuple[str, dict[str, Any]]] = [
    ("exp as a string", {"exp": "9999999999"}),
    ("iat as a string", {"iat": "1700000000"}),
    ("nbf as a string", {"nbf": "0"}),
    ("iat a bool", {"iat": True}),
    ("exp a list", {"exp": [9999999999]}),
    ("sub a number", {"sub": 1}),
    ("sub empty", {"sub": ""}),
    ("name a number", {"name": 7}),
    ("jti a number", {"jti": 12345}),
    ("jti empty", {"jti": ""}),
    ("roles a string", {"roles": "admin"}),
    ("roles with a number", {"roles": ["admin", 1]}),
    ("aud a list", {"aud": ["hts-clients"]}),
]


@pytest.mark.parametrize("claims", [c for _, c in WRONG_TYPES], ids=[n for n, _ in WRONG_TYPES])
async def test_claims_of_the_wrong_type_are_refused(server: Server, claims: dict[str, Any]) -> None:
    token = mint(claims)
    status, body, _ = server.http("GET", "/api/account", token=token)
    assert (status, body["error"]["code"]) == (401, "auth_failed"), body
    c = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth={"token": token})
    assert c.connect_error["code"] == "auth_failed", c.connect_error


def _protected_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """Every route of the real app, with its path parameters filled in."""
    settings = Settings.load({"HTS_JWT_SECRET": SECRET},
                             database=str(tmp_path / "routes.db"))
    app = create_app(settings)
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "OPTIONS", "*") or not path or path.startswith("/socket.io"):
            continue
        routes.add((route.method, re.sub(r"\{[^}]+\}", "X1", path)))
    return sorted(routes)


def _status(server: Server, method: str, path: str) -> int:
    req = urllib.request.Request(server.url + path, data=b"{}", method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def test_a_signed_token_for_a_user_that_does_not_exist_is_refused_everywhere(
        server: Server, tmp_path: Path) -> None:
    ghost = mint(sub="999999", name="ghost", roles=["admin"])
    checked = []
    for method, path in _protected_routes(tmp_path):
        if _status(server, method, path) != 401:
            continue  # a public route: it answers without any token
        status, body, _ = server.http(method, path, {}, token=ghost)
        assert (status, body["error"]["code"]) == (401, "auth_failed"), (method, path, body)
        checked.append(f"{method} {path}")
    assert {"GET /api/account", "POST /api/orders", "GET /api/ws/status",
            "POST /api/auth/logout"} <= set(checked), checked
    c = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(server.url, auth={"token": ghost, "topics": ["order:*"]})
    assert c.connect_error["code"] == "auth_failed", c.connect_error
    # nothing was made for it: no account, no journal stream
    assert db_rows(server, "SELECT COUNT(*) FROM accounts WHERE user_id = '999999'") == [(0,)]
    assert db_rows(server, "SELECT COUNT(*) FROM user_streams WHERE user_id = '999999'") == [(0,)]


async def test_a_token_cannot_claim_more_than_its_user_has(server: Server) -> None:
    # testuser (id 1) is not an admin; a signed token saying so does not make it one
    token = mint(roles=["admin"], name="admin")
    status, body, _ = server.http("GET", "/api/ws/status", token=token)
    assert (status, body["error"]["code"]) == (403, "forbidden"), body
    c = Client()
    await c.connect(server.url, auth={"token": token})
    (hello,) = await c.wait_for("connected")
    assert hello["message"] == "Welcome testuser!"
    await c.disconnect()
