"""What KIS sends, applied to the market the engine trades against.

Frames (H0STCNT0 체결, H0STASP0 호가, H0STMKO0 장운영) and REST snapshots become
prints, books, quotes and the session of an ``ExternalMarket``; each
symbol's trading state (auction, VI, halt, 상한/하한, 예상체결가) is kept beside
it in ``KisSymbol`` for the status and the clients.

A record that cannot be used (a number that is not one, an unknown symbol)
is a ``FrameError``; the session counts and logs it once, and the rest of
the frame still applies.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from datetime import date, datetime, time

from hts_realtime.adapters.kis import records
from hts_realtime.adapters.kis.codec import TR_BOOK, TR_MARKET_OP, TR_TRADE, DataFrame, FrameError
from hts_realtime.adapters.kis.records import KisBook, KisMarketOp, KisTrade
from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.market_hours import KST, MarketStatus
from hts_realtime.domain.orderbook import Trade
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbol_state import SymbolState

# MKOP_CLS_CODE (장운영구분코드) values that move the whole market's session
SESSION_CODES = {
    "110": MarketStatus.PRE_OPEN,  # 장전 동시호가 개시
    "112": MarketStatus.OPEN,  # 장개시
    "121": MarketStatus.CLOSING_AUCTION,  # 장후 동시호가 개시
    "129": MarketStatus.CLOSED,  # 장마감
}


@dataclass
class KisSymbol:
    """One symbol's trading state as the feed last said it."""

    hour_class: str = "0"  # 0 장중; A/B/C/D: an expected-price (auction) state
    vi: bool = False
    halted: bool = False
    sign: str = "3"  # the last print's 전일 대비 부호 (1 상한, 4 하한)
    expected_price: int = 0
    expected_quantity: int = 0

    @property
    def phase(self) -> str:
        if self.halted:
            return "halted"
        if self.vi:
            return "vi"
        return "auction" if self.hour_class in records.AUCTION_HOURS else "continuous"

    def to_state(self, symbol: str) -> SymbolState:
        """The same state as the simulator's (``symbol_status`` from either source); KIS
        does not say which VI (static/dynamic) nor when it ends."""
        wire = self.to_wire()
        return SymbolState(symbol, self.phase, {"1": "upper", "4": "lower"}.get(self.sign),
                           expected_price=wire["expected_price"],  # type: ignore[arg-type]
                           expected_quantity=wire["expected_quantity"])  # type: ignore[arg-type]

    def to_wire(self) -> dict[str, object]:
        auction = self.phase in ("auction", "vi")
        return {"phase": self.phase,
                "limit": {"1": "upper", "4": "lower"}.get(self.sign),
                "expected_price": self.expected_price if auction and self.expected_price
                else None,
                "expected_quantity": self.expected_quantity if auction and self.expected_price
                else None}


def kst(date: str, hhmmss: str, now: datetime) -> datetime:
    """A KIS date and time (KST) as a datetime; what is missing or bad comes from ``now``."""
    local = now.astimezone(KST)
    day = _day(date) or local.date()
    at = local.timetz().replace(microsecond=0)
    if len(hhmmss) == 6 and hhmmss.isdigit():
        h, m, s = int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:])
        if h < 24 and m < 60 and s < 60:
            at = time(h, m, s, tzinfo=KST)
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=KST)


@functools.lru_cache(maxsize=8)
def _day(text: str) -> date | None:
    """A KIS date (YYYYMMDD); cached: every record of a day carries the same one."""
    if len(text) == 8 and text.isdigit():
        with contextlib.suppress(ValueError):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return None


