"""``build_engine``: everything that owns trading state, built once from ``Settings``.

The roles that hold the engine (``single``, ``engine``) call it with the two
choices that differ between them:

* ``bus``: where market data, the market's session and access changes are
  published (``MemoryBus`` in one process, Redis in a cluster);
* ``stream_log``: where committed private events are appended for other
  processes (a cluster's Redis Streams, through the pending-events outbox), or
  None in one process;

and ``watched``, the symbols to stream by topic kind (what this process's
clients watch, or every symbol on a cluster's engine).

The market feed's stages are declared here, once, in the order they must run:
resting orders match a trade before strategies react to it; candles and the
streamers see the same step afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hts_realtime.domain.costs import Costs
from hts_realtime.domain.history import day_states, seed_history
from hts_realtime.domain.market import KST, MarketSimulator
from hts_realtime.domain.market_hours import MarketHours, MarketStatus
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.domain.throttle import KeyedLimiter
from hts_realtime.engine import markets
from hts_realtime.engine.access import AccessPolicy, Authenticator
from hts_realtime.engine.access_watch import AccessWatcher
from hts_realtime.engine.broker import PaperBroker
from hts_realtime.engine.candle_store import CandleStore
from hts_realtime.engine.candles import CandleBook
from hts_realtime.engine.group_commit import GroupCommit
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.login import LoginService
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.market_publisher import MarketPublisher
from hts_realtime.engine.market_state import MarketState
from hts_realtime.engine.outbox_relay import OutboxRelay
from hts_realtime.engine.paper_shown import PaperShown
from hts_realtime.engine.payloads import market_status
from hts_realtime.engine.pending_events import PendingEvents
from hts_realtime.engine.refresh_tokens import RefreshTokens
from hts_realtime.engine.revocation_store import StoreRevocations
from hts_realtime.engine.signal_history import SignalHistory
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.engine.streamers import MarketStreams, Watched
from hts_realtime.engine.users import UserError, UserStore
from hts_realtime.engine.watchlists import WatchlistStore
from hts_realtime.identity.tokens import TokenService
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ops.readiness import Check
from hts_realtime.ports import (
    ACCESS_CHANNEL,
    Bus,
    MarketDemand,
    MarketDriver,
    MarketSource,
    StreamWriter,
    access_message,
)
from hts_realtime.settings import Settings
from hts_realtime.storage.factory import store_for
from hts_realtime.storage.store import Store

log = logging.getLogger("hts.engine")

DEMO_USERS = (("testuser", "testpass", False), ("admin", "adminpass", True))


@dataclass
class Engine:
    settings: Settings
    store: Store  # every read and write of the engine (SQLite, or PostgreSQL)
    users: UserStore
    tokens: TokenService
    auth: Authenticator
    logins: LoginService
    refresh: RefreshTokens  # rotating refresh tokens (POST /api/auth/refresh)
    writes: KeyedLimiter
    watcher: AccessWatcher
    master: SymbolMaster
    hours: MarketHours
    market: MarketSource
    sim: MarketSimulator | None  # the simulated market (continued from the database)
    market_state: MarketState
    feed: MarketFeed
    journal: Journal
    events: EventBus  # committed private events, in this process
    broker: PaperBroker
    strategies: StrategyRunner
    candles: CandleBook
    candle_store: CandleStore
    streams: MarketStreams
    publisher: MarketPublisher
    watchlists: WatchlistStore
    relay: OutboxRelay | None  # a cluster's engine: pending events to Redis Streams
    commits: GroupCommit  # every write of the trading state
    stream_every_symbol: bool
    driver: MarketDriver | None = None  # what feeds an external market (HTS_FEED=kis|replay)
    _committer: asyncio.Task[None] | None = field(default=None, repr=False)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, repr=False)

    def costs(self) -> dict[str, Any]:
        """The fee and tax rates as decimal strings, exactly what the broker's ``Costs``
        are built from (no float), for ``GET /api/costs``."""
        s = self.settings
        return {"brokerage_fee_rate": str(s.brokerage_fee_rate),
                "sell_tax_rates": {"KOSPI": str(s.sell_tax_rate_kospi),
                                   "KOSDAQ": str(s.sell_tax_rate_kosdaq)}}

    def status(self) -> dict[str, Any]:
        """The engine's part of ``GET /api/ws/status`` (also ``/internal/status``)."""
        body: dict[str, Any] = {
            "price_streamer_running": self.streams.price.running,
            "market_streamers": self.streams.status(),
            "open_orders": self.broker.open_orders(),
            "running_strategies": self.strategies.running(),
            "sent": {"price_ticks": self.streams.price.ticks,
                     "orderbook_ticks": self.streams.orderbook.ticks,
                     "trade_ticks": self.streams.trade.ticks},
            "limits": self.logins.limits(),
            "auth": self.logins.counters(),
            "group_commit": {"commits": self.commits.commits, "works": self.commits.works,
                             "largest_group": self.commits.largest_group,
                             "failed": self.commits.failed_commits,
                             "durability": self.store.durability},
            "feed": self.driver.status() if self.driver is not None else {"source": "sim"},
        }
        if self.relay is not None:
            body["engine"] = {"outbox": {"backlog": self.relay.backlog,
                                         "sent": self.relay.sent,
                                         "redis_connected": self.relay.connected,
                                         "refills": self.relay.refills}}
        return body

    def readiness_checks(self) -> dict[str, Check]:
        async def database() -> str | None:
            await self.store.fetchrow("SELECT 1")
            return None

        async def market_feed() -> str | None:
            reason = self.feed.stalled_reason()
            if reason is None and self.driver is not None:
                reason = self.driver.stalled_reason()
            return reason

        return {"database": database, "market_feed": market_feed}

    def add_gauges(self, metrics: Metrics) -> None:
        metrics.gauge("hts_strategies_running", "Strategy runs in the running state",
                      lambda: {"": self.strategies.running()})
        metrics.gauge("hts_open_orders", "Orders accepted and not yet filled or cancelled",
                      lambda: {"": self.broker.open_orders()})
        relay = self.relay
        metrics.gauge("hts_outbox_backlog",
                      "Committed private events not yet in Redis (a cluster's engine; 0 in one "
                      "process)", lambda: {"": float(relay.backlog if relay else 0)})
        logins = self.logins
        metrics.counter("hts_login_refusals",
                        "Logins refused before any password check: throttled (too many wrong "
                        "passwords for the username or address) or busy (hashing queue full)",
                        lambda: {"throttled": float(logins.refused_throttled),
                                 "busy": float(logins.refused_busy)}, label="reason")
        metrics.counter("hts_refresh_token_reuses",
                        "Refresh tokens presented again after use (each revoked its family)",
                        lambda: {"": float(self.refresh.reuses)})
        if self.driver is not None:
            feed_gauges(metrics, self.driver)

    async def load(self) -> None:
        """Everything memory holds, read from the database (the committer must run: a
        fresh database's seeded history is written through it)."""
        if self.settings.demo:
            await seed_demo_users(self.users)
        if self.sim is not None:
            now = datetime.now(KST)
            if await self.candle_store.is_empty():  # a fresh database: a seeded history,
                # so charts are never empty (computed off the loop: the lease's renewals
                # go on meanwhile)
                self.candles.add_candles(await asyncio.to_thread(
                    seed_history, self.master, now, self.settings.market_seed,
                    always=self.hours.mode == "always"))
                await self.candles.flush()
            # prices continue from the last step a leader committed (market_state), else
            # from the candles
            days = day_states(await self.candle_store.last_days(2), now.date())
            days.update(await self.market_state.load())
            self.sim.restore(days, now)
        await self.candles.load()
        await self.broker.load()
        await self.strategies.load()

    async def lifecycle(self) -> AsyncIterator[None]:
        """The engine's background work, for the app's ``cleanup_ctx`` of a process that
        always leads (``single``): started inside the running loop, cancelled and awaited
        on exit, then the last writes. A cluster's engine runs ``start``, ``lead``,
        ``step_down`` and ``close`` under its lease instead (``engine.standby``)."""
        await self.start()
        await self.lead()
        yield
        await self.step_down(final=True)
        await self.close()

    async def start(self) -> None:
        """Connect the store and start the committer (a standby does this much: warm)."""
        await self.store.start()
        self._committer = asyncio.create_task(self.commits.serve(), name="group-commit")

    async def lead(self) -> None:
        """Rebuild memory from the database and start what a leader runs: the market, the
        access watcher, the candle flush, the publisher, the outbox relay, the feed."""
        await self.load()
        self._tasks = [
            asyncio.create_task(self.feed.run(), name="market-feed"),
            asyncio.create_task(self.watcher.run(), name="access-watch"),
            asyncio.create_task(self._flush_candles(), name="candle-flush"),
            asyncio.create_task(self.publisher.run(), name="market-publisher"),
        ]
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if self.driver is not None:
            self._tasks.append(asyncio.create_task(self.driver.run(), name="market-driver"))
        if self.stream_every_symbol:  # a cluster's engine streams every symbol, all the time
            for streamer in self.streams.by_kind.values():
                streamer.ensure_running()
        log.info("engine leading")

    async def step_down(self, *, final: bool = False) -> None:
        """Stop what a leader runs. ``final`` (a clean shutdown of the leader): the last
        candles and every accepted work commit first. Otherwise (the lease is lost) memory
        is dropped: it is rebuilt from the database if this engine leads again."""
        await self.streams.stop()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if final:
            try:
                await asyncio.wait_for(self.candles.flush(), 2.0)
            except Exception as exc:
                log.warning("candles: final flush failed: %r", exc)
            with contextlib.suppress(TimeoutError):  # what was accepted commits before we go
                await asyncio.wait_for(self.commits.settle(), 2.0)
            return
        self.broker.forget()
        self.strategies.forget()

    async def close(self) -> None:
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
        self.logins.close()
        await self.store.close()

    async def _flush_candles(self) -> None:
        """Write the candles the trades changed, every ``candle_flush_seconds``."""
        failures = 0
        while True:
            await asyncio.sleep(self.settings.candle_flush_seconds)
            try:
                await self.candles.flush()
                failures = 0
            except Exception as exc:  # kept in memory: the next flush tries again
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    log.warning("candles: flush failed (%d in a row): %r", failures, exc)


