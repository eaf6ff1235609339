"""Wire schemas: every inbound payload, Socket.IO and HTTP, is validated here.

Schemas reject unknown fields (a typo is an error, not a silent no-op),
except ``type``, which clients ported from the seed's raw-WebSocket
protocol still send.
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from hts_realtime.protocol.errors import InvalidMessage


class StrictInt(fields.Integer):
    """An integer that is not a bool: JSON ``true`` would otherwise pass as 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBool(fields.Boolean):
    """JSON ``true``/``false`` only: marshmallow's ``truthy={True}`` lets ``1`` through
    (``1 == True`` in Python)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _Strict(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(load_only=True)


class TopicsSchema(_Strict):
    """``{"topic": "price:005930"}`` or ``{"topics": ["price:005930", ...]}``."""

    topic = fields.String()
    topics = fields.List(fields.String(), validate=validate.Length(min=1))

    @validates_schema
    def _one_of(self, data: dict[str, Any], **_: Any) -> None:
        if ("topic" in data) == ("topics" in data):
            raise ValidationError("give exactly one of 'topic' or 'topics'")


class PingSchema(_Strict):
    timestamp = fields.Raw(allow_none=True)

    @validates_schema
    def _scalar(self, data: dict[str, Any], **_: Any) -> None:
        ts = data.get("timestamp")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, str | int | float)):
            raise ValidationError("timestamp must be a string or a number", "timestamp")
        if isinstance(ts, str) and len(ts) > 64:
            raise ValidationError("timestamp is too long", "timestamp")


class GetPriceSchema(_Strict):
    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))


class CandlesQuerySchema(_Strict):
    """``GET /api/candles`` query: ``symbol``, ``interval`` 1m|5m|1h|1d, ``limit`` 1..1000."""

    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))
    interval = fields.String(required=True, validate=validate.OneOf(["1m", "5m", "1h", "1d"]))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class OrdersQuerySchema(_Strict):
    """``GET /api/orders`` query, every parameter optional (without them: the newest 500
    orders of every day, as ever): which orders (``view``, ``day``, ``status``) and the
    page (``cursor``, ``limit``); see the README's HTTP API."""

    view = fields.String(load_default="all", validate=validate.OneOf(["open", "filled", "all"]))
    day = fields.String(validate=validate.Regexp(r"^(today|all|\d{4}-\d{2}-\d{2})$",
                                                 error="day must be YYYY-MM-DD, today or all"))
    status = fields.String(validate=validate.Length(min=1, max=32))
    cursor = fields.String(validate=validate.Length(min=1, max=256))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=500))


class TradesQuerySchema(_Strict):
    """``GET /api/trades`` query: ``symbol``, ``limit`` 1..100 (default 50)."""

    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class EmptySchema(_Strict):
    pass


class ConnectAuthSchema(Schema):
    """The handshake ``auth`` payload. Unknown keys are ignored: clients add their own."""

    class Meta:
        unknown = "exclude"

    token = fields.String(validate=validate.Length(max=4096))
    topics = fields.List(fields.String(), validate=validate.Length(max=1000))
    last_seq = StrictInt(validate=validate.Range(min=0), allow_none=True)
    # one price_batch per tick instead of price_updates (JSON true/false only)
    batch = StrictBool()


class LoginSchema(_Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class LogoutSchema(_Strict):
    everywhere = StrictBool(load_default=False)


class RefreshSchema(_Strict):
    """``POST /api/auth/refresh``: the refresh token of the latest login or refresh."""

    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RenewSchema(_Strict):
    """The ``renew`` event: a fresh access token for the open connection."""

    token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class PasswordSchema(_Strict):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class OrderSchema(_Strict):
    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))
    side = fields.String(required=True, validate=validate.OneOf(["buy", "sell"]))
    order_type = fields.String(
        load_default="limit", validate=validate.OneOf(["market", "limit"])
    )
    quantity = StrictInt(required=True)
    price = StrictInt(allow_none=True, load_default=None)
    # the client's own id, echoed on the order and its order_update events
    client_order_id = fields.String(allow_none=True, load_default=None,
                                    validate=validate.Length(min=1, max=64))


class AmendSchema(_Strict):
    """``POST /api/orders/{id}/amend`` (정정): a new ``price`` and/or ``quantity`` (the
    quantity to rest from now on) for the order's unfilled rest."""

    price = StrictInt()
    quantity = StrictInt()

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if "price" not in data and "quantity" not in data:
            raise ValidationError("give price, quantity or both")


class StrategySchema(_Strict):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    quantity = StrictInt(required=True)
    auto_trade = StrictBool(load_default=False)


class WatchlistSchema(_Strict):
    """``PUT /api/watchlist``; the store checks the symbols, duplicates and the cap."""

    symbols = fields.List(fields.String(validate=validate.Length(min=1, max=16)), required=True)


class SignalsQuerySchema(_Strict):
    """``GET /api/strategies/{id}/signals?limit=``."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1))


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Validate ``data``; a failure is ``invalid_message`` naming the fields."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidMessage("payload must be a JSON object")
    try:
        result: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise InvalidMessage(_describe(exc.messages)) from exc
    return result


MAX_DESCRIPTION = 300  # an unknown field's name is echoed: a 60 KB key is not


def _describe(messages: Any) -> str:
    text = _describe_all(messages)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION] + "…"


def _describe_all(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            text = _describe_all(value)
            parts.append(text if key == "_schema" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(messages, list):
        return " ".join(_describe_all(m) for m in messages)
    return str(messages)


TOPICS = TopicsSchema()
PING = PingSchema()
GET_PRICE = GetPriceSchema()
CANDLES = CandlesQuerySchema()
ORDERS_QUERY = OrdersQuerySchema()
TRADES_QUERY = TradesQuerySchema()
EMPTY = EmptySchema()
CONNECT_AUTH = ConnectAuthSchema()
LOGIN = LoginSchema()
LOGOUT = LogoutSchema()
PASSWORD = PasswordSchema()
REFRESH = RefreshSchema()
RENEW = RenewSchema()
ORDER = OrderSchema()
AMEND = AmendSchema()
STRATEGY = StrategySchema()
WATCHLIST = WatchlistSchema()
SIGNALS_QUERY = SignalsQuerySchema()
