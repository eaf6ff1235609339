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
    pre_load,
    validate,
    validates_schema,
)

from hts_realtime.errors import InvalidMessage


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


class EmptySchema(_Strict):
    pass


class ConnectAuthSchema(Schema):
    """The handshake ``auth`` payload. Unknown keys are ignored: clients add their own."""

    class Meta:
        unknown = "exclude"

    token = fields.String(validate=validate.Length(max=4096))
    topics = fields.List(fields.String(), validate=validate.Length(max=1000))
    last_seq = fields.Integer(strict=True, validate=validate.Range(min=0), allow_none=True)

    @pre_load
    def _bool_is_not_int(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("last_seq"), bool):
            raise ValidationError("last_seq must be an integer", "last_seq")
        return data


class LoginSchema(_Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class OrderSchema(_Strict):
    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))
    side = fields.String(required=True, validate=validate.OneOf(["buy", "sell"]))
    order_type = fields.String(
        load_default="limit", validate=validate.OneOf(["market", "limit"])
    )
    quantity = fields.Integer(strict=True, required=True)
    price = fields.Integer(strict=True, allow_none=True, load_default=None)

    @pre_load
    def _no_bools(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict):
            for key in ("quantity", "price"):
                if isinstance(data.get(key), bool):
                    raise ValidationError(f"{key} must be an integer", key)
        return data


class StrategySchema(_Strict):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    symbol = fields.String(required=True, validate=validate.Length(min=1, max=16))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    quantity = fields.Integer(strict=True, required=True)
    auto_trade = fields.Boolean(load_default=False, truthy={True}, falsy={False})

    @pre_load
    def _no_bools(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("quantity"), bool):
            raise ValidationError("quantity must be an integer", "quantity")
        return data


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


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            text = _describe(value)
            parts.append(text if key == "_schema" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(messages, list):
        return " ".join(_describe(m) for m in messages)
    return str(messages)


TOPICS = TopicsSchema()
PING = PingSchema()
GET_PRICE = GetPriceSchema()
EMPTY = EmptySchema()
CONNECT_AUTH = ConnectAuthSchema()
LOGIN = LoginSchema()
ORDER = OrderSchema()
STRATEGY = StrategySchema()
