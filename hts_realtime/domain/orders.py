"""Orders: the vocabulary (sides, types, statuses) and the order record."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    REPLACED = "replaced"  # amended (정정): its unfilled rest moved to ``replaced_by``
    EXPIRED = "expired"  # a day order still open at the close (KRX hours)

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


def new_order_id() -> str:
    return "ORD" + secrets.token_hex(8).upper()


@dataclass(slots=True)
class Order:
    order_id: str
    user_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int | None  # limit price; None for market orders
    status: OrderStatus
    created_at: str
    updated_at: str
    filled_quantity: int = 0
    filled_amount: int = 0  # sum of fill quantity x fill price, KRW
    last_fill_price: int | None = None
    last_fill_quantity: int = 0
    reserve_price: int = 0  # per-share cash held for an open buy
    reason: str | None = None
    strategy_id: str | None = None
    fees: int = 0  # brokerage fees and transaction tax paid on this order's fills, KRW
    original_order_id: str | None = None  # 원주문번호: the order this one amends
    replaced_by: str | None = None  # the order that amends this one
    # time priority: when it joined the queue at its price (its own created_at, or its
    # original's when an amendment only lowered the quantity); "" means created_at
    queued_at: str = ""
    # the client's own id for the order (POST /api/orders `client_order_id`), echoed on
    # every view and order_update, so a client matches an event that beats the answer
    client_order_id: str | None = None

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def priority(self) -> str:
        """The time-priority key (earlier first)."""
        return self.queued_at or self.created_at

    @property
    def filled_price(self) -> int | None:
        """Average fill price, rounded half up to whole won."""
        if not self.filled_quantity:
            return None
        return (2 * self.filled_amount + self.filled_quantity) // (2 * self.filled_quantity)

    def to_wire(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "order_type": self.order_type.value,
            "quantity": self.quantity,
            "price": self.price,
            "status": self.status.value,
            "filled_quantity": self.filled_quantity,
            "filled_price": self.filled_price,
            "remaining_quantity": self.remaining_quantity,
            "last_fill_price": self.last_fill_price,
            "last_fill_quantity": self.last_fill_quantity,
            "reason": self.reason,
            "strategy_id": self.strategy_id,
            "client_order_id": self.client_order_id,
            "fees": self.fees,
            "original_order_id": self.original_order_id,
            "replaced_by": self.replaced_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
