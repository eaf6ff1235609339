"""The ``EngineView`` port: what the edge asks of the trading engine, answered by the
engine in this process (``LocalEngine``) and by a cluster's engine process over its
internal HTTP port (``RemoteEngine``). The setup differs (the broker directly, or the
engine's REST API); every answer through the port must be the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hts_realtime.adapters.engine_http import internal_key
from hts_realtime.adapters.local_engine import LocalEngine
from hts_realtime.adapters.memory_bus import MemoryBus
from hts_realtime.adapters.remote_engine import RemoteEngine
from hts_realtime.domain.orders import OrderType, Side
from hts_realtime.engine.broker import OrderRequest
from hts_realtime.engine.build import Engine, build_engine, token_service
from hts_realtime.identity.tokens import Identity
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ports import EngineView
from hts_realtime.protocol.errors import AuthFailed, AuthRevoked
from hts_realtime.settings import Secret, Settings
from tests.cluster import RedisServer
from tests.support import SECRET, Server, mint

ORDER = {"symbol": "005930", "side": "buy", "order_type": "limit", "quantity": 3,
         "price": 52_500}  # the day's lower limit (previous close 75,000): it rests, holding cash


@dataclass
class Subject:
    view: EngineView
    token: str  # testuser's, valid
    order_id: str  # a resting order of testuser's
    strategy_id: str  # a strategy of testuser's
    logout: Callable[[str], Awaitable[None]]  # revoke one token, the engine's own way


def verify(token: str) -> Identity:
    """What the edge does before asking the engine: the signature and claims only."""
    return token_service(Settings.load({"HTS_JWT_SECRET": SECRET})).verify(token)


@pytest.fixture(params=[pytest.param("local", marks=pytest.mark.fast), "remote"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    if request.param == "local":
        engine: Engine = request.getfixturevalue("local_engine")
        committer = asyncio.create_task(engine.commits.serve())
        await engine.store.start()
        await engine.load()  # what the engine's lifecycle does first
        user = await engine.users.by_username("testuser")
        assert user is not None
        token, _ = engine.tokens.issue(user)
        order, _ = await engine.broker.place(user.user_id, OrderRequest(
            "005930", Side.BUY, OrderType.LIMIT, 3, 52_500), None)
        run = await engine.strategies.create(user.user_id, "ma_crossover", "005930", {}, 1,
                                             False)

        async def revoke_local(tok: str) -> None:
            await engine.auth.revoke(await engine.auth.identify(tok))

        yield Subject(LocalEngine(engine.master, engine.market, engine.broker,
                                  engine.strategies, engine.auth),
                      token, order.order_id, run.strategy_id, revoke_local)
        committer.cancel()
        return
    server: Server = request.getfixturevalue("engine_process")
    remote = RemoteEngine(server.url, internal_key(Secret(SECRET)))
    try:
        token = server.login()
        status, order, _ = server.http("POST", "/api/orders", ORDER, token)
        assert status == 201, order
        status, run, _ = server.http("POST", "/api/strategies", {
            "kind": "ma_crossover", "symbol": "005930", "quantity": 1}, token)
        assert status == 201, run

        async def revoke_remote(tok: str) -> None:
            assert server.http("POST", "/api/auth/logout", token=tok)[0] == 204

        yield Subject(remote, token, order["order_id"], run["strategy_id"], revoke_remote)
    finally:
        await remote.close()


@pytest.fixture(scope="module")
def local_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine in this process (its own database), shared like the remote one. Each case
    runs its group commit (``subject``); the rest of its background work is not needed."""
    settings = Settings.load({"HTS_JWT_SECRET": SECRET}, demo=True,
                             database=str(tmp_path_factory.mktemp("local") / "hts.db"))
    engine = build_engine(settings, metrics=Metrics(), bus=MemoryBus(), stream_log=None,
                          watched=None)
    yield engine
    asyncio.run(engine.store.close())


@pytest.fixture(scope="module")
def engine_process(tmp_path_factory: pytest.TempPathFactory,
                   redis_server: RedisServer) -> Iterator[Server]:
    """A cluster's engine (its own database), shared by the module's remote cases: each
    case places its own order and strategy and logs in afresh."""
    server = Server(tmp_path_factory.mktemp("engine"),
                    {"HTS_ROLE": "engine", "HTS_REDIS_URL": redis_server.url}).start()
    yield server
    server.stop()


async def test_owners_of_orders_and_strategies(subject: Subject) -> None:
    view = subject.view
    await view.prime_owners([f"order:{subject.order_id}", f"strategy:{subject.strategy_id}",
                             "order:no-such-order", "strategy:nope", "price:005930", 42])
    assert view.order_owner(subject.order_id) == "1"
    assert view.strategy_owner(subject.strategy_id) == "1"
    assert view.order_owner("no-such-order") is None
    assert view.strategy_owner("nope") is None


async def test_confirm_takes_the_name_and_roles_from_the_store(subject: Subject) -> None:
    forged = mint(sub="1", name="not-testuser", roles=["admin"])  # signed, claims too much
    identity = await subject.view.confirm(verify(forged))
    assert (identity.user_id, identity.username, identity.roles) == ("1", "testuser", ())
    with pytest.raises(AuthFailed):
        await subject.view.confirm(verify(mint(sub="999999", name="ghost")))


async def test_a_revoked_token_is_refused(subject: Subject) -> None:
    identity = verify(subject.token)
    assert await subject.view.refusal(identity) is None
    await subject.logout(subject.token)
    refusal = await subject.view.refusal(identity)
    assert isinstance(refusal, AuthRevoked) and refusal.code == "auth_revoked"
    with pytest.raises(AuthRevoked):
        await subject.view.confirm(identity)


async def test_the_account_shows_the_resting_order_s_hold(subject: Subject) -> None:
    account = await subject.view.account("1")
    assert account["reserved_cash"] >= ORDER["quantity"] * ORDER["price"]  # this case's order
    assert account["available_cash"] == account["cash"] - account["reserved_cash"]


async def test_prices_books_and_the_session(subject: Subject) -> None:
    view = subject.view
    price = await view.price("005930")
    assert price is not None and price["type"] == "price" and price["symbol"] == "005930"
    assert price["name"] == "삼성전자" and price["data"]["price"] > 0
    book = await view.orderbook("005930")
    assert book is not None and book["type"] == "orderbook" and book["symbol"] == "005930"
    assert book["data"]["asks"] and book["data"]["bids"]
    assert await view.price("999999") is None and await view.orderbook("999999") is None
    assert view.market_status() in {"pre_open", "open", "closing_auction", "closed"}
