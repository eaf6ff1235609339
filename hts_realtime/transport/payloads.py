"""Server-to-client payload builders for market data (one place for their shape)."""

from __future__ import annotations

from typing import Any

from hts_realtime.domain.market import Quote
from hts_realtime.domain.symbols import Symbol


def price_update(q: Quote) -> dict[str, Any]:
    return {
        "type": "price_update",
        "symbol": q.symbol,
        "data": {
            "price": q.price,
            "change": q.change,
            "change_percent": q.change_percent,
            "volume": q.volume,
            "timestamp": q.timestamp.isoformat(),
        },
    }


def price_snapshot(q: Quote) -> dict[str, Any]:
    lower, upper = q.limits
    return {
        "price": q.price,
        "open": q.open,
        "high": q.high,
        "low": q.low,
        "prev_close": q.prev_close,
        "change": q.change,
        "change_percent": q.change_percent,
        "volume": q.volume,
        "upper_limit": upper,
        "lower_limit": lower,
        "timestamp": q.timestamp.isoformat(),
    }


def price_reply(sym: Symbol, q: Quote) -> dict[str, Any]:
    return {"type": "price", "symbol": q.symbol, "name": sym.name, "data": price_snapshot(q)}
