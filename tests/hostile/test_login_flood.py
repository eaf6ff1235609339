"""Password guessing and login floods.

Wrong passwords are throttled per username and per address (429
``rate_limited`` with ``Retry-After``, without hashing, even for the right
password), and scrypt runs in a bounded pool with a bounded queue, so a
flood is refused at once instead of queueing the whole server behind it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import aiohttp

from tests.support import Server


def _login(srv: Server, username: str, password: str) -> tuple[int, str, dict[str, str]]:
    status, body, headers = srv.http("POST", "/api/auth/login",
                                     {"username": username, "password": password})
    return status, (body.get("error") or {}).get("code", "ok"), headers


def test_wrong_passwords_for_one_username_are_throttled(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_LOGIN_FAILURES_PER_USERNAME": "3",
                       "HTS_LOGIN_FAILURE_WINDOW_SECONDS": "300"}).start()
    srv.add_user("victim", "victim-pass")
    for i in range(3):
        assert _login(srv, "victim", f"guess-{i}")[:2] == (401, "auth_failed")
    status, code, headers = _login(srv, "victim", "guess-3")
    assert (status, code) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 100, headers  # one failure refills in 100 s
    # the right password gains nothing while throttled...
    assert _login(srv, "victim", "victim-pass")[:2] == (429, "rate_limited")
    # ...and other users (same address) are not locked out
    assert _login(srv, "testuser", "testpass")[:2] == (200, "ok")


def test_wrong_passwords_from_one_address_are_throttled(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_LOGIN_FAILURES_PER_ADDRESS": "4",
                       "HTS_LOGIN_FAILURE_WINDOW_SECONDS": "300"}).start()
    codes = [_login(srv, f"user{i}", "whatever")[:2] for i in range(6)]  # spraying names
    assert codes[:4] == [(401, "auth_failed")] * 4
    assert codes[4:] == [(429, "rate_limited")] * 2
    status, code, headers = _login(srv, "testuser", "testpass")
    assert (status, code) == (429, "rate_limited") and int(headers["Retry-After"]) >= 1


async def test_another_address_is_not_throttled_by_the_first(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_LOGIN_FAILURES_PER_ADDRESS": "2",
                       "HTS_LOGIN_FAILURE_WINDOW_SECONDS": "300"}).start()
    for i in range(3):
        _login(srv, f"user{i}", "whatever")
    assert _login(srv, "testuser", "testpass")[:2] == (429, "rate_limited")
    # the same user from 127.0.0.2 (loopback, another source address)
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as http, http.post(
            f"{srv.url}/api/auth/login",
            json={"username": "testuser", "password": "testpass"}) as r:
        assert r.status == 200, await r.text()


def test_a_right_password_does_not_use_up_the_budget(make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_LOGIN_FAILURES_PER_USERNAME": "2",
                       "HTS_LOGIN_FAILURES_PER_ADDRESS": "2"}).start()
    for _ in range(10):
        assert _login(srv, "testuser", "testpass")[:2] == (200, "ok")


async def test_a_login_flood_is_refused_past_the_queue_and_the_server_keeps_answering(
        make_server: Callable[..., Server]) -> None:
    # throttling off (a huge budget), to test the hashing bound on its own
    srv = make_server({"HTS_LOGIN_FAILURES_PER_ADDRESS": "100000",
                       "HTS_LOGIN_FAILURES_PER_USERNAME": "100000",
                       "HTS_LOGIN_CONCURRENCY": "1", "HTS_LOGIN_QUEUE": "3"}).start()
    flood = 60
    answers: Counter[tuple[int, str, str | None]] = Counter()
    async with aiohttp.ClientSession() as http:

        async def wrong(i: int) -> None:
            async with http.post(f"{srv.url}/api/auth/login",
                                 json={"username": "testuser", "password": f"no-{i}"}) as r:
                body = await r.json()
                answers[(r.status, body["error"]["code"], r.headers.get("Retry-After"))] += 1

        async def healthz() -> int:
            async with http.get(f"{srv.url}/healthz") as r:
                return r.status

        results = await asyncio.gather(*(wrong(i) for i in range(flood)), healthz())
    assert results[-1] == 200
    hashed = answers[(401, "auth_failed", None)]
    refused = answers[(429, "rate_limited", "1")]
    assert hashed + refused == flood, answers
    assert refused > 0, f"all {flood} concurrent logins were hashed: {answers}"
    assert hashed >= 4  # the pool and its queue were used
    assert _login(srv, "testuser", "testpass")[:2] == (200, "ok")


def test_an_ipv6_client_is_one_address_per_64() -> None:
    # a host on a /64 can pick any of 2**64 addresses: throttling keys on the prefix
    from types import SimpleNamespace

    from hts_realtime.edge.http.common import client_address as _address

    def key(remote: str | None) -> str:
        return _address(SimpleNamespace(remote=remote))  # type: ignore[arg-type]

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert key("::ffff:192.0.2.7") == key("192.0.2.7") == "192.0.2.7"
    assert key(None) == "unknown"


def test_a_client_cannot_claim_another_address(make_server: Callable[..., Server]) -> None:
    """Only a gateway (with the cluster's key) tells the engine a forwarded request's
    client address: the same header from a client is ignored, on every role."""
    srv = make_server({"HTS_LOGIN_FAILURES_PER_ADDRESS": "2",
                       "HTS_LOGIN_FAILURE_WINDOW_SECONDS": "300"}).start()
    for i in range(3):
        status, _, _ = srv.http("POST", "/api/auth/login",
                                {"username": f"user{i}", "password": "whatever"},
                                headers={"X-HTS-Client": f"203.0.113.{i}",
                                         "X-HTS-Internal": "guessed"})
    assert status == 429
    status, body, _ = srv.http("POST", "/api/auth/login",
                               {"username": "testuser", "password": "testpass"},
                               headers={"X-HTS-Client": "198.51.100.9"})
    assert (status, body["error"]["code"]) == (429, "rate_limited"), body
