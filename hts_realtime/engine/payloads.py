"""Server-to-client payload builders for market data (one place for their shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import MarketStatus
from hts_realtime.domain.orderbook import BookSnapshot, Trade
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


def orderbook_data(book: BookSnapshot) -> dict[str, Any]:
    return {
        "asks": [{"price": lv.price, "quantity": lv.quantity} for lv in book.asks],
        "bids": [{"price": lv.price, "quantity": lv.quantity} for lv in book.bids],
        "total_ask_quantity": book.total_ask_quantity,
        "total_bid_quantity": book.total_bid_quantity,
        "last_price": book.last_price,
        "timestamp": book.timestamp.isoformat(),
    }


def orderbook_update(book: BookSnapshot) -> dict[str, Any]:
    return {"type": "orderbook_update", "symbol": book.symbol, "data": orderbook_data(book)}


def orderbook_reply(book: BookSnapshot) -> dict[str, Any]:
    return {"type": "orderbook", "symbol": book.symbol, "data": orderbook_data(book)}


def trade_data(t: Trade) -> dict[str, Any]:
    return {"price": t.price, "quantity": t.quantity, "side": t.side.value, "volume": t.volume,
            "timestamp": t.timestamp.isoformat()}


def trade_update(symbol: str, trades: list[Trade]) -> dict[str, Any]:
    return {"type": "trade_update", "symbol": symbol,
            "data": {"trades": [trade_data(t) for t in trades]}}


def market_status(status: MarketStatus, now: datetime) -> dict[str, Any]:
    return {"type": "market_status", "status": status.value, "timestamp": now.isoformat()}


def feed_status(symbol: str, feed: str, snapshot_interval: float | None,
                now: datetime) -> dict[str, Any]:
    """How the symbol's market data reaches us now: ``live`` (streamed), ``limited`` (REST
    snapshots every ``snapshot_interval_seconds``: the broker's registrations are used up),
    ``stale`` (the feed is down: what clients hold is the last known state)."""
    return {"type": "feed_status", "symbol": symbol,
            "data": {"feed": feed,
                     "snapshot_interval_seconds": snapshot_interval if feed == "limited"
                     else None,
                     "timestamp": now.isoformat()}}
