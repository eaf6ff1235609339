"""AsyncAPI 3 for the events, over both framings: Socket.IO (``/socket.io/``,
namespace ``/``) and the plain WebSocket (``/api/ws``).

Requests come from ``RequestCore`` (event → marshmallow schema), so a new
request event appears here by itself; one without an entry in ``REQUESTS``
(its reply event and summary) is marked ``x-undocumented``. Server events
are the payload shapes in ``shapes.py``; ``SERVER_EVENTS`` says when each is
sent. ``tests/test_spec.py`` checks every event a real client receives
against these.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema

from hts_realtime.spec.jsonschema import request_schemas, schema_of
from hts_realtime.spec.openapi import VERSION
from hts_realtime.spec.shapes import SHAPES

JSON = dict[str, Any]

# request event → (its reply event, summary)
REQUESTS: dict[str, tuple[str, str]] = {
    "subscribe": ("subscribed", "Subscribe to topics (all or nothing); one reply per topic"),
    "unsubscribe": ("unsubscribed", "Unsubscribe from topics; one reply per topic"),
    "ping": ("pong", "Application-level round trip (not needed for liveness)"),
    "get_price": ("price", "The symbol's current quote"),
    "get_orderbook": ("orderbook", "The symbol's 10-level order book (호가)"),
    "get_account": ("account", "The caller's paper account"),
    "renew": ("renewed", "A fresh access token (POST /api/auth/refresh) for this connection: "
                         "it stays open past the old token's exp"),
}

# server event → when it is sent
SERVER_EVENTS: dict[str, str] = {
    "connected": "first message of every accepted connection",
    "subscribed": "reply to subscribe, one per topic",
    "unsubscribed": "reply to unsubscribe, one per topic",
    "pong": "reply to ping",
    "price": "reply to get_price",
    "account": "reply to get_account",
    "price_update": "to subscribers of price:{symbol}",
    "price_batch": "each tick, to a connection that asked for batch (handshake auth.batch)",
    "orderbook": "reply to get_orderbook",
    "orderbook_update": "to subscribers of orderbook:{symbol}",
    "trade_update": "to subscribers of trade:{symbol}",
    "market_status": "to every connection when the market session changes",
    "feed_status": "to connections holding any market topic of the symbol, when how its "
                   "data reaches the server changes (HTS_FEED=kis)",
    "symbol_status": "to connections holding any market topic of the symbol, when its own "
                     "trading state changes (a VI starts or ends, a limit is reached or let "
                     "go, a halt)",
    "order_update": "private stream: the owner's order changes (order:*, order:{id})",
    "strategy_signal": "private stream: a strategy's signal (strategy:{id})",
    "strategy_status": "private stream: a strategy's state and P&L (strategy:{id})",
    "resync_required": "on connect, when last_seq cannot be replayed",
    "renewed": "reply to renew",
    "token_expiring": "HTS_TOKEN_EXPIRY_WARNING_SECONDS before the connection's token "
                      "expires (closed token_expired at its exp unless renewed)",
    "error": "a refused request (and its ack is {ok:false,error})",
}

HANDSHAKE = ("The Socket.IO handshake `auth` (or, on /api/ws, the first message "
             "`{\"type\":\"auth\",...}` or `?token=&topics=&last_seq=`)")


def _message(name: str, payload: JSON, summary: str) -> JSON:
    return {"name": name, "title": name, "summary": summary, "payload": payload}


def build_asyncapi(requests: dict[str, Schema], host: str = "127.0.0.1:8000") -> JSON:
    """``requests``: the request events the server answers, with their schemas."""
    names = {id(s): n for n, s in request_schemas().items()}
    messages: JSON = {}
    schemas_used: JSON = {}
    operations: JSON = {}
    for event, schema in sorted(requests.items()):
        schema_name = names[id(schema)]
        schemas_used[schema_name] = schema_of(schema)
        reply, summary = REQUESTS.get(event, ("error", "UNDOCUMENTED"))
        msg = _message(event, {"$ref": f"#/components/schemas/{schema_name}"}, summary)
        if event not in REQUESTS:
            msg["x-undocumented"] = True
        messages[event] = msg
        operations[event] = {
            "action": "send", "channel": {"$ref": "#/channels/socketio"},
            "summary": summary, "messages": [{"$ref": f"#/channels/socketio/messages/{event}"}],
            "reply": {"channel": {"$ref": "#/channels/socketio"}, "messages": [
                {"$ref": f"#/channels/socketio/messages/{reply}"},
                {"$ref": "#/channels/socketio/messages/error"}]},
            "x-ack": {"ok": {"type": "object", "description": "{ok:true, ...the reply's "
                                                              "fields without type}"},
                      "refused": {"$ref": "#/components/schemas/RequestFailed"}},
        }
    for event, when in SERVER_EVENTS.items():
        messages[event] = _message(event, {"$ref": f"#/components/schemas/{event}"}, when)
        if event in {reply for reply, _ in REQUESTS.values()}:
            continue  # a reply: part of its request's operation
        operations[f"receive_{event}"] = {
            "action": "receive", "channel": {"$ref": "#/channels/socketio"}, "summary": when,
            "messages": [{"$ref": f"#/channels/socketio/messages/{event}"}]}
    schemas_used["ConnectAuthSchema"] = schema_of(request_schemas()["ConnectAuthSchema"])
    channel_messages = {k: {"$ref": f"#/components/messages/{k}"} for k in messages}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "hts-realtime events", "version": VERSION, "description": (
            "One protocol, two framings. Socket.IO v5: each message is an event whose "
            "name is the message name and whose single argument is the payload; requests "
            "are acknowledged. Plain WebSocket (/api/ws): each frame is the payload with "
            "`type` = the message name; a request may add `request_id`, echoed on its "
            "replies; no acks. Amounts are integer KRW.")},
        "defaultContentType": "application/json",
        "servers": {
            "socketio": {"host": host, "protocol": "ws", "pathname": "/socket.io/",
                         "description": "Socket.IO v5 / Engine.IO v4, websocket or polling"},
            "plain": {"host": host, "protocol": "ws", "pathname": "/api/ws",
                      "description": "plain WebSocket, JSON text frames"},
        },
        "channels": {
            "socketio": {"address": "/", "title": "Socket.IO namespace /",
                         "servers": [{"$ref": "#/servers/socketio"}],
                         "messages": channel_messages,
                         "x-handshake": {"$ref": "#/components/schemas/ConnectAuthSchema"},
                         "description": HANDSHAKE},
            "plain": {"address": "/api/ws", "title": "plain WebSocket",
                      "servers": [{"$ref": "#/servers/plain"}], "messages": channel_messages,
                      "x-handshake": {"$ref": "#/components/schemas/ConnectAuthSchema"},
                      "description": HANDSHAKE + "; closes with 4000 + HTTP status, reason = "
                                                 "the error code"},
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": {**SHAPES, **schemas_used}},
    }
