"""Quotes, the market-source interface, and a simulated KRX market with depth.

The simulator is a pure, synchronous state machine: ``step(now)`` lets a
random subset of symbols trade and returns their new quotes. Each symbol
keeps a 10-level order book (``domain.orderbook``) on the tick grid inside
its daily band. A trade is an aggressive order that walks the opposite
side of that book: it prints at the levels it touches and consumes their
size, so the tape, the book and the last price always agree. Driving it
on a clock is the job of ``engine.market_feed``; a replay file or a
broker feed would implement the same ``MarketSource`` protocol.

Sessions (``domain.market_hours``): trades print only while the market is
``open``; the KRX single-price auctions print one trade each, at 09:00
(the opening auction) and at 15:30 (the closing one). A new Korean
calendar day rolls every symbol over: yesterday's last price becomes the
previous close, and the band follows it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from hts_realtime.domain.krx import price_limits, tick_down, tick_up
from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus
from hts_realtime.domain.orderbook import DEPTH, BookSnapshot, Level, Trade, take
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbols import SymbolMaster

__all__ = ["KST", "DayState", "MarketHours", "MarketSimulator", "Quote"]


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price: int
    open: int
    high: int
    low: int
    prev_close: int
    volume: int  # cumulative shares traded today
    last_volume: int  # shares traded in the latest step
    timestamp: datetime
    trades: tuple[Trade, ...] = ()  # the prints of the latest step, oldest first

    @property
    def change(self) -> int:
        return self.price - self.prev_close

    @property
    def change_percent(self) -> float:
        return round(self.change * 100 / self.prev_close, 2)

    @property
    def limits(self) -> tuple[int, int]:
        return price_limits(self.prev_close)


@dataclass(frozen=True, slots=True)
class DayState:
    """Where a symbol's day stands (from the candle history at start-up)."""

    day: date
    prev_close: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(eq=False)
class _Symbol:
    quote: Quote
    day: date
    limits: tuple[int, int]  # the day's band (lower, upper), as quote.limits
    asks: list[list[int]] = field(default_factory=list)  # [price, qty], best (lowest) first
    bids: list[list[int]] = field(default_factory=list)  # [price, qty], best (highest) first
    version: int = 0


