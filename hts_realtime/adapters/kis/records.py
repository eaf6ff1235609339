"""Typed views of the KIS records we use (pure: strings in, integers out).

Field meanings are the KIS API portal's (README, "Real quotes: the KIS feed"):

* 전일 대비 부호 (``PRDY_VRSS_SIGN``, ``ANTC_CNTG_VRSS_SIGN``): ``1`` 상한 (at
  the upper limit), ``2`` 상승, ``3`` 보합, ``4`` 하한 (at the lower limit),
  ``5`` 하락. The magnitude fields are read as absolute values and signed by
  this code, so the direction never depends on how a field prints its sign.
* 체결구분 (``CCLD_DVSN``): ``1`` 매수(+) — the buyer was the aggressor,
  ``5`` 매도(-), ``3`` 장전 (an auction print: no aggressor).
* 시간 구분 코드 (``HOUR_CLS_CODE``): ``0`` 장중, ``A`` 장후예상, ``B``
  장전예상, ``C`` 9시 이후의 예상가·VI 발동, ``D`` 시간외 단일가 예상. In
  every non-``0`` state the book carries 예상체결가 (``ANTC_CNPR``).
* 장운영정보 (``H0STMKO0``): ``VI_CLS_CODE`` ``Y``/``N``, ``TRHT_YN``
  거래정지, ``MKOP_CLS_CODE`` (``110`` 장전 동시호가 개시, ``112`` 장개시,
  ``121`` 장후 동시호가 개시, ``129`` 장마감, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from hts_realtime.adapters.kis.codec import (
    TR_BOOK,
    TR_MARKET_OP,
    TR_TRADE,
    DataFrame,
    FrameError,
)

UP_SIGNS = {"1": 1, "2": 1, "3": 0, "4": -1, "5": -1}
SIGN_NAMES = {"1": "upper_limit", "2": "up", "3": "flat", "4": "lower_limit", "5": "down"}
AUCTION_HOURS = frozenset("ABCD")  # HOUR_CLS_CODE values that mean "expected price"


@dataclass(frozen=True, slots=True)
class KisTrade:
    """One H0STCNT0 record: a print, with the day's figures after it."""

    symbol: str
    date: str  # BSOP_DATE, YYYYMMDD (KST)
    time: str  # STCK_CNTG_HOUR, HHMMSS (KST)
    price: int
    sign: str  # PRDY_VRSS_SIGN
    change: int  # signed by ``sign``
    open: int
    high: int
    low: int
    quantity: int  # CNTG_VOL
    volume: int  # ACML_VOL, the day's cumulative
    side: str  # CCLD_DVSN: "1" buy, "5" sell, "3" pre-market auction
    hour_class: str  # HOUR_CLS_CODE
    halted: bool  # TRHT_YN
    vi_reference: int  # VI_STND_PRC

    @property
    def prev_close(self) -> int:
        return self.price - self.change


@dataclass(frozen=True, slots=True)
class KisBook:
    """One H0STASP0 record: ten levels a side, and 예상체결 during auctions."""

    symbol: str
    time: str  # BSOP_HOUR, HHMMSS (KST)
    hour_class: str
    asks: tuple[tuple[int, int], ...]  # (price, quantity), best (lowest) first, empty levels out
    bids: tuple[tuple[int, int], ...]
    total_ask: int
    total_bid: int
    expected_price: int  # ANTC_CNPR: 0 when there is none
    expected_quantity: int  # ANTC_CNQN
    expected_sign: str
    volume: int  # ACML_VOL

    @property
    def auction(self) -> bool:
        return self.hour_class in AUCTION_HOURS


@dataclass(frozen=True, slots=True)
class KisMarketOp:
    """One H0STMKO0 record: the symbol's trading state changed (VI, halt, session)."""

    symbol: str
    halted: bool
    halt_reason: str
    session_code: str  # MKOP_CLS_CODE
    vi: bool  # VI_CLS_CODE == "Y"


