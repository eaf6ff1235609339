"""The composition root: builds the whole server from ``Settings``.

This is the only place that knows every component; each one takes its
dependencies in its constructor. Background work (the market clock, the
private-stream delivery loop, the price streamer) starts inside the
running loop via ``cleanup_ctx`` and is cancelled and awaited on exit.

``settings.role`` picks the implementations behind the ports:

* ``single``: one process; the bus is in memory, the event log is the
  SQLite journal, the price streamer runs while someone watches.
* ``engine``: the same process with Redis behind the ports: prices for every
  symbol go to Redis each interval, and each committed private event goes
  through the outbox to a Redis Stream (``cluster``). Gateways reach it over
  its HTTP port (``/api/...`` forwarded, ``/internal/...`` for their own use).
* ``gateway``: no database and no trading state (``roles.gateway``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from redis.asyncio import Redis

from hts_realtime.adapters.engine_http import InternalApi
from hts_realtime.adapters.journal_event_log import JournalLog
from hts_realtime.adapters.local_engine import LocalEngine
from hts_realtime.adapters.memory_bus import MemoryBus
from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.adapters.redis_event_log import RedisEventLog
from hts_realtime.adapters.sqlite_revocations import SqliteRevocations
from hts_realtime.domain.costs import Costs
from hts_realtime.domain.history import day_states, seed_history
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.domain.throttle import KeyedLimiter
from hts_realtime.edge.access_relay import AccessRelay
from hts_realtime.edge.core import RequestCore
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.http.api import (
    HttpApi,
    body_guard,
    error_middleware,
    forwarded_middleware,
    json_response,
)
from hts_realtime.edge.http.dashboard import DashboardApi
from hts_realtime.edge.market_relay import MarketRelay
from hts_realtime.edge.outbox import OutboxFlusher, OutboxLimits
from hts_realtime.edge.plain_ws import PlainWebSocket
from hts_realtime.edge.private_relay import InProcessStreams
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.socketio.adapter import (
    SendOptions,
    SendPathSocketIO,
    WireGuard,
    engineio_buffer_size,
)
from hts_realtime.edge.socketio.framing import Gateway
from hts_realtime.edge.topic_access import TopicAuthorizer
from hts_realtime.edge.wire_policy import BadInputLog
from hts_realtime.engine.access import AccessPolicy
from hts_realtime.engine.access_watch import AccessWatcher
from hts_realtime.engine.broker import PaperBroker
from hts_realtime.engine.candle_store import CandleStore
from hts_realtime.engine.candles import CandleBook
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.login import LoginService
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.market_publisher import MarketPublisher
from hts_realtime.engine.outbox_relay import OutboxRelay
from hts_realtime.engine.payloads import market_status
from hts_realtime.engine.pending_events import PendingEvents
from hts_realtime.engine.signal_history import SignalHistory
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.engine.streamers import MarketStreams
from hts_realtime.engine.users import UserError, UserStore
from hts_realtime.engine.watchlists import WatchlistStore
from hts_realtime.identity.auth import Authenticator
from hts_realtime.identity.tokens import TokenService
from hts_realtime.ops.metrics import CONTENT_TYPE, METRICS, Metrics
from hts_realtime.ops.readiness import Check, Readiness
from hts_realtime.ports import Bus
from hts_realtime.protocol.topics import MARKET_KINDS
from hts_realtime.settings import Settings
from hts_realtime.spec.asyncapi import build_asyncapi
from hts_realtime.spec.openapi import build_openapi
from hts_realtime.storage.db import Database

log = logging.getLogger("hts.app")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The dashboard keeps its token in localStorage (README, "The dashboard"): nothing but
# our own files may run or be fetched, so an injected <script> or a foreign host has
# no way in; no inline styles either (the page sets sizes through the CSSOM).
DASHBOARD_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                 "form-action 'self'")
DEMO_USERS = (("testuser", "testpass", False), ("admin", "adminpass", True))


@dataclass
class EngineCluster:
    """What an engine adds: Redis, the bus on it, and the outbox relay."""

    redis: Redis
    bus: RedisBus
    relay: OutboxRelay


@dataclass
class Components:
    settings: Settings
    db: Database
    users: UserStore
    tokens: TokenService
    auth: Authenticator
    logins: LoginService
    writes: KeyedLimiter
    watcher: AccessWatcher
    master: SymbolMaster
    market: MarketSimulator
    feed: MarketFeed
    journal: Journal
    events: EventBus  # committed private events, in process
    bus: Bus  # market data (in a cluster: and private events) between processes
    broker: PaperBroker
    strategies: StrategyRunner
    registry: SessionRegistry
    sio: SendPathSocketIO
    fanout: Fanout
    streams: MarketStreams
    publisher: MarketPublisher
    market_relay: MarketRelay
    core: RequestCore
    gateway: Gateway
    plain_ws: PlainWebSocket
    metrics: Metrics
    readiness: Readiness
    wire: WireGuard
    candles: CandleBook
    engine: LocalEngine
    cluster: EngineCluster | None


COMPONENTS = web.AppKey("components", Components)


def seed_demo_users(users: UserStore) -> None:
    for name, password, admin in DEMO_USERS:
        if users.by_username(name) is None:
            with contextlib.suppress(UserError):
                users.add(name, password, admin=admin)


def token_service(settings: Settings) -> TokenService:
    return TokenService(
        settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


def build(settings: Settings) -> Components:
    metrics = Metrics()
    db = Database(settings.database)
    users = UserStore(db)
    if settings.demo:
        seed_demo_users(users)
    tokens = token_service(settings)
    auth = Authenticator(tokens, AccessPolicy(users, SqliteRevocations(db)))
    window = settings.login_failure_window_seconds
    logins = LoginService(
        users,
        by_username=KeyedLimiter(settings.login_failures_per_username / window,
                                 settings.login_failures_per_username),
        by_address=KeyedLimiter(settings.login_failures_per_address / window,
                                 settings.login_failures_per_address),
        concurrency=settings.login_concurrency,
        queue=settings.login_queue,
    )
    writes = KeyedLimiter(settings.write_rate_per_second, settings.write_rate_burst)
    master = SymbolMaster()
    hours = MarketHours(settings.market_hours)
    now = datetime.now(KST)
    candle_store = CandleStore(db)
    candles = CandleBook(candle_store, (s.symbol for s in master))
    if candle_store.is_empty():  # a fresh database: a seeded history, so charts are never empty
        candles.add_candles(seed_history(master, now, settings.market_seed,
                                         always=hours.mode == "always"))
        candles.flush()
    market = MarketSimulator(master, seed=settings.market_seed, hours=hours, now=now,
                             days=day_states(candle_store.last_days(2), now.date()))
    feed = MarketFeed(market, settings.market_tick_seconds)
    events = EventBus()
    cluster: EngineCluster | None = None
    bus: Bus = MemoryBus()
    if settings.role == "engine":
        assert settings.redis_url is not None  # Settings refuses an engine without one
        redis = redis_client(settings.redis_url)
        outbox = PendingEvents(db)
        journal = Journal(db, settings.journal_retention, outbox)
        relay = OutboxRelay(outbox, journal,
                            RedisEventLog(redis, settings.redis_stream_length),
                            settings.outbox_batch)
        events.subscribe(relay.notify)
        cluster = EngineCluster(redis, RedisBus(redis), relay)
        bus = cluster.bus
    else:
        journal = Journal(db, settings.journal_retention)
    broker = PaperBroker(
        db, journal, events, master, market,
        initial_cash=settings.initial_cash,
        max_quantity=settings.max_order_quantity,
        participation=settings.fill_participation,
        costs=Costs.of(settings.brokerage_fee_rate, {
            "KOSPI": settings.sell_tax_rate_kospi, "KOSDAQ": settings.sell_tax_rate_kosdaq}),
    )
    strategies = StrategyRunner(
        db, journal, events, master, broker,
        status_interval=settings.strategy_status_interval_seconds,
        max_per_user=settings.max_strategies_per_user,
        max_quantity=settings.max_order_quantity,
        history=SignalHistory(db, settings.strategy_signal_history),
    )
    # order matters: resting orders match a trade before strategies react to it
    feed.listeners.append(broker.on_quotes)
    feed.listeners.append(strategies.on_quotes)
    feed.listeners.append(candles.on_quotes)
    registry = SessionRegistry()
    sio, limits, flusher = socketio_server(settings, metrics)
    fanout = Fanout(sio, registry, JournalLog(journal), metrics, limits, flusher)
    events.subscribe(fanout.publish)
    events.subscribe(lambda ev: metrics.on_private_event(ev.event, ev.payload))
    # market data goes over the bus; the relay hands what this process's clients watch
    # to its fan-out (and starts the lazy streamer of a topic's kind). An engine cannot
    # see the gateways' clients: it streams every symbol (a publish nobody subscribes
    # to is cheap), and its gateways subscribe to what theirs watch.
    publisher = MarketPublisher(bus)
    streams = MarketStreams(market, registry, fanout, metrics,
                            price_interval=settings.price_interval_seconds,
                            orderbook_interval=settings.orderbook_interval_seconds,
                            publish=publisher.sender,
                            every_symbol=None if cluster is None else [s.symbol for s in master])
    feed.listeners.append(streams.on_quotes)
    market_relay = MarketRelay(bus, fanout, registry,
                               on_interest=lambda t: streams.joined(t.kind, t.key))

    def on_status(status: MarketStatus, at: datetime) -> None:
        fanout.to_all("market_status", market_status(status, at))
        if cluster is not None:
            publisher.status(market_status(status, at))  # the gateways' connections too

    feed.status_listeners.append(on_status)
    engine = LocalEngine(master, market, broker, strategies, auth)
    authorizer = TopicAuthorizer(master, engine.order_owner, engine.strategy_owner)
    core = RequestCore(settings, auth, registry, authorizer, fanout, market_relay,
                       InProcessStreams(), master, engine, metrics)
    wire = WireGuard(sio, settings, fanout.to_sid)  # in front of python-socketio/engineio
    gateway = Gateway(sio, core)  # the Socket.IO framing, at /socket.io/
    # the seed's plain WebSocket, at /api/ws, under the same wire policies
    plain_ws = PlainWebSocket(core, fanout, settings, wire)

    def strike(sid: str, code: str, event: str) -> bool:
        framing = plain_ws if plain_ws.owns(sid) else wire
        return framing.strike(sid, code, event)

    core.strike = strike
    _sample_gauges(metrics, sio, registry, broker, strategies)
    readiness = Readiness()
    readiness.add("database", _database_check(db))
    readiness.add("market_feed", _feed_check(feed))
    # a cluster's engine also tells the gateways whose access changed
    recheck = (core.recheck_users if cluster is None
               else AccessRelay(bus, core.recheck_users, registry.user_ids).publisher())
    watcher = AccessWatcher(auth.access.revocations, recheck, settings.revocation_poll_seconds)
    if cluster is not None:
        readiness.add("redis", redis_check(cluster.redis))
    return Components(settings, db, users, tokens, auth, logins, writes, watcher, master, market,
                      feed, journal, events, bus, broker, strategies, registry, sio, fanout,
                      streams, publisher, market_relay, core, gateway, plain_ws, metrics,
                      readiness, wire, candles, engine, cluster)


def socketio_server(
    settings: Settings, metrics: Metrics
) -> tuple[SendPathSocketIO, OutboxLimits, OutboxFlusher]:
    """The Socket.IO server on our send path, with its outbox bounds."""
    limits = OutboxLimits(max_bytes=settings.outbox_max_bytes,
                          max_age=settings.outbox_max_age_seconds)
    flusher = OutboxFlusher()
    flusher.on_slow_consumer = metrics.slow_consumer
    flusher.on_conflated = metrics.conflated_in_outbox
    sio = SendPathSocketIO(
        SendOptions(limits=limits, high_water=settings.send_high_water_bytes,
                    socket_send_buffer=settings.socket_send_buffer_bytes, flusher=flusher),
        async_mode="aiohttp",
        cors_allowed_origins=list(settings.cors_origins) or None,
        max_http_buffer_size=engineio_buffer_size(settings),
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
        logger=False,
        engineio_logger=False,
    )
    return sio, limits, flusher


def redis_client(url: str) -> Redis:
    """One client (a connection pool) per process; commands fail fast in an outage so
    the callers' own retry loops (outbox, bus) decide what happens.

    No ``health_check_interval``: on the pub/sub connection redis-py would send its
    PING and read the answer from whichever task subscribes, while the bus's reader
    task is already reading that connection."""
    client: Redis = Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0,
                                   socket_keepalive=True)
    return client


def redis_check(redis: Redis) -> Check:
    async def check() -> str | None:
        try:
            await redis.ping()
        except Exception as exc:
            return f"redis unreachable: {exc}"
        return None
    return check


def _sample_gauges(metrics: Metrics, sio: SendPathSocketIO, registry: SessionRegistry,
                   broker: PaperBroker, strategies: StrategyRunner) -> None:
    connection_gauges(metrics, sio, registry)
    metrics.gauge("hts_strategies_running", "Strategy runs in the running state",
                  lambda: {"": strategies.running()})
    metrics.gauge("hts_open_orders", "Orders accepted and not yet filled or cancelled",
                  lambda: {"": broker.open_orders()})


def connection_gauges(metrics: Metrics, sio: SendPathSocketIO, registry: SessionRegistry) -> None:
    """The gauges of whoever serves clients (one process, or a cluster gateway)."""

    def socketio_connections() -> dict[str, float]:
        counts = {"websocket": 0.0, "polling": 0.0}
        for sid in registry.sids(transport="socketio"):
            try:
                counts[sio.transport(sid)] += 1  # "polling" until the client upgrades
            except (KeyError, ValueError):
                continue  # closed between the registry and the engine
        counts["plain_websocket"] = float(len(registry.sids(transport="websocket")))  # /api/ws
        return counts

    metrics.gauge("hts_connections", "Open client connections, by transport",
                  socketio_connections, label="transport")
    metrics.gauge("hts_subscriptions", "Topic subscriptions held, by topic kind",
                  registry.subscription_counts, label="kind")


def _database_check(db: Database) -> Check:
    async def check() -> str | None:
        db.ping()
        return None
    return check


def _feed_check(feed: MarketFeed) -> Check:
    async def check() -> str | None:
        return feed.stalled_reason()
    return check


async def _background(app: web.Application) -> AsyncIterator[None]:
    c = app[COMPONENTS]
    tasks = [
        asyncio.create_task(c.feed.run(), name="market-feed"),
        asyncio.create_task(c.fanout.run_private(), name="private-stream"),
        asyncio.create_task(c.fanout.flusher.run(), name="outbox-flusher"),
        asyncio.create_task(c.metrics.watch_event_loop(), name="event-loop-lag"),
        asyncio.create_task(c.watcher.run(), name="access-watch"),
        asyncio.create_task(_flush_candles(c), name="candle-flush"),
        asyncio.create_task(c.publisher.run(), name="market-publisher"),
        asyncio.create_task(c.market_relay.run(), name="market-relay"),
    ]
    if c.cluster is not None:
        tasks.append(asyncio.create_task(c.cluster.bus.run(), name="bus"))
        tasks.append(asyncio.create_task(c.cluster.relay.run(), name="outbox-relay"))
        for kind in MARKET_KINDS:  # the engine streams every symbol, all the time
            c.streams.ensure_running(kind)
    metrics_runner = await _start_metrics_port(c)
    log.info("background tasks started")
    yield
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    await c.streams.stop()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    c.logins.close()
    try:
        c.candles.flush()
    except Exception:
        log.exception("candles: final flush failed")
    if c.cluster is not None:
        await c.cluster.redis.aclose()
    c.db.close()


async def _start_metrics_port(c: Components) -> web.AppRunner | None:
    """``HTS_METRICS_PORT``: ``/metrics`` without authentication, on its own listener
    (meant for a private network or a sidecar scraper; the main port keeps admin auth)."""
    port = c.settings.metrics_port
    if port is None:
        return None

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=c.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, c.settings.host, port).start()
    log.info("metrics on http://%s:%d/metrics", c.settings.host, port)
    return runner


async def _flush_candles(c: Components) -> None:
    """Write the candles the trades changed, every ``candle_flush_seconds``."""
    while True:
        await asyncio.sleep(c.settings.candle_flush_seconds)
        try:
            c.candles.flush()
        except Exception:  # kept in memory: the next flush tries again
            log.exception("candles: flush failed")


def client_closer(
    sio: SendPathSocketIO, plain_ws: PlainWebSocket
) -> Callable[[web.Application], Awaitable[None]]:
    """On shutdown, end every client's transport *without* an Engine.IO CLOSE packet.

    Clients (socket.io-client and python-socketio alike) treat a CLOSE packet
    as "the server does not want me" and stay away; a lost transport makes
    them reconnect — to this server once it is back, or to another one.
    """

    async def close_clients(app: web.Application) -> None:
        await plain_ws.close_all()  # 1001 going away: plain-WebSocket clients reconnect
        await sio.end_all_transports()
        await sio.shutdown()

    return close_clients


def create_app(settings: Settings) -> web.Application:
    if settings.role == "gateway":
        from hts_realtime.roles.gateway import create_gateway_app

        return create_gateway_app(settings)
    components = build(settings)
    app = web.Application(
        middlewares=[forwarded_middleware(settings.trusted_proxies), error_middleware,
                     body_guard(settings.max_payload_bytes, settings.request_read_timeout_seconds)],
        client_max_size=settings.max_payload_bytes)
    bad_http = logging.getLogger("aiohttp.server")
    for old in [f for f in bad_http.filters if isinstance(f, BadHttpLogFilter)]:
        bad_http.removeFilter(old)
    bad_http.addFilter(BadHttpLogFilter(components.wire.bad_log))
    app[COMPONENTS] = components
    app[METRICS] = components.metrics
    attach_socketio(app, components.wire, settings)
    api = HttpApi(components.tokens, components.auth, components.logins, components.writes,
                  components.watcher, components.broker, components.master,
                  components.registry, components.streams, components.strategies,
                  components.fanout, components.metrics, components.readiness,
                  components.market, components.candles,
                  MarketHours(settings.market_hours).mode, components.wire.status)
    app.add_routes(api.routes())
    dashboard_api = DashboardApi(
        api.identify, WatchlistStore(components.db, components.master, settings.max_watchlist),
        components.strategies, settings.strategy_signal_history, {
            # decimal strings, exactly what the broker's Costs are built from (no float)
            "brokerage_fee_rate": str(settings.brokerage_fee_rate),
            "sell_tax_rates": {"KOSPI": str(settings.sell_tax_rate_kospi),
                               "KOSDAQ": str(settings.sell_tax_rate_kosdaq)},
        })
    app.add_routes(dashboard_api.routes())
    app.add_routes(components.plain_ws.routes())
    _add_spec(app, components)
    if components.cluster is not None:
        internal = InternalApi(settings.jwt_secret, components.engine,
                               lambda: engine_status(components))
        app.add_routes(internal.routes())
    add_dashboard(app)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(client_closer(components.sio, components.plain_ws))
    return app


def _add_spec(app: web.Application, c: Components) -> None:
    """``/api/openapi.json`` and ``/api/asyncapi.json``, generated once, on first request,
    from the finished router and the request core (``hts_realtime/spec``)."""
    cache: dict[str, dict[str, Any]] = {}

    async def openapi(request: web.Request) -> web.Response:
        if "openapi" not in cache:
            cache["openapi"] = build_openapi(request.app)
        return json_response(cache["openapi"])

    async def asyncapi(request: web.Request) -> web.Response:
        if "asyncapi" not in cache:
            cache["asyncapi"] = build_asyncapi(c.core.request_schemas(),
                                               f"{c.settings.host}:{c.settings.port}")
        return json_response(cache["asyncapi"])

    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/asyncapi.json", asyncapi)


def engine_status(c: Components) -> dict[str, Any]:
    """The engine's part of a cluster's ``GET /api/ws/status``."""
    relay = c.cluster.relay if c.cluster is not None else None
    return {
        "price_streamer_running": c.streams.price.running,
        "market_streamers": c.streams.status(),
        "price_ticks": c.streams.price.ticks,
        "open_orders": c.broker.open_orders(),
        "running_strategies": c.strategies.running(),
        "outbox": {
            "backlog": relay.outbox.backlog() if relay else 0,
            "sent": relay.sent if relay else 0,
            "redis_connected": relay.connected if relay else False,
            "refills": relay.refills if relay else 0,
        },
    }


def attach_socketio(app: web.Application, wire: WireGuard, settings: Settings) -> None:
    """Route ``/socket.io/`` to the Socket.IO server (what ``sio.attach`` does) through
    the wire guard, and decline permessage-deflate unless ``ws_compression`` is on.

    aiohttp accepts the compression socket.io-client and browsers offer, and
    each compressed connection then keeps its own zlib state: measured at
    ~119 KiB per idle connection against ~28 KiB without (bench idle_memory),
    for price updates of ~200 bytes that barely compress. Removing the offer
    from the upgrade request is how a server declines it (RFC 7692).
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        if not settings.ws_compression and "Sec-WebSocket-Extensions" in request.headers:
            headers = request.headers.copy()
            del headers["Sec-WebSocket-Extensions"]
            request = request.clone(headers=headers)
        return await wire.handle(request)

    for method in ("GET", "POST", "OPTIONS"):
        app.router.add_route(method, "/socket.io/", handle)