class MarketSimulator:
    """Seeded: the same seed (and the same start state) gives the same market.

    Each ``open`` step a symbol trades with probability ``activity``: an
    aggressor buys with a mild pull back toward the previous close (so a
    long run stays inside the band without sticking to its edges) and a
    lot of roughly ₩5-50M, walking the book. Then the book refills: the
    aggressor's side closes a spread wider than a tick, far levels are
    added back up to ten, and a few resting sizes change.
    """

    def __init__(
        self,
        master: SymbolMaster,
        *,
        seed: int | None = None,
        activity: float = 0.7,
        hours: MarketHours | None = None,
        now: datetime | None = None,
        days: dict[str, DayState] | None = None,
    ) -> None:
        self.master = master
        self.hours = hours or MarketHours("always")
        self._rng = random.Random(seed)
        self._activity = activity
        self._syms: dict[str, _Symbol] = {}
        self.restore(days or {}, now or datetime.now(KST))

    def restore(self, days: dict[str, DayState], now: datetime) -> None:
        """Each symbol's quote from where its day stands (``days``: the stored state a
        restart or a new leader continues from), with a fresh book around it."""
        today = now.astimezone(KST).date()
        self._status = self.hours.status(now)
        self._syms = {}
        for s in self.master:
            d = days.get(s.symbol)
            if d is not None and d.day == today:
                q = Quote(s.symbol, d.close, d.open, d.high, d.low, d.prev_close, d.volume, 0,
                          now)
            else:
                prev = d.close if d is not None else s.prev_close
                q = Quote(s.symbol, prev, prev, prev, prev, prev, 0, 0, now)
            st = _Symbol(q, today, q.limits)
            self._rebuild(st)
            self._syms[s.symbol] = st

    # -- reads -----------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote | None:
        st = self._syms.get(symbol)
        return st.quote if st else None

    def book(self, symbol: str) -> BookSnapshot | None:
        st = self._syms.get(symbol)
        if st is None:
            return None
        return BookSnapshot(
            symbol,
            tuple(Level(p, q) for p, q in st.asks),
            tuple(Level(p, q) for p, q in st.bids),
            st.quote.price,
            st.quote.timestamp,
        )

    def book_version(self, symbol: str) -> int:
        """Rises on every change of the symbol's book or last price."""
        st = self._syms.get(symbol)
        return st.version if st else -1

    def status(self, now: datetime) -> MarketStatus:
        return self.hours.status(now)

    # -- the clock -------------------------------------------------------------------------
    def step(self, now: datetime) -> list[Quote]:
        status = self.hours.status(now)
        previous, self._status = self._status, status
        today = now.astimezone(KST).date()
        for st in self._syms.values():
            if st.day != today:
                self._roll(st, today, now)
        if status is not MarketStatus.OPEN:
            if previous is MarketStatus.CLOSING_AUCTION:  # 15:30: the closing auction
                return [self._auction(st, now) for st in self._syms.values()]
            return []
        if previous is MarketStatus.PRE_OPEN:  # 09:00: the opening auction
            return [self._auction(st, now) for st in self._syms.values()]
        traded: list[Quote] = []
        for st in self._syms.values():
            if self._rng.random() >= self._activity:
                continue
            traded.append(self._trade(st, now))
        return traded

    def take_liquidity(self, symbol: str, side: Side, fills: list[tuple[int, int]]) -> None:
        """A paper order of ``side`` took ``fills`` from the book (after its commit)."""
        st = self._syms.get(symbol)
        if st is None or not fills:
            return
        take(st.asks if side is Side.BUY else st.bids, fills)
        self._pad(st)  # the gap it leaves shows until the market quotes into it
        st.version += 1

    def replay_trade(self, symbol: str, price: int, quantity: int, side: Side,
                     now: datetime) -> Quote:
        """Print a given trade (a replay or a test) and quote a fresh book around it:
        best bid at ``price``, best ask a tick above."""
        st = self._syms[symbol]
        trade = Trade(symbol, price, quantity, side, st.quote.volume + quantity, now)
        st.quote = replace(st.quote, price=price)
        self._rebuild(st)
        return self._print(st, (trade,), now)

    # -- mechanics -------------------------------------------------------------------------
    def _size(self, price: int) -> int:
        return max(1, int(self._rng.lognormvariate(3.3, 0.8) * 1_000_000 / price))

    def _trade(self, st: _Symbol, now: datetime) -> Quote:
        q = st.quote
        upper = st.limits[1]
        rng = self._rng
        drift = (q.price - q.prev_close) / max(upper - q.prev_close, 1)
        side = Side.BUY if rng.random() < 0.5 - 0.35 * drift else Side.SELL
        if side is Side.BUY and not st.asks:
            side = Side.SELL
        elif side is Side.SELL and not st.bids:
            side = Side.BUY
        lot = max(1, int(rng.lognormvariate(3.0, 1.0) * 1_000_000 / q.price))
        levels = st.asks if side is Side.BUY else st.bids
        trades = []
        volume = q.volume
        left = lot
        while left > 0 and levels:  # walk the opposite side, taking each level's size
            level = levels[0]
            qty = min(left, level[1])
            left -= qty
            level[1] -= qty
            if level[1] == 0:
                del levels[0]
            volume += qty
            trades.append(Trade(q.symbol, level[0], qty, side, volume, now))
        self._refresh(st, side)
        return self._print(st, tuple(trades), now)

    def _auction(self, st: _Symbol, now: datetime) -> Quote:
        """A single-price auction: one print near the last price, then a fresh book."""
        q = st.quote
        lower, upper = st.limits
        moves = int(self._rng.expovariate(0.8))
        up = self._rng.random() < 0.5
        price = tick_up(q.price, moves) if up else tick_down(q.price, moves)
        price = min(max(price, lower), upper)
        qty = 5 * max(1, int(self._rng.lognormvariate(3.0, 1.0) * 1_000_000 / price))
        side = Side.BUY if price >= q.price else Side.SELL
        trade = Trade(q.symbol, price, qty, side, q.volume + qty, now)
        st.quote = replace(q, price=price)
        self._rebuild(st)
        return self._print(st, (trade,), now)

    def _print(self, st: _Symbol, trades: tuple[Trade, ...], now: datetime) -> Quote:
        q = st.quote
        if not trades:
            st.quote = replace(q, last_volume=0, trades=(), timestamp=now)
            return st.quote
        prices = [t.price for t in trades]
        first_of_day = not q.volume  # open/high/low start with the day's first trade
        st.quote = Quote(
            q.symbol,
            prices[-1],
            prices[0] if first_of_day else q.open,
            max(prices) if first_of_day else max(q.high, *prices),
            min(prices) if first_of_day else min(q.low, *prices),
            q.prev_close,
            trades[-1].volume,
            sum(t.quantity for t in trades),
            now,
            trades,
        )
        st.version += 1
        return st.quote

    def _roll(self, st: _Symbol, today: date, now: datetime) -> None:
        """A new day: the last price becomes the previous close; OHLCV start again."""
        p = st.quote.price
        st.quote = Quote(st.quote.symbol, p, p, p, p, p, 0, 0, now)
        st.day = today
        st.limits = st.quote.limits
        self._rebuild(st)

    def _rebuild(self, st: _Symbol) -> None:
        """A fresh book around the last price: best bid at it, best ask a tick above."""
        lower, upper = st.limits
        p = st.quote.price
        st.bids = [[p, self._size(p)]] if p > lower or p == upper else []
        st.asks = [[tick_up(p), self._size(p)]] if p < upper else []
        if not st.bids:  # at the lower limit: the price is the best ask
            st.asks = [[p, self._size(p)]]
        self._pad(st)
        st.version += 1

    def _refresh(self, st: _Symbol, aggressor: Side) -> None:
        lower, upper = st.limits
        rng = self._rng
        asks, bids = st.asks, st.bids
        if asks and bids and tick_up(bids[0][0]) < asks[0][0]:
            # a spread wider than a tick: someone quotes inside it, usually the aggressor's side
            buyers = (aggressor is Side.BUY) == (rng.random() < 0.7)
            if buyers:
                bids.insert(0, [tick_down(asks[0][0]), self._size(asks[0][0])])
            else:
                asks.insert(0, [tick_up(bids[0][0]), self._size(bids[0][0])])
        if not asks and bids and bids[0][0] < upper:
            asks.append([tick_up(bids[0][0]), self._size(bids[0][0])])
        if not bids and asks and asks[0][0] > lower:
            bids.append([tick_down(asks[0][0]), self._size(asks[0][0])])
        if not asks and not bids:
            self._rebuild(st)
            return
        self._pad(st)
        for levels in (asks, bids):  # a few orders arrive or leave at resting levels
            if levels:
                lv = levels[int(rng.random() * len(levels))]
                lv[1] = max(1, lv[1] + int((2 * rng.random() - 1) * lv[1] / 3))
        st.version += 1

    def _pad(self, st: _Symbol) -> None:
        lower, upper = st.limits
        asks, bids = st.asks, st.bids
        if not asks and bids and bids[0][0] < upper:
            asks.append([tick_up(bids[0][0]), self._size(bids[0][0])])
        if not bids and asks and asks[0][0] > lower:
            bids.append([tick_down(asks[0][0]), self._size(asks[0][0])])
        while asks and len(asks) < DEPTH and asks[-1][0] < upper:
            p = tick_up(asks[-1][0])
            asks.append([p, self._size(p)])
        while bids and len(bids) < DEPTH and bids[-1][0] > lower:
            p = tick_down(bids[-1][0])
            bids.append([p, self._size(p)])
        del asks[DEPTH:]
        del bids[DEPTH:]
