"""Market sessions: when the market trades, in Korea time.

``HTS_MARKET_HOURS`` is one of:

* ``always`` (the default, for the demo and tests): continuous trading at
  any hour, every day;
* ``krx``: KRX's regular sessions on weekdays — the pre-open single-price
  auction 08:30-09:00, continuous trading 09:00-15:20, the closing
  single-price auction 15:20-15:30, closed otherwise and all day on
  weekends and KRX holidays (``domain.krx_calendar``);
* ``HH:MM-HH:MM``: continuous trading inside that window on weekdays.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from enum import StrEnum

from hts_realtime.domain.krx_calendar import is_trading_day

KST = timezone(timedelta(hours=9), "KST")


class MarketStatus(StrEnum):
    PRE_OPEN = "pre_open"
    OPEN = "open"
    CLOSING_AUCTION = "closing_auction"
    CLOSED = "closed"


KRX_PRE_OPEN = time(8, 30)
KRX_OPEN = time(9, 0)
KRX_CLOSING_AUCTION = time(15, 20)
KRX_CLOSE = time(15, 30)


class MarketHours:
    _RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

    def __init__(self, spec: str, offset_seconds: float = 0.0) -> None:
        """``offset_seconds`` shifts the market's clock (tests and demos): the session
        and the holiday are judged at ``now + offset``."""
        self.spec = spec
        self.offset = timedelta(seconds=offset_seconds)
        self._window: tuple[time, time] | None = None
        if spec in ("always", "krx"):
            return
        m = self._RE.match(spec)
        if not m:
            raise ValueError(
                f"market hours must be 'always', 'krx' or 'HH:MM-HH:MM', not {spec!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        self._window = (time(h1, m1), time(h2, m2))

    @property
    def mode(self) -> str:
        """``always``, ``krx`` or ``window`` (the wire's ``GET /api/market`` mode)."""
        return self.spec if self.spec in ("always", "krx") else "window"

    def status(self, now: datetime) -> MarketStatus:
        if self.spec == "always":
            return MarketStatus.OPEN
        local = (now + self.offset).astimezone(KST)
        if local.weekday() >= 5:
            return MarketStatus.CLOSED
        if self.spec == "krx" and not is_trading_day(local.date()):
            return MarketStatus.CLOSED
        t = local.time()
        if self._window is not None:
            start, end = self._window
            return MarketStatus.OPEN if start <= t < end else MarketStatus.CLOSED
        if KRX_PRE_OPEN <= t < KRX_OPEN:
            return MarketStatus.PRE_OPEN
        if KRX_OPEN <= t < KRX_CLOSING_AUCTION:
            return MarketStatus.OPEN
        if KRX_CLOSING_AUCTION <= t < KRX_CLOSE:
            return MarketStatus.CLOSING_AUCTION
        return MarketStatus.CLOSED

    def is_open(self, now: datetime) -> bool:
        """Continuous trading: the only status in which orders take from the book."""
        return self.status(now) is MarketStatus.OPEN
