"""Quotes, and a simulated KRX market with depth that holds its shape all day.

The simulator is a pure, synchronous state machine: ``step(now)`` moves
every symbol's latent fair price along its class's path
(``domain.price_model``), lets aggressors trade against the book toward it,
and returns the quotes of the symbols that printed. Each symbol keeps a
10-level book (``domain.book_model``) on the tick grid inside its daily
band; a trade walks the opposite side, printing at each level it touches,
so the tape, the book and the last price always agree. Driving it on a
clock is the job of ``engine.market_feed``.

Sessions (``domain.market_hours``): trades print only while the market is
``open``; the KRX single-price auctions print one trade each, at 09:00
(the opening auction) and at 15:30 (the closing one). A new Korean
calendar day rolls every symbol over: yesterday's last price becomes the
previous close, and the band follows it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, datetime

from hts_realtime.domain.book_model import Book, Sizer, take
from hts_realtime.domain.krx import floor_to_tick, price_limits, tick_down, tick_up
from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus
from hts_realtime.domain.orderbook import BookSnapshot, Level, Trade
from hts_realtime.domain.orderbook import take as remove_fills
from hts_realtime.domain.orders import Side
from hts_realtime.domain.price_model import (
    SESSION_SECONDS,
    STATIC_VI,
    VI_RANDOM_END,
    VI_SECONDS,
    PriceClass,
    intraday,
    price_class,
)
from hts_realtime.domain.symbol_state import SymbolState
from hts_realtime.domain.symbols import SymbolMaster

__all__ = ["KST", "DayState", "MarketHours", "MarketSimulator", "Quote"]

_MAX_DT = 30.0  # seconds: a stall or a restart does not become one giant move
_FAT_ODDS, _FAT_SCALE = 0.01, 5.0  # 1% of shocks are 5x: fat-tailed steps
_SHOCK_NORM = 1.0 / math.sqrt(1 - _FAT_ODDS + _FAT_ODDS * _FAT_SCALE ** 2)


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


class _Symbol:
    __slots__ = (
        "book",
        "cls",
        "day",
        "drift",
        "dt",
        "fair",
        "limits",
        "lock",
        "paper",
        "quote",
        "spread",
        "static_ref",
        "ts",
        "version",
        "vi",
        "vi_ref",
        "vi_until",
        "vol",
    )

    def __init__(self, quote: Quote, day: date, cls: PriceClass, book: Book) -> None:
        self.quote = quote
        self.day = day
        self.limits = quote.limits
        self.cls = cls
        self.book = book
        self.fair = float(quote.price)  # the latent price the market trades toward
        self.vol = 1.0  # the day's volatility regime
        self.drift = 0.0  # the day's news drift, log per session second
        self.spread = 1  # the spread the quoters aim for, in ticks
        self.ts: float | None = None
        self.dt = 0.0  # seconds since the symbol's previous step
        self.lock = 0  # +1 held at the upper limit, -1 at the lower
        self.version = 0
        self.paper: list[Trade] = []  # paper takers' prints, for the next step's quote
        self.static_ref = quote.price  # 정적 VI's reference: the last single-price auction
        self.vi: str | None = None  # "static" / "dynamic" while a VI's auction runs
        self.vi_until = 0.0  # its end (epoch seconds)
        self.vi_ref = 0  # the price it was measured from


class MarketSimulator:
    """Seeded: the same seed (and the same start state) gives the same market.

    ``activity`` is the chance a symbol trades in a step at the day's average
    pace (the intraday U scales it); a symbol whose fair price has left the
    spread always trades toward it.
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
        vi_seconds: float = VI_SECONDS,
        news: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        """``vi_seconds``: a VI's auction length (KRX: 120 s, then up to 30 s at random;
        shorter for tests and demos, the random end scaled alike); ``news``: symbol ->
        (move, seconds after ``now``), applied at the first continuous step after."""
        self.master = master
        self._vi_seconds = vi_seconds
        self.hours = hours or MarketHours("always")
        self._rng = random.Random(seed)
        self._activity = activity
        self._syms: dict[str, _Symbol] = {}
        self._changed: list[str] = []
        start = (now or datetime.now(KST)).timestamp()
        self._news = {s: (m, start + d) for s, (m, d) in (news or {}).items() if s in master}
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
            cls = price_class(s)
            st = _Symbol(q, today, cls, Book(cls, q.limits, self._rng, self._sizer(cls)))
            self._new_day(st, overnight=False)
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
            tuple(Level(p, q) for p, q in st.book.asks),
            tuple(Level(p, q) for p, q in st.book.bids),
            st.quote.price,
            st.quote.timestamp,
        )

    def book_version(self, symbol: str) -> int:
        """Rises on every change of the symbol's book or last price."""
        st = self._syms.get(symbol)
        return st.version if st else -1

    def status(self, now: datetime) -> MarketStatus:
        return self.hours.status(now)

    def symbol_state(self, symbol: str) -> SymbolState | None:
        """The symbol's trading state now: a VI, a limit, or the market's session."""
        st = self._syms.get(symbol)
        if st is None:
            return None
        limit = "upper" if st.lock > 0 else "lower" if st.lock < 0 else None
        if st.vi is not None:
            lower, upper = st.limits
            expected = min(max(floor_to_tick(max(int(st.fair), 1)), lower), upper)
            return SymbolState(symbol, "vi", limit, st.vi,
                               datetime.fromtimestamp(st.vi_until, KST), expected,
                               None, st.vi_ref)
        phase = {MarketStatus.OPEN: "continuous", MarketStatus.CLOSED: "closed"}.get(
            self._status, "auction")
        return SymbolState(symbol, phase, limit)

    def changed_states(self) -> list[SymbolState]:
        """The symbols whose own state (a VI, a limit) changed since the last call."""
        changed, self._changed = self._changed, []
        return [s for s in (self.symbol_state(c) for c in changed) if s is not None]

    # -- the clock -------------------------------------------------------------------------
    def step(self, now: datetime) -> list[Quote]:
        status = self.hours.status(now)
        previous, self._status = self._status, status
        local = now.astimezone(KST)
        today = local.date()
        for st in self._syms.values():
            if st.day != today:
                self._roll(st, today, now)
        if status is not MarketStatus.OPEN:
            if previous is MarketStatus.CLOSING_AUCTION:  # 15:30: the closing auction
                return self._auctions(now)
            return []
        if previous is MarketStatus.PRE_OPEN:  # 09:00: the opening auction
            return self._auctions(now)
        u = intraday(local)
        ts = now.timestamp()
        for symbol, (move, at) in list(self._news.items()):
            if ts >= at:
                self.news(symbol, move)
                del self._news[symbol]
        traded: list[Quote] = []
        for st in self._syms.values():
            self._move(st, ts, u)
            before = (st.vi, st.lock)
            if st.vi is not None:  # a VI's auction: orders only, one print at its end
                q = self._auction(st, now) if ts >= st.vi_until else None
            else:
                q = self._trade(st, now, u, ts)
            if st.paper:  # paper takers since the last step print first, in order
                trades = (*st.paper, *(q.trades if q is not None else ()))
                st.paper = []
                q = st.quote = replace(st.quote, trades=trades, timestamp=now,
                                       last_volume=sum(t.quantity for t in trades))
            if q is not None:
                traded.append(q)
            if (st.vi, st.lock) != before:
                self._changed.append(st.quote.symbol)
        return traded

    def take_liquidity(self, symbol: str, side: Side, fills: list[tuple[int, int]]) -> None:
        """A paper order of ``side`` took ``fills`` from the book (after its commit): they
        print on the tape (in the next step's quote) and move the last price like any
        other trade."""
        st = self._syms.get(symbol)
        if st is None or not fills:
            return
        q, volume = st.quote, st.quote.volume
        for price, qty in fills:
            volume += qty
            st.paper.append(Trade(symbol, price, qty, side, volume, q.timestamp))
        prices = [p for p, _ in fills]
        st.quote = replace(q, price=prices[-1], volume=volume,
                           open=q.open if q.volume else prices[0],
                           high=max(q.high, *prices) if q.volume else max(prices),
                           low=min(q.low, *prices) if q.volume else min(prices))
        levels = st.book.asks if side is Side.BUY else st.book.bids
        remove_fills(levels, fills)
        if not levels:  # the whole side: the next quotes are beyond the deepest taken
            deepest = max(p for p, _ in fills) if side is Side.BUY else min(p for p, _ in fills)
            beyond = tick_up(deepest) if side is Side.BUY else tick_down(deepest)
            if st.limits[0] <= beyond <= st.limits[1]:
                levels.append([beyond, st.book.size(beyond)])
        st.book.settle()  # the spread it opened shows until the market quotes into it
        st.version += 1

    def news(self, symbol: str, move: float) -> None:
        """News: the symbol's fair price jumps by ``move`` (0.35: +35%); the market trades
        toward it through the book, a VI and the band (demos and tests)."""
        st = self._syms[symbol]
        lower, upper = st.limits
        st.fair = min(max(st.fair * (1 + move), lower * 0.97), upper * 1.03)
        if abs(move) > 0.2:  # news that big keeps pushing: the price is held at the limit
            st.drift = math.copysign(0.3, move) / SESSION_SECONDS

    def replay_trade(self, symbol: str, price: int, quantity: int, side: Side,
                     now: datetime) -> Quote:
        """Print a given trade (a replay or a test) and quote a fresh book around it:
        best bid at ``price``, best ask a tick above."""
        st = self._syms[symbol]
        trade = Trade(symbol, price, quantity, side, st.quote.volume + quantity, now)
        st.quote = replace(st.quote, price=price)
        st.fair = float(price)
        st.book.around(price)
        return self._print(st, (trade,), now)

    # -- the price path --------------------------------------------------------------------
    def _sizer(self, cls: PriceClass) -> Sizer:
        rng, level = self._rng, cls.level_krw

        def size(price: int) -> int:
            return max(1, int(level * rng.lognormvariate(-0.18, 0.6) / price))
        return size

    def _move(self, st: _Symbol, ts: float, u: float) -> None:
        """The fair price's step: the day's volatility (U-shaped, fat-tailed), its drift."""
        dt = 0.0 if st.ts is None else min(max(ts - st.ts, 0.0), _MAX_DT)
        st.ts, st.dt = ts, dt
        if dt <= 0.0:
            return
        rng = self._rng
        shock = rng.gauss(0.0, 1.0) * _SHOCK_NORM
        if rng.random() < _FAT_ODDS:
            shock *= _FAT_SCALE
        sd = st.cls.daily_vol * st.vol * math.sqrt(dt * u / SESSION_SECONDS)
        move = sd * shock + st.drift * dt * u
        if rng.random() < st.cls.jump_rate * dt * u / SESSION_SECONDS:  # news in the session
            move += rng.expovariate(1 / st.cls.jump_scale) * (1 if rng.random() < 0.5 else -1)
        fair = st.fair * math.exp(move)
        lower, upper = st.limits
        st.fair = min(max(fair, lower * 0.97), upper * 1.03)

    def _trade(self, st: _Symbol, now: datetime, u: float, ts: float) -> Quote | None:
        book, rng, fair = st.book, self._rng, st.fair
        lower, upper = st.limits
        if rng.random() < 0.05:  # the quoters' target spread reverts to the class's mix
            two, three = st.cls.spread_odds
            r = rng.random()
            st.spread = 3 if r < three else 2 if r < three + two else 1
        if st.lock:
            return self._locked(st, now, u)
        ask = book.asks[0][0] if book.asks else upper
        bid = book.bids[0][0] if book.bids else lower
        if fair >= ask and book.asks:
            side = Side.BUY
        elif fair <= bid and book.bids:
            side = Side.SELL
        elif rng.random() < self._activity * u:
            lean = (fair - (ask + bid) / 2) / max(ask - bid, 1)
            side = Side.BUY if rng.random() < 0.5 + 0.8 * lean else Side.SELL
        else:
            self._quiet(st)
            return None
        price = ask if side is Side.BUY else bid
        # a coarse clock (the day run's steps of seconds) trades a step's worth at once
        scale = u * max(1.0, (st.dt or 0.0) / 0.5)
        lot = max(1, int(st.cls.lot_krw * scale * rng.lognormvariate(-0.5, 1.0) / price))
        levels = book.asks if side is Side.BUY else book.bids
        if side is Side.BUY and fair >= ask:  # past the touch: the aggressor takes up to it
            lot += sum(q for p, q in levels if p <= fair)
        elif side is Side.SELL and fair <= bid:
            lot += sum(q for p, q in levels if p >= fair)
        fills, blocked = self._walk(st, side, lot)
        if blocked:
            self._interrupt(st, side, ts)
        if not fills:
            return None
        volume = st.quote.volume
        trades = []
        for p, q in fills:
            volume += q
            trades.append(Trade(st.quote.symbol, p, q, side, volume, now))
        if not book.asks and fills[-1][0] == upper:
            st.lock = 1
        elif not book.bids and fills[-1][0] == lower:
            st.lock = -1
        if st.lock:
            book.around(fills[-1][0], st.lock)
        else:
            book.close_spread(st.spread, side is Side.BUY)
            book.settle()
            book.churn()
        return self._print(st, tuple(trades), now)

    def _walk(self, st: _Symbol, side: Side, lot: int) -> tuple[list[tuple[int, int]], bool]:
        """Take ``lot`` from the opposite side, and past the ten shown levels while the
        fair price lies beyond them (the book is deeper than it shows); never past a VI
        bound (``blocked``: the order wanted more beyond it) or the band."""
        book, fair, last = st.book, st.fair, st.quote.price
        buy = side is Side.BUY
        levels = book.asks if buy else book.bids
        dyn = st.cls.dynamic_vi
        if buy:
            bound = min(last * (1 + dyn), st.static_ref * (1 + STATIC_VI))
        else:
            bound = max(last * (1 - dyn), st.static_ref * (1 - STATIC_VI))
        fills: list[tuple[int, int]] = []
        for _ in range(8):  # at most 80 levels in one step
            allowed = 0
            for p, q in levels:
                if (p > bound) if buy else (p < bound):
                    break
                allowed += q
            got = take(levels, min(lot, allowed))
            fills += got
            lot -= sum(q for _, q in got)
            if lot <= 0:
                return fills, False
            if levels:  # stopped by the bound with more to take
                return fills, True
            deepest = fills[-1][0] if fills else last
            nxt = tick_up(deepest) if buy else tick_down(deepest)
            if not (st.limits[0] <= nxt <= st.limits[1]) or (nxt > fair if buy else nxt < fair):
                break
            if (nxt > bound) if buy else (nxt < bound):
                return fills, True
            levels.append([nxt, book.size(nxt)])
            book.settle()
            lot += sum(q for p, q in levels if (p <= fair if buy else p >= fair))
        if not levels and fills:  # the side is gone: its next quotes are beyond the last print
            nxt = tick_up(fills[-1][0]) if buy else tick_down(fills[-1][0])
            if st.limits[0] <= nxt <= st.limits[1]:
                levels.append([nxt, book.size(nxt)])
        return fills, False

    def _interrupt(self, st: _Symbol, side: Side, ts: float) -> None:
        """A VI: the symbol goes to a single-price auction of 2 minutes (and up to 30 s)."""
        last, dyn = st.quote.price, st.cls.dynamic_vi
        static = st.static_ref * (1 + STATIC_VI) if side is Side.BUY else \
            st.static_ref * (1 - STATIC_VI)
        dynamic = last * (1 + dyn) if side is Side.BUY else last * (1 - dyn)
        is_static = static <= dynamic if side is Side.BUY else static >= dynamic
        st.vi = "static" if is_static else "dynamic"
        st.vi_ref = st.static_ref if is_static else last
        length = self._vi_seconds
        st.vi_until = ts + length + self._rng.random() * VI_RANDOM_END * length / VI_SECONDS

    def _quiet(self, st: _Symbol) -> None:
        """No trade: the quoters still move (a wide spread narrows, a narrow one may
        widen when the target is wider), sizes change."""
        book = st.book
        spread = book.spread_ticks()
        if spread > st.spread:
            book.close_spread(st.spread, self._rng.random() < 0.5)
        elif spread < st.spread and self._rng.random() < 0.2:
            book.cancel_best(self._rng.random() < 0.5)
        else:
            return
        book.settle()
        st.version += 1

    def _locked(self, st: _Symbol, now: datetime, u: float) -> Quote | None:
        """Held at a limit: only the limit side shows; it trades only at the limit, and
        lets go when the fair price comes back inside the band."""
        lower, upper = st.limits
        book, rng = st.book, self._rng
        limit = upper if st.lock > 0 else lower
        if (st.lock > 0 and st.fair < upper * 0.99) or (st.lock < 0 and st.fair > lower * 1.01):
            st.lock = 0
            book.asks, book.bids = ([[upper, book.size(upper)]], book.bids[1:]) if limit == upper \
                else (book.asks[1:], [[lower, book.size(lower)]])
            book.settle()
            st.version += 1
            return None
        if rng.random() >= self._activity * u * 0.3:
            return None
        side = Side.SELL if st.lock > 0 else Side.BUY
        levels = book.bids if st.lock > 0 else book.asks
        lot = max(1, int(st.cls.lot_krw * rng.lognormvariate(-0.5, 1.0) / limit))
        lot = min(lot, levels[0][1] - 1) if levels[0][1] > 1 else 0
        if lot <= 0:
            return None
        levels[0][1] -= lot
        trade = Trade(st.quote.symbol, limit, lot, side, st.quote.volume + lot, now)
        return self._print(st, (trade,), now)

    # -- auctions and days -----------------------------------------------------------------
    def _auctions(self, now: datetime) -> list[Quote]:
        out = []
        for st in self._syms.values():
            before = (st.vi, st.lock)
            out.append(self._auction(st, now))
            if (st.vi, st.lock) != before:
                self._changed.append(st.quote.symbol)
        return out

    def _auction(self, st: _Symbol, now: datetime) -> Quote:
        """A single-price auction: one print at the fair price (on the grid, in the band),
        then a fresh book around it."""
        lower, upper = st.limits
        price = min(max(floor_to_tick(max(int(st.fair), 1)), lower), upper)
        qty = 5 * max(1, int(st.cls.lot_krw * self._rng.lognormvariate(0.0, 1.0) / price))
        side = Side.BUY if price >= st.quote.price else Side.SELL
        trade = Trade(st.quote.symbol, price, qty, side, st.quote.volume + qty, now)
        st.lock = 1 if price == upper and st.fair >= upper else \
            -1 if price == lower and st.fair <= lower else 0
        st.book.around(price, st.lock)
        st.static_ref = price  # 정적 VI now measures from this auction
        st.vi = None
        return self._print(st, (trade,), now)

    def _print(self, st: _Symbol, trades: tuple[Trade, ...], now: datetime) -> Quote:
        q = st.quote
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
        self._new_day(st, overnight=True)

    def _new_day(self, st: _Symbol, overnight: bool) -> None:
        """The day's band, regime and news; the book around the last price. Overnight
        news moves the fair price, so the opening auction gaps."""
        rng, cls = self._rng, st.cls
        st.limits = st.quote.limits
        st.book.lower, st.book.upper = st.limits
        st.vol = rng.lognormvariate(-cls.regime_vol ** 2 / 2, cls.regime_vol)
        st.drift = 0.0
        if rng.random() < cls.news_odds:
            lo, hi = cls.news_move
            move = rng.uniform(lo, hi) * (1 if rng.random() < 0.5 else -1)
            st.drift = move / SESSION_SECONDS
        st.fair = float(st.quote.price)
        if overnight:
            st.fair *= math.exp(rng.gauss(0.0, 0.3 * cls.daily_vol * st.vol))
        st.lock = 0
        st.vi = None
        st.static_ref = st.quote.prev_close
        st.spread = 1
        st.ts = None
        st.book.around(st.quote.price)
        st.version += 1