def add_dashboard(app: web.Application) -> None:
    """The browser dashboard: static files in the package, served at ``/``.

    ``static/vendor/socket.io.min.js`` is copied from npm's socket.io-client at
    build time (``make``), so the page needs no CDN and works offline.
    """
    index = STATIC_DIR / "index.html"
    if not index.exists():
        log.warning("no dashboard: %s is missing", index)
        return

    async def dashboard(request: web.Request) -> web.FileResponse:
        return web.FileResponse(index, headers={"Cache-Control": "no-cache",
                                                "Content-Security-Policy": DASHBOARD_CSP})

    app.router.add_get("/", dashboard)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    if not (STATIC_DIR / "vendor" / "socket.io.min.js").exists():
        log.warning("dashboard: static/vendor/socket.io.min.js is missing; run `make`")


ACCESS_LOG_PATH_CHARS = 120


class SafeAccessLogger(AbstractAccessLogger):
    """Access log without query strings (a ``?token=`` must never reach a log) or
    headers, and with long paths cut: a request line cannot blow up a log line."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = request.path
        if len(path) > ACCESS_LOG_PATH_CHARS:
            path = f"{path[:ACCESS_LOG_PATH_CHARS]}...({len(path)} chars)"
        self.logger.info('%s "%s %s" %s %.1fms', request.remote, request.method, path,
                         response.status, time * 1000)


class BadHttpLogFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a 9 KB URL or header, say) at ERROR
    with a traceback and the first 100 bytes of the offending line, which may be a
    token's. This turns each into one short WARNING line, within the bad-input log
    budget (``HTS_BAD_INPUT_LOG_PER_SECOND``); the rest are only counted."""

    def __init__(self, budget: BadInputLog) -> None:
        super().__init__()
        self.budget = budget

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        self.budget.totals["bad_http_request"] += 1
        if not self.budget.allow():
            return False
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = "bad HTTP request from %s: %s (%s)", (
            remote, type(exc).__name__, exc.code)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def build_user_store(database: str) -> tuple[UserStore, Database]:
    """A user store on ``database`` for the CLI (the caller closes the db)."""
    db = Database(database)
    return UserStore(db), db
