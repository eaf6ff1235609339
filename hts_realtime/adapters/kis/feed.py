"""The KIS feed: one broker session for the whole server, driven by client demand.

Ties the pieces together and runs them for the engine's lifetime:

* **demand** — every ``demand_interval`` it asks who wants what (the topics
  clients hold: one process's sessions, or on a cluster's engine the
  gateways' ``md:*`` subscriptions in Redis) and what the engine itself needs
  (symbols with open paper orders or running strategies), turns that into
  registrations (``price:``/``trade:`` → H0STCNT0, ``orderbook:`` → H0STASP0,
  and H0STMKO0 for VI and the session when ``vi_feed``) and hands them to the
  registration budget;
* **the session** (``session.KisSession``) keeps what the budget decides;
* **snapshots** — at start every symbol's price once (real previous closes and
  bands before anyone asks), then every symbol the budget could not stream
  (*limited*) every ``snapshot_interval``, through the rate-bounded REST client;
* **feed state** per wanted symbol — ``live`` (streamed), ``limited``
  (snapshots), ``stale`` (the session is down) — handed to ``on_feed_state``
  on every change and repeated every ``snapshot_interval`` for the symbols that
  are not live, so a client that subscribes later learns it too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hts_realtime.adapters.kis.budget import DemandTracker, Item, RegistrationBudget
from hts_realtime.adapters.kis.codec import TR_BOOK, TR_MARKET_OP, TR_TRADE, DataFrame, FrameError
from hts_realtime.adapters.kis.rest import KisRest, RestError
from hts_realtime.adapters.kis.session import Credentials, KisSession, Redactor, SessionOptions
from hts_realtime.adapters.kis.source import KisTape
from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.market_hours import KST
from hts_realtime.ports import MarketDemand

log = logging.getLogger("hts.kis")

EngineNeeds = Callable[[], Iterable[str]]  # symbols the engine trades (orders, strategies)
FeedStateListener = Callable[[str, str], None]  # (symbol, "live" | "limited" | "stale")

TOPIC_TRS = {"price": (TR_TRADE,), "trade": (TR_TRADE,), "orderbook": (TR_BOOK,)}


@dataclass(frozen=True)
class KisOptions:
    session: SessionOptions
    registrations: int = 41
    min_hold: float = 30.0
    rest_per_second: float = 10.0
    snapshot_interval: float = 5.0
    vi_feed: bool = True  # H0STMKO0 per wanted symbol (KIS offers it on real accounts only)
    demand_interval: float = 0.5


class KisFeed:
    def __init__(self, market: ExternalMarket, symbols: list[str], credentials: Credentials,
                 options: KisOptions, demand: MarketDemand, engine_needs: EngineNeeds,
                 on_feed_state: FeedStateListener | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.market = market
        self.symbols = symbols
        self.options = options
        self.demand = demand
        self.engine_needs = engine_needs
        self.on_feed_state = on_feed_state
        self.clock = clock
        self.redact = Redactor()
        self.tape = KisTape(market)
        self.budget = RegistrationBudget(options.registrations, options.min_hold)
        self.tracker = DemandTracker()
        self.session = KisSession(credentials, options.session, self.budget, self._on_frame,
                                  self.redact, clock)
        self.rest = KisRest(credentials, options.session.rest_url, options.rest_per_second,
                            self.redact, clock)
        self.snapshots = 0
        self.snapshot_errors = 0
        self._wanted: dict[str, set[str]] = {}  # symbol -> the TRs wanted for it
        self._states: dict[str, str] = {}  # symbol -> the feed state last announced
        self._announced_at: dict[str, float] = {}
        self._snapped_at: dict[str, float] = {}
        self._logged: set[str] = set()

    # -- the engine's view ---------------------------------------------------------------------
    def feed_state(self, symbol: str) -> str:
        if not self.session.connected:
            return "stale"
        return "limited" if symbol in self.budget.limited() else "live"

    def stalled_reason(self) -> str | None:
        """Why the feed is not ready (readiness), or None."""
        if self.session.refused:
            return f"KIS refused the session: {self.session.refused}"
        if not self.session.connected:
            return "the KIS session is not connected"
        return None

    def status(self) -> dict[str, Any]:
        body = self.session.status()
        body.update({
            "source": "kis",
            "wanted_symbols": len(self._wanted),
            "limited_symbols": sorted(self.budget.limited()),
            "limited_count": len(self.budget.limited()),
            "evictions": self.budget.evictions,
            "snapshots": self.snapshots,
            "rest_calls": self.rest.calls,
            "rest_errors": dict(self.rest.errors),
            "prints_dropped": self.market.dropped,
            # what KIS says each wanted symbol is doing (auction, VI, halt, 상한/하한, 예상체결가)
            "symbols": {s: self.tape.state(s).to_wire() for s in sorted(self._wanted)},
        })
        return body

    # -- running ---------------------------------------------------------------------------------
    async def run(self) -> None:
        tasks = [asyncio.create_task(self.session.run(), name="kis-session"),
                 asyncio.create_task(self._demand_loop(), name="kis-demand"),
                 asyncio.create_task(self._snapshot_loop(), name="kis-snapshots")]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            await self.rest.close()

    def _on_frame(self, frame: DataFrame) -> None:
        self.tape.apply(frame, datetime.now(KST))

    def refresh_demand(self, topics: Mapping[str, int]) -> None:
        """Recompute what is wanted, tell the budget and the session, announce changes."""
        self.tape.expire_session(datetime.now(KST))
        now = self.clock()
        clients: dict[Item, int] = {}
        wanted: dict[str, set[str]] = {}
        for topic, count in topics.items():
            kind, _, symbol = topic.partition(":")
            if not self.market.known(symbol):
                continue
            for tr in TOPIC_TRS.get(kind, ()):
                clients[(tr, symbol)] = clients.get((tr, symbol), 0) + count
                wanted.setdefault(symbol, set()).add(tr)
        engine: list[Item] = []
        for symbol in self.engine_needs():  # resting orders need prints, takers the book
            if self.market.known(symbol):
                engine += [(TR_TRADE, symbol), (TR_BOOK, symbol)]
                wanted.setdefault(symbol, set()).update((TR_TRADE, TR_BOOK))
        extras = [(TR_MARKET_OP, s) for s in wanted] if self.options.vi_feed else []
        self.budget.set_demand(self.tracker.update(clients, engine, extras, now), now)
        self._wanted = wanted
        self.session.wake()
        self._announce(now)

    def _announce(self, now: float) -> None:
        if self.on_feed_state is None:
            return
        for symbol in self._wanted:
            state = self.feed_state(symbol)
            repeat = state != "live" and \
                now - self._announced_at.get(symbol, 0.0) >= self.options.snapshot_interval
            if state != self._states.get(symbol, "live") or repeat:
                self._states[symbol] = state
                self._announced_at[symbol] = now
                try:
                    self.on_feed_state(symbol, state)
                except Exception:
                    log.exception("feed state listener failed")
        for symbol in [s for s in self._states if s not in self._wanted]:
            del self._states[symbol]  # nobody wants it: nobody to tell

    async def _demand_loop(self) -> None:
        failures = 0
        while True:
            try:
                self.refresh_demand(await self.demand())
                failures = 0
            except Exception as exc:  # e.g. Redis away: keep the last demand, say so rarely
                failures += 1
                if failures == 1 or failures % 120 == 0:
                    log.warning("KIS demand update failed (%d in a row): %s", failures,
                                self.redact(exc))
            await asyncio.sleep(self.options.demand_interval)

    async def _snapshot_loop(self) -> None:
        # first every symbol once, the wanted ones first: real prices before anyone asks
        first = sorted(self.symbols, key=lambda s: s not in self._wanted)
        for symbol in first:
            await self._snapshot(symbol, book=False)
        while True:
            now = self.clock()
            due = [s for s in sorted(self.budget.limited())
                   if now - self._snapped_at.get(s, -1e9) >= self.options.snapshot_interval]
            for symbol in due:
                await self._snapshot(symbol, book=TR_BOOK in self._wanted.get(symbol, ()))
            await asyncio.sleep(min(1.0, self.options.snapshot_interval / 2))

    async def _snapshot(self, symbol: str, book: bool) -> None:
        self._snapped_at[symbol] = self.clock()
        try:
            price = await self.rest.price(symbol)
            asking = await self.rest.asking(symbol) if book else None
            self.tape.snapshot(symbol, price, asking, datetime.now(KST))
            self.snapshots += 1
        except (RestError, FrameError) as exc:
            self.snapshot_errors += 1
            key = str(exc).split(":")[0]
            if key not in self._logged and len(self._logged) < 64:
                self._logged.add(key)
                log.warning("KIS snapshot of %s failed: %s; further ones are only counted",
                            symbol, self.redact(exc))
