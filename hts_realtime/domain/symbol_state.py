"""One symbol's trading state, whichever market it comes from (the simulator or KIS).

``phase`` is ``continuous`` (trading from the book), ``auction`` (a
single-price auction of the whole market: 08:30-09:00, 15:20-15:30),
``vi`` (this symbol's volatility interruption: a 2-minute single-price
auction), ``halted`` (매매거래정지; KIS only) or ``closed`` (the session is
closed). ``limit`` is ``upper`` at 상한가, ``lower`` at 하한가, else None.
``vi`` says which interruption (``static``/``dynamic``; None when the source
does not say), ``until`` when its auction is due to end at the latest, and
``expected_price``/``expected_quantity`` the auction's 예상체결가/수량 when
known. Clients get it as ``symbol_status`` when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

PHASES = ("continuous", "auction", "vi", "halted", "closed")


@dataclass(frozen=True, slots=True)
class SymbolState:
    symbol: str
    phase: str = "continuous"
    limit: str | None = None
    vi: str | None = None
    until: datetime | None = None
    expected_price: int | None = None
    expected_quantity: int | None = None
    reference_price: int | None = None  # the VI's reference (static or dynamic)

    @property
    def notable(self) -> bool:
        """Anything a trader must know beyond the market's session."""
        return self.phase in ("vi", "halted") or self.limit is not None

    def key(self) -> tuple[object, ...]:
        """What a change is judged by (an expected price moving is not a change)."""
        return (self.phase, self.limit, self.vi, self.until)

    def to_wire(self, now: datetime) -> dict[str, Any]:
        return {"type": "symbol_status", "symbol": self.symbol,
                "data": {"phase": self.phase, "limit": self.limit, "vi": self.vi,
                         "until": self.until.isoformat() if self.until else None,
                         "reference_price": self.reference_price,
                         "expected_price": self.expected_price,
                         "expected_quantity": self.expected_quantity,
                         "timestamp": now.isoformat()}}
