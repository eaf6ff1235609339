"""A market whose prints, books and session come from outside: a broker's feed
(``adapters/kis``) or a recording (``engine/replay``).

Pure and synchronous, like the simulator, and behind the same
``MarketSource`` port: an adapter *applies* what arrived (``print_trade``,
``set_book``, ``set_quote``, ``set_status``) whenever it arrives, and the
engine's clock *steps* it — each step hands over the prints buffered since
the previous one, as quotes, exactly as a simulator step would. So the
broker, the strategies, the candles and the streamers cannot tell the
difference.

What a real market cannot do for paper orders:

* a paper taker cannot print on the exchange's tape or move its price: the
  size it took is hidden from this book until the exchange's next book
  update for that symbol (``take_liquidity``), so two paper orders never take
  the same displayed shares;
* resting paper orders fill from the real prints that reach their price
  (``engine/broker`` and ``domain/matching``, as for the simulator).

Memory is bounded: prints are buffered per symbol up to ``max_pending``
between two steps (older ones are dropped and counted in ``dropped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import MarketHours, MarketStatus
from hts_realtime.domain.orderbook import DEPTH, BookSnapshot, Level, Trade
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbol_state import SymbolState

MAX_PENDING = 5_000


@dataclass(eq=False)
class _Symbol:
    quote: Quote | None = None
    asks: list[tuple[int, int]] = field(default_factory=list)  # best (lowest) first
    bids: list[tuple[int, int]] = field(default_factory=list)  # best (highest) first
    book_at: datetime | None = None
    hidden: dict[tuple[Side, int], int] = field(default_factory=dict)  # (book side, price)
    pending: list[Trade] = field(default_factory=list)
    version: int = 0


class ExternalMarket:
    def __init__(self, symbols: Sequence[str], hours: MarketHours,
                 max_pending: int = MAX_PENDING) -> None:
        self.hours = hours  # the session by the clock, until the source says otherwise
        self.max_pending = max_pending
        self._syms: dict[str, _Symbol] = {s: _Symbol() for s in symbols}
        self._order: list[str] = []  # symbols with pending prints, in arrival order
        self._printed: set[str] = set()  # symbols whose quote carries the last step's prints
        self._status: MarketStatus | None = None
        self._states: dict[str, SymbolState] = {}  # as the source last said it
        self._changed: list[str] = []
        self.dropped = 0  # prints dropped: more than max_pending between two steps
        self.prints = 0

    # -- what arrives from outside -------------------------------------------------------------
    def known(self, symbol: str) -> bool:
        return symbol in self._syms

    def print_trade(self, symbol: str, trade: Trade, *, open: int, high: int, low: int,
                    prev_close: int) -> None:
        """A print on the tape, with the day's figures after it (``trade.volume`` is the
        day's cumulative volume)."""
        st = self._syms[symbol]
        st.pending.append(trade)
        if len(st.pending) > self.max_pending:
            del st.pending[0]
            self.dropped += 1
        if len(st.pending) == 1:
            self._order.append(symbol)
        old = st.quote
        st.quote = Quote(symbol, trade.price, open or trade.price, high or trade.price,
                         low or trade.price, prev_close, trade.volume,
                         old.last_volume if old is not None else 0, trade.timestamp,
                         old.trades if old is not None else ())
        st.version += 1
        self.prints += 1

    def set_quote(self, symbol: str, price: int, *, open: int, high: int, low: int,
                  prev_close: int, volume: int, at: datetime) -> None:
        """The symbol's figures without a print (a REST snapshot, a recording's start)."""
        st = self._syms[symbol]
        st.quote = Quote(symbol, price, open or price, high or price, low or price, prev_close,
                         volume, 0, at)
        st.version += 1

    def set_book(self, symbol: str, asks: Sequence[tuple[int, int]],
                 bids: Sequence[tuple[int, int]], at: datetime) -> None:
        """The exchange's book: levels with a size, best first; paper takes are forgotten
        (the exchange's book now reflects what really rests)."""
        st = self._syms[symbol]
        st.asks = sorted((p, q) for p, q in asks if p > 0 and q > 0)[:DEPTH]
        st.bids = sorted(((p, q) for p, q in bids if p > 0 and q > 0), reverse=True)[:DEPTH]
        st.book_at = at
        st.hidden.clear()
        st.version += 1

    def set_symbol_state(self, state: SymbolState) -> None:
        """A symbol's trading state as the source says it (a VI, a halt, a limit)."""
        old = self._states.get(state.symbol)
        self._states[state.symbol] = state
        if (old.key() if old else SymbolState(state.symbol).key()) != state.key():
            self._changed.append(state.symbol)

    def symbol_state(self, symbol: str) -> SymbolState | None:
        if symbol not in self._syms:
            return None
        return self._states.get(symbol) or SymbolState(symbol)

    def changed_states(self) -> list[SymbolState]:
        changed, self._changed = self._changed, []
        return [self._states[s] for s in dict.fromkeys(changed)]

    def set_status(self, status: MarketStatus | None) -> None:
        """The session as the source knows it (None: go by the clock again)."""
        self._status = status

    # -- the port ------------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote | None:
        st = self._syms.get(symbol)
        return st.quote if st else None

    def book(self, symbol: str) -> BookSnapshot | None:
        st = self._syms.get(symbol)
        if st is None or st.book_at is None or st.quote is None:
            return None
        return BookSnapshot(symbol, self._levels(st, Side.SELL, st.asks),
                            self._levels(st, Side.BUY, st.bids), st.quote.price, st.book_at)

    def book_version(self, symbol: str) -> int:
        st = self._syms.get(symbol)
        return st.version if st else -1

    def status(self, now: datetime) -> MarketStatus:
        return self._status if self._status is not None else self.hours.status(now)

    def step(self, now: datetime) -> list[Quote]:
        """The prints since the previous step, one quote per symbol that printed (in the
        order their first print arrived); other symbols' quotes drop their last prints."""
        quotes: list[Quote] = []
        for symbol in self._order:
            st = self._syms[symbol]
            if not st.pending or st.quote is None:
                continue
            trades = tuple(st.pending)
            st.pending = []
            st.quote = replace(st.quote, last_volume=sum(t.quantity for t in trades),
                               trades=trades)
            quotes.append(st.quote)
        for symbol in self._printed - set(self._order):  # printed last step, not this one
            st = self._syms[symbol]
            if st.quote is not None:
                st.quote = replace(st.quote, last_volume=0, trades=())
        self._printed = set(self._order)
        self._order = []
        return quotes

    def take_liquidity(self, symbol: str, side: Side, fills: list[tuple[int, int]]) -> None:
        """A paper order of ``side`` took ``fills`` from the book (after its commit): hide
        that size until the exchange's next book update."""
        st = self._syms.get(symbol)
        if st is None:
            return
        book_side = Side.SELL if side is Side.BUY else Side.BUY  # a buy takes asks
        for price, qty in fills:
            st.hidden[(book_side, price)] = st.hidden.get((book_side, price), 0) + qty
        st.version += 1

    def _levels(self, st: _Symbol, side: Side,
                levels: list[tuple[int, int]]) -> tuple[Level, ...]:
        out = []
        for price, qty in levels:
            left = qty - st.hidden.get((side, price), 0)
            if left > 0:
                out.append(Level(price, left))
        return tuple(out)