class KisTape:
    """Applies KIS data to the market. Synchronous: called from the session's reader."""

    def __init__(self, market: ExternalMarket) -> None:
        self.market = market
        self.symbols: dict[str, KisSymbol] = {}
        self.session_code: str | None = None
        self.session_day: date | None = None  # the KST day the code was heard

    def expire_session(self, now: datetime) -> None:
        """A code heard on an earlier day says nothing about today: back to the clock
        (a missed 장마감 must not keep yesterday's session open)."""
        if self.session_day is not None and self.session_day != now.astimezone(KST).date():
            self.session_code = self.session_day = None
            self.market.set_status(None)

    def state(self, symbol: str) -> KisSymbol:
        st = self.symbols.get(symbol)
        if st is None:
            st = self.symbols[symbol] = KisSymbol()
        return st

    def apply(self, frame: DataFrame, now: datetime) -> set[str]:
        self.expire_session(now)
        """Every record of one frame; returns the symbols it touched. A bad record raises
        ``FrameError`` after the good ones before it applied."""
        touched: set[str] = set()
        try:
            for record in frame.records:
                if frame.tr_id == TR_TRADE:
                    touched.add(self._trade(records.trade(frame, record), now))
                elif frame.tr_id == TR_BOOK:
                    touched.add(self._book(records.book(frame, record), now))
                elif frame.tr_id == TR_MARKET_OP:
                    touched.add(self._market_op(records.market_op(frame, record), now))
        finally:  # the good records before a bad one applied: so did their state
            self._announce(touched)
        return touched

    def _announce(self, symbols: set[str]) -> None:
        """Each touched symbol's state onto the market port (``symbol_status`` on change)."""
        for symbol in symbols:
            st = self.symbols.get(symbol)
            if st is not None:
                self.market.set_symbol_state(st.to_state(symbol))

    def _known(self, symbol: str) -> str:
        if not self.market.known(symbol):
            raise FrameError("unknown_symbol", symbol[:12])
        return symbol

    def _trade(self, t: KisTrade, now: datetime) -> str:
        symbol = self._known(t.symbol)
        st = self.state(symbol)
        quote = self.market.quote(symbol)
        if t.side == "1":
            side = Side.BUY
        elif t.side == "5":
            side = Side.SELL
        else:  # 3 장전: an auction print has no aggressor; say which way it moved the price
            side = Side.BUY if quote is None or t.price >= quote.price else Side.SELL
        trade = Trade(symbol, t.price, t.quantity, side, t.volume, kst(t.date, t.time, now))
        self.market.print_trade(symbol, trade, open=t.open, high=t.high, low=t.low,
                                prev_close=t.prev_close)
        st.sign, st.halted, st.hour_class = t.sign, t.halted, t.hour_class
        return symbol

    def _book(self, b: KisBook, now: datetime) -> str:
        symbol = self._known(b.symbol)
        st = self.state(symbol)
        self.market.set_book(symbol, b.asks, b.bids, kst("", b.time, now))
        st.hour_class = b.hour_class
        st.expected_price, st.expected_quantity = b.expected_price, b.expected_quantity
        return symbol

    def _market_op(self, op: KisMarketOp, now: datetime) -> str:
        symbol = self._known(op.symbol)
        st = self.state(symbol)
        st.vi, st.halted = op.vi, op.halted
        status = SESSION_CODES.get(op.session_code)
        if status is not None:
            self.session_code = op.session_code
            self.session_day = now.astimezone(KST).date()
            self.market.set_status(status)
        return symbol

    def snapshot(self, symbol: str, price: dict[str, str],
                 asking: tuple[dict[str, str], dict[str, str]] | None, now: datetime) -> None:
        """A REST snapshot (inquire-price, and inquire-asking-price-exp-ccn if asked for)."""
        def num(d: dict[str, str], key: str) -> int:
            try:
                return int(float(d.get(key, "0") or "0"))
            except ValueError:
                raise FrameError("bad_value", f"{key}={d.get(key, '')[:16]!r}") from None

        last = num(price, "stck_prpr")
        if last <= 0:
            raise FrameError("bad_value", f"stck_prpr={last}")
        base = num(price, "stck_sdpr") or last - num(price, "prdy_vrss")
        self.market.set_quote(symbol, last, open=num(price, "stck_oprc"),
                              high=num(price, "stck_hgpr"), low=num(price, "stck_lwpr"),
                              prev_close=base, volume=num(price, "acml_vol"), at=now)
        st = self.state(symbol)
        st.sign = price.get("prdy_vrss_sign", st.sign) or st.sign
        st.halted = price.get("temp_stop_yn") == "Y"
        st.vi = price.get("vi_cls_code", "N") not in ("N", "", "0")
        if asking is not None:
            out1, out2 = asking
            asks = [(num(out1, f"askp{i}"), num(out1, f"askp_rsqn{i}")) for i in range(1, 11)]
            bids = [(num(out1, f"bidp{i}"), num(out1, f"bidp_rsqn{i}")) for i in range(1, 11)]
            self.market.set_book(symbol, asks, bids, now)
            st.expected_price = num(out2, "antc_cnpr")
            st.expected_quantity = num(out2, "antc_cnqn")
        self._announce({symbol})