def _int(frame: DataFrame, record: tuple[str, ...], name: str) -> int:
    text = frame.field(record, name).strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        try:  # volumes and prices are integers, but be lenient with "1234.0"
            value = float(text)
        except ValueError:
            raise FrameError("bad_value", f"{name}={text[:16]!r}") from None
        if value != int(value):
            raise FrameError("bad_value", f"{name}={text[:16]!r}") from None
        return int(value)


def _symbol(frame: DataFrame, record: tuple[str, ...]) -> str:
    symbol = frame.field(record, "MKSC_SHRN_ISCD").strip()
    if not symbol or len(symbol) > 12:
        raise FrameError("bad_value", f"symbol={symbol[:16]!r}")
    return symbol


def trade(frame: DataFrame, record: tuple[str, ...]) -> KisTrade:
    if frame.tr_id != TR_TRADE:
        raise ValueError(frame.tr_id)
    sign = frame.field(record, "PRDY_VRSS_SIGN").strip()
    if sign not in UP_SIGNS:
        raise FrameError("bad_value", f"PRDY_VRSS_SIGN={sign[:4]!r}")
    price = _int(frame, record, "STCK_PRPR")
    if price <= 0:
        raise FrameError("bad_value", f"STCK_PRPR={price}")
    return KisTrade(
        symbol=_symbol(frame, record),
        date=frame.field(record, "BSOP_DATE").strip(),
        time=frame.field(record, "STCK_CNTG_HOUR").strip(),
        price=price,
        sign=sign,
        change=UP_SIGNS[sign] * abs(_int(frame, record, "PRDY_VRSS")),
        open=_int(frame, record, "STCK_OPRC"),
        high=_int(frame, record, "STCK_HGPR"),
        low=_int(frame, record, "STCK_LWPR"),
        quantity=_int(frame, record, "CNTG_VOL"),
        volume=_int(frame, record, "ACML_VOL"),
        side=frame.field(record, "CCLD_DVSN").strip(),
        hour_class=frame.field(record, "HOUR_CLS_CODE").strip() or "0",
        halted=frame.field(record, "TRHT_YN").strip() == "Y",
        vi_reference=_int(frame, record, "VI_STND_PRC"),
    )


def book(frame: DataFrame, record: tuple[str, ...]) -> KisBook:
    if frame.tr_id != TR_BOOK:
        raise ValueError(frame.tr_id)
    asks, bids = [], []
    for i in range(1, 11):
        price, qty = _int(frame, record, f"ASKP{i}"), _int(frame, record, f"ASKP_RSQN{i}")
        if price > 0 and qty > 0:
            asks.append((price, qty))
        price, qty = _int(frame, record, f"BIDP{i}"), _int(frame, record, f"BIDP_RSQN{i}")
        if price > 0 and qty > 0:
            bids.append((price, qty))
    return KisBook(
        symbol=_symbol(frame, record),
        time=frame.field(record, "BSOP_HOUR").strip(),
        hour_class=frame.field(record, "HOUR_CLS_CODE").strip() or "0",
        asks=tuple(sorted(asks)),
        bids=tuple(sorted(bids, reverse=True)),
        total_ask=_int(frame, record, "TOTAL_ASKP_RSQN"),
        total_bid=_int(frame, record, "TOTAL_BIDP_RSQN"),
        expected_price=_int(frame, record, "ANTC_CNPR"),
        expected_quantity=_int(frame, record, "ANTC_CNQN"),
        expected_sign=frame.field(record, "ANTC_CNTG_VRSS_SIGN").strip(),
        volume=_int(frame, record, "ACML_VOL"),
    )


def market_op(frame: DataFrame, record: tuple[str, ...]) -> KisMarketOp:
    if frame.tr_id != TR_MARKET_OP:
        raise ValueError(frame.tr_id)
    return KisMarketOp(
        symbol=_symbol(frame, record),
        halted=frame.field(record, "TRHT_YN").strip() == "Y",
        halt_reason=frame.field(record, "TR_SUSP_REAS_CNTT").strip()[:100],
        session_code=frame.field(record, "MKOP_CLS_CODE").strip(),
        vi=frame.field(record, "VI_CLS_CODE").strip() == "Y",
    )
