"""JSON Schemas of what the server sends: HTTP answers and event payloads.

Objects list every field the server writes as ``required`` and stay open to
additions (``additionalProperties`` is not closed), so a client generated
from them keeps working when a field is added; the spec test checks real
answers and events against these.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

INT = {"type": "integer"}
KRW = {"type": "integer", "description": "integer KRW"}
STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
PCT = {"type": "number", "description": "수익률: unrealized P&L over cost, in %, "
                                       "two decimals"}
SEQ = {"type": "integer", "minimum": 1, "description": "the private stream's per-user seq"}


def obj(props: dict[str, Any], *, optional: tuple[str, ...] = (), desc: str = "") -> JSON:
    out: JSON = {"type": "object", "properties": props,
                 "required": [k for k in props if k not in optional]}
    if desc:
        out["description"] = desc
    return out


def nullable(schema: JSON) -> JSON:
    return {**schema, "type": [schema["type"], "null"]}


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def event(name: str, props: dict[str, Any], *, optional: tuple[str, ...] = (),
          desc: str = "") -> JSON:
    return obj({"type": {"const": name}, **props}, optional=optional, desc=desc)


SHAPES: dict[str, JSON] = {
    "Error": obj({"error": obj({"code": STR, "message": STR})},
                 desc="every HTTP error body; `code` is from the README's error-code table"),
    "Login": obj({"access_token": STR, "token_type": {"const": "bearer"}, "expires_in": INT,
                  "refresh_token": STR, "refresh_expires_in": INT,
                  "user_id": STR, "username": STR},
                 desc="`refresh_token` is spent by POST /api/auth/refresh (once: it rotates)"),
    "Symbol": obj({"symbol": STR, "name": STR, "market": STR, "prev_close": KRW}),
    "Quote": obj({"price": KRW, "open": KRW, "high": KRW, "low": KRW, "prev_close": KRW,
                  "change": KRW, "change_percent": {"type": "number"}, "volume": INT,
                  "upper_limit": KRW, "lower_limit": KRW, "timestamp": TIME}),
    "Position": obj({"symbol": STR, "name": STR, "quantity": INT, "available_quantity": INT,
                     "avg_price": KRW, "cost": KRW, "market_price": KRW, "market_value": KRW,
                     "unrealized_pnl": KRW, "return_percent": PCT}),
    "Settlement": obj({"date": {**STR, "format": "date",
                                "description": "the KRX business day it settles"},
                       "amount": {**KRW, "description": "net: + a sale's proceeds, - a "
                                                        "purchase's cost"}}),
    "Account": obj({"account_id": STR, "currency": {"const": "KRW"},
                    "cash": {**KRW, "description": "= deposit_d2"},
                    "deposit": {**KRW, "description": "예수금 today (D+0): settled cash"},
                    "deposit_d1": {**KRW, "description": "D+1 예수금"},
                    "deposit_d2": {**KRW, "description": "D+2 예수금: after every pending "
                                                         "settlement"},
                    "settlements": {"type": "array", "items": ref("Settlement"),
                                    "description": "pending, earliest first"},
                    "reserved_cash": KRW,
                    "available_cash": {**KRW, "description": "주문가능금액: deposit_d2 - "
                                                             "reserved_cash"},
                    "positions": {"type": "array", "items": ref("Position")},
                    "purchase_amount": {**KRW, "description": "총매입: the positions' cost"},
                    "market_value": {**KRW, "description": "총평가: the positions' value"},
                    "unrealized_pnl": {**KRW, "description": "평가손익"},
                    "return_percent": PCT, "realized_pnl": KRW,
                    "fees_paid": KRW, "taxes_paid": KRW, "total_value": KRW},
                   desc="realized_pnl is after fees and taxes; a position's cost includes "
                        "its buy fees"),
    "Order": obj({
        "order_id": STR, "symbol": STR, "side": {"enum": ["buy", "sell"]},
        "order_type": {"enum": ["market", "limit"]}, "quantity": INT, "price": nullable(KRW),
        "status": {"enum": ["accepted", "partially_filled", "filled", "cancelled", "rejected",
                            "replaced", "expired"]},
        "filled_quantity": INT, "filled_price": nullable(KRW), "remaining_quantity": INT,
        "last_fill_price": nullable(KRW), "last_fill_quantity": INT,
        "reason": nullable(STR), "strategy_id": nullable(STR), "client_order_id": nullable(STR),
        "fees": {**KRW, "description": "brokerage fees and transaction tax of its fills"},
        "original_order_id": {**nullable(STR),
                              "description": "원주문번호: the order this one amends"},
        "replaced_by": {**nullable(STR),
                        "description": "the order that amends this one (status `replaced`)"},
        "created_at": TIME, "updated_at": TIME}),
    "Fill": obj({"fill_id": INT, "quantity": INT, "price": KRW, "amount": KRW, "fee": KRW,
                 "tax": KRW, "time": TIME}),
    "Level": obj({"price": KRW, "quantity": INT}),
    "OrderBook": obj({
        "asks": {"type": "array", "items": ref("Level"), "maxItems": 10,
                 "description": "best (lowest) first"},
        "bids": {"type": "array", "items": ref("Level"), "maxItems": 10,
                 "description": "best (highest) first"},
        "total_ask_quantity": INT, "total_bid_quantity": INT, "last_price": KRW,
        "timestamp": TIME}),
    "Trade": obj({"price": KRW, "quantity": INT, "side": {"enum": ["buy", "sell"]},
                  "volume": {**INT, "description": "cumulative day volume after this trade"},
                  "timestamp": TIME}),
    "RecentTrades": obj({"symbol": STR, "prev_close": nullable(KRW),
                         "trades": {"type": "array", "items": ref("Trade"),
                                    "description": "oldest first"}}),
    "Candle": obj({"time": {**TIME, "description": "the candle's start, KST"}, "open": KRW,
                   "high": KRW, "low": KRW, "close": KRW, "volume": INT}),
    "Candles": obj({"symbol": STR, "interval": {"enum": ["1m", "5m", "1h", "1d"]},
                    "candles": {"type": "array", "items": ref("Candle")}},
                   desc="oldest first; the last candle is the live one"),
    "SymbolState": obj({
        "phase": {"enum": ["continuous", "auction", "vi", "halted", "closed"]},
        "limit": {"enum": ["upper", "lower", None]},
        "vi": {"enum": ["static", "dynamic", None]}, "until": nullable(TIME),
        "reference_price": nullable(KRW), "expected_price": nullable(KRW),
        "expected_quantity": nullable(INT), "timestamp": TIME},
        desc="one symbol's own trading state (README \"Volatility interruptions and "
             "limits\")"),
    "Market": obj({"status": {"enum": ["pre_open", "open", "closing_auction", "closed"]},
                   "mode": {"enum": ["always", "krx", "window"]}, "timestamp": TIME,
                   "symbols": {"type": "object", "additionalProperties": ref("SymbolState")}},
                  desc="symbols: the symbols in a VI, halted or at a limit now"),
    "Strategy": obj({
        "strategy_id": STR, "kind": STR, "symbol": STR, "params": {"type": "object"},
        "quantity": INT, "auto_trade": {"type": "boolean"},
        "state": {"enum": ["created", "running", "stopped", "error"]}, "reason": nullable(STR),
        "position": INT, "avg_price": KRW, "last_price": nullable(KRW), "realized_pnl": KRW,
        "unrealized_pnl": KRW, "signals": INT, "created_at": TIME, "updated_at": TIME}),
    "StrategyKinds": {"type": "object", "additionalProperties": {"type": "object"},
                      "description": "each kind with its parameters' defaults"},
    "Signal": obj({"signal": {"enum": ["buy", "sell"]}, "symbol": STR, "quantity": INT,
                   "reason": STR, "price": KRW, "timestamp": TIME}),
    "Signals": obj({"strategy_id": STR, "signals": {"type": "array", "items": ref("Signal")}}),
    "Watchlist": obj({"symbols": {"type": "array", "items": STR}}),
    "Costs": obj({"brokerage_fee_rate": STR,
                  "sell_tax_rates": {"type": "object", "additionalProperties": STR}}),
    "Status": obj({"active_connections": INT, "active_users": {"type": "array", "items": STR},
                   "subscriptions": {"type": "object"}, "price_streamer_running":
                   {"type": "boolean"}, "open_orders": INT, "running_strategies": INT,
                   "sent": {"type": "object"}}),
    "Health": obj({"status": {"const": "ok"}}),
    "Ready": obj({"status": {"enum": ["ready", "not_ready"]},
                  "checks": {"type": "object", "additionalProperties": STR}}),
    "RequestFailed": obj({"ok": {"const": False}, "error": obj({"code": STR, "message": STR})},
                         desc="the ack of a refused request"),
    # -- server → client events ------------------------------------------------------
    "connected": event("connected", {
        "message": STR, "user_id": STR, "session_id": STR,
        "last_seq": {"type": "integer", "minimum": 0}, "topics": {"type": "array", "items": STR},
        "market_status": {"enum": ["pre_open", "open", "closing_auction", "closed"]}},
        desc="first event of every connection, before any other"),
    "subscribed": event("subscribed", {"topic": STR, "message": STR}),
    "unsubscribed": event("unsubscribed", {"topic": STR, "message": STR}),
    "pong": event("pong", {"timestamp": {}, "server_time": TIME,
                           "server_monotonic": {"type": "number"}}),
    "price": event("price", {"symbol": STR, "name": STR, "data": ref("Quote")}),
    "account": event("account", {"data": ref("Account")}),
    "price_update": event("price_update", {"symbol": STR, "data": obj({
        "price": KRW, "change": KRW, "change_percent": {"type": "number"}, "volume": INT,
        "timestamp": TIME})}, desc="at most once per HTS_PRICE_INTERVAL_SECONDS per symbol"),
    "price_batch": event("price_batch", {"updates": {"type": "array",
                                                     "items": ref("price_update")}},
                         desc="instead of price_update, for a connection whose handshake asked "
                              "for batch: every subscribed symbol's update of one tick"),
    "orderbook_update": event("orderbook_update", {"symbol": STR, "data": ref("OrderBook")},
                              desc="at most once per HTS_ORDERBOOK_INTERVAL_SECONDS per "
                                   "symbol, when the book changed"),
    "orderbook": event("orderbook", {"symbol": STR, "data": ref("OrderBook")}),
    "trade_update": event("trade_update", {"symbol": STR, "data": obj({
        "trades": {"type": "array", "items": ref("Trade")}})},
        desc="every trade of one market step, oldest first"),
    "market_status": event("market_status", {
        "status": {"enum": ["pre_open", "open", "closing_auction", "closed"]},
        "timestamp": TIME}, desc="to every connection when the market session changes"),
    "feed_status": event("feed_status", {"symbol": STR, "data": obj({
        "feed": {"enum": ["live", "limited", "stale"]},
        "snapshot_interval_seconds": nullable({"type": "number"}), "timestamp": TIME})},
        desc="HTS_FEED=kis: how the symbol's data reaches the server changed (live: streamed; "
             "limited: REST snapshots every snapshot_interval_seconds, the broker's "
             "registrations are used up; stale: the feed is down), once to every connection "
             "holding any of the symbol's market topics; repeated every snapshot interval "
             "while not live"),
    "symbol_status": event("symbol_status", {"symbol": STR, "data": ref("SymbolState")},
                           desc="once to every connection holding any of the symbol's "
                                "market topics, when the symbol's own state changes"),
    "order_update": event("order_update", {"seq": SEQ, "data": ref("Order")},
                          desc="private stream (topics order:* and order:{id})"),
    "strategy_signal": event("strategy_signal", {"seq": SEQ, "strategy_id": STR,
                                                 "data": ref("Signal")},
                             desc="private stream (topic strategy:{id})"),
    "strategy_status": event("strategy_status", {"seq": SEQ, "strategy_id": STR, "data": obj({
        "state": STR, "position": INT, "realized_pnl": KRW, "unrealized_pnl": KRW,
        "updated_at": TIME, "symbol": STR, "kind": STR, "last_price": nullable(KRW),
        "reason": nullable(STR)})}, desc="private stream (topic strategy:{id})"),
    "resync_required": event("resync_required", {"code": {"const": "resync_required"},
                                                 "last_seq": {"type": "integer", "minimum": 0}},
                             desc="the server cannot replay after your last_seq: refetch over "
                                  "HTTP and carry on from this last_seq"),
    "renewed": event("renewed", {"user_id": STR, "expires_at": INT},
                     desc="reply to renew: the connection now expires at `expires_at`"),
    "token_expiring": event("token_expiring", {"expires_at": INT, "expires_in": INT,
                                               "message": STR},
                            desc="HTS_TOKEN_EXPIRY_WARNING_SECONDS before the connection's "
                                 "token expires: refresh it and send renew, or the "
                                 "connection is closed token_expired at expires_at"),
    "error": event("error", {"event": STR, "code": STR, "message": STR},
                   desc="the reply event of a refused request"),
}
