"""``GET /api/trades``: a symbol's last trades (체결) with 전일 종가, which the live tape
continues; on one process and through a gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.cluster import ROLES, module_front
from tests.support import Client, Server


@pytest.fixture(scope="module", params=ROLES)
def front(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = module_front(tmp_path_factory, "trades", request.param, {})
    yield srv
    srv.stop()


async def test_the_last_trades_then_the_tape_continues(front: Server,
                                                       clients: Callable[[], Client]) -> None:
    token = front.login("testuser", "testpass")
    c = await clients().connect(front.url, auth={"token": token, "topics": ["trade:005930"]})
    await c.wait_for("connected")
    (first,) = (await c.wait_for("trade_update", 1))[:1]
    status, body, _ = front.http("GET", "/api/trades?symbol=005930&limit=100")
    assert status == 200, body
    _, symbols, _ = front.http("GET", "/api/symbols")
    prev_close = next(s["prev_close"] for s in symbols if s["symbol"] == "005930")
    assert body["symbol"] == "005930" and body["prev_close"] == prev_close
    trades = body["trades"]
    assert 0 < len(trades) <= 100
    volumes = [t["volume"] for t in trades]
    assert volumes == sorted(volumes)  # oldest first
    # what the tape sent before this read is in it (the tape is no faster than 100/step)
    assert first["data"]["trades"][-1] in trades
    assert set(trades[0]) == {"price", "quantity", "side", "volume", "timestamp"}
    status, few, _ = front.http("GET", "/api/trades?symbol=005930&limit=2")
    assert status == 200 and len(few["trades"]) == 2
    assert few["trades"][0]["volume"] >= trades[-2]["volume"]  # the newest two
    await c.disconnect()


@pytest.mark.parametrize(("query", "code"), [
    ("", "invalid_message"), ("?symbol=999999", "unknown_symbol"),
    ("?symbol=005930&limit=0", "invalid_message"),
    ("?symbol=005930&limit=101", "invalid_message"),
    ("?symbol=005930&limit=x", "invalid_message"),
    ("?symbol=005930&side=buy", "invalid_message"),
])
def test_bad_queries_are_refused(front: Server, query: str, code: str) -> None:
    status, body, _ = front.http("GET", f"/api/trades{query}")
    assert (status, body["error"]["code"]) == (400, code), body