def token_service(settings: Settings) -> TokenService:
    return TokenService(
        settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


async def seed_demo_users(users: UserStore) -> None:
    for name, password, admin in DEMO_USERS:
        if await users.by_username(name) is None:
            with contextlib.suppress(UserError):
                await users.add(name, password, admin=admin)


def build_engine(settings: Settings, *, metrics: Metrics, bus: Bus,
                 stream_log: StreamWriter | None, watched: Watched | None,
                 demand: MarketDemand | None = None,
                 broker_feed: markets.FeedDriverFactory | None = None) -> Engine:
    """``watched`` None: stream every symbol (a cluster's engine). ``demand``: which
    market topics clients hold across every edge (a real feed registers what is wanted).
    ``broker_feed``: what feeds the market with ``HTS_FEED=kis`` (the role's adapter).

    Nothing is read from the database here: ``Engine.load`` does that inside the
    running loop (at start, or when this engine takes the lead)."""
    store = store_for(settings)
    users = UserStore(store)
    tokens = token_service(settings)
    # cached: the access watcher below tells the policy whose access changed
    revocations = StoreRevocations(store)
    auth = Authenticator(tokens, AccessPolicy(users, revocations, cached=True))
    refresh = RefreshTokens(store, revocations, settings.refresh_token_ttl_seconds)
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
    hours = MarketHours(settings.market_hours, settings.market_clock_offset_seconds)
    now = datetime.now(KST)
    events = EventBus()
    # every write of the trading state goes through one group commit on the engine's
    # store (engine/group_commit.py)
    commits = GroupCommit(store, events.publish)
    candle_store = CandleStore(store)
    candles = CandleBook(candle_store, commits, (s.symbol for s in master))
    market: MarketSource
    sim: MarketSimulator | None = None
    if settings.feed == "sim":  # restored from the database by Engine.load
        market = sim = MarketSimulator(master, seed=settings.market_seed, hours=hours, now=now,
                                       vi_seconds=settings.market_vi_seconds,
                                       news=settings.market_news_moves())
    else:  # real or recorded prints only: no made-up history under them
        external = markets.external_market(settings, master)
        hours = external.hours
        market = external
    relay: OutboxRelay | None = None
    if stream_log is not None:
        pending = PendingEvents(store)
        journal = Journal(store, settings.journal_retention, pending)
        relay = OutboxRelay(pending, journal, stream_log, settings.outbox_batch)
        events.subscribe(relay.notify)
    else:
        journal = Journal(store, settings.journal_retention)
    events.subscribe(lambda ev: metrics.on_private_event(ev.event, ev.payload))
    broker = PaperBroker(
        store, journal, commits, master, market,
        initial_cash=settings.initial_cash,
        max_quantity=settings.max_order_quantity,
        participation=settings.fill_participation,
        costs=Costs.of(settings.brokerage_fee_rate, {
            "KOSPI": settings.sell_tax_rate_kospi, "KOSDAQ": settings.sell_tax_rate_kosdaq}),
    )
    strategies = StrategyRunner(
        store, journal, commits, master, broker,
        status_interval=settings.strategy_status_interval_seconds,
        max_per_user=settings.max_strategies_per_user,
        max_quantity=settings.max_order_quantity,
        history=SignalHistory(store, settings.strategy_signal_history),
    )
    market_state = MarketState(store, commits)
    publisher = MarketPublisher(bus)
    every = [s.symbol for s in master]
    shown = PaperShown(market, broker.resting, broker.resting_changes)  # what clients see
    streams = MarketStreams(shown, metrics, publisher.sender,
                            watched if watched is not None else (lambda kind: every),
                            price_interval=settings.price_interval_seconds,
                            orderbook_interval=settings.orderbook_interval_seconds)

    def on_status(status: MarketStatus, at: datetime) -> None:
        publisher.status(market_status(status, at))  # every edge's connections

    feed = MarketFeed(market, settings.market_tick_seconds,
                      stages=[broker.on_quotes, strategies.on_quotes, candles.on_quotes,
                              streams.on_quotes, market_state.on_quotes],
                      on_status=[on_status],
                      on_symbol=[lambda state, at: publisher.symbol_status(
                          state.symbol, state.to_wire(at))])

    async def announce(user_ids: set[str]) -> None:
        """Every edge re-checks these users' connections (``edge.access_relay``)."""
        auth.access.forget(user_ids)  # first: the re-check asks the policy again
        await bus.publish(ACCESS_CHANNEL, access_message(user_ids))

    watcher = AccessWatcher(auth.access.revocations, announce, settings.revocation_poll_seconds,
                            purges=[refresh.purge])
    driver: MarketDriver | None = None
    if settings.feed != "sim":
        async def no_demand() -> dict[str, int]:
            return {}

        driver = markets.driver(
            settings, external, master, demand or no_demand,
            lambda: broker.open_symbols() | strategies.symbols(),
            publisher.feed_status,
            lambda: datetime.now(KST), broker_feed)
    return Engine(settings, store, users, tokens, auth, logins, refresh, writes, watcher, master,
                  hours, shown, sim, market_state, feed, journal, events, broker, strategies,
                  candles, candle_store, streams, publisher,
                  WatchlistStore(store, commits, master, settings.max_watchlist), relay,
                  commits, stream_every_symbol=watched is None, driver=driver)


def feed_gauges(metrics: Metrics, driver: MarketDriver) -> None:
    """The feed's health, sampled at scrape time (README "Monitoring")."""
    def sample(key: str) -> Callable[[], dict[str, float]]:
        def read() -> dict[str, float]:
            value = driver.status().get(key)
            return {} if value is None else {"": float(value)}
        return read

    for name, key, text in (
            ("hts_feed_connected", "connected", "1 while the market feed's session is up"),
            ("hts_feed_registrations", "registrations", "Broker registrations in use"),
            ("hts_feed_registration_budget", "budget", "Broker registrations allowed"),
            ("hts_feed_last_frame_age_seconds", "last_frame_age_seconds",
             "Seconds since the feed's last data frame"),
            ("hts_feed_reconnects", "reconnects", "Feed sessions re-established since start"),
            ("hts_feed_frames", "frames", "Data frames received since start"),
            ("hts_feed_frames_dropped", "frames_dropped",
             "Frames dropped since start (bad field count, garbage, unknown symbol, ...)"),
            ("hts_feed_limited_symbols", "limited_count",
             "Wanted symbols served by REST snapshots (no registration slot)")):
        metrics.gauge(name, text, sample(key))
