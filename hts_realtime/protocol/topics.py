"""Topics: the one place that parses topic names, checks who may subscribe,
and names the Socket.IO room a topic maps to.

| topic                  | who may subscribe                          |
| ---------------------- | ------------------------------------------ |
| ``price:{symbol}``     | anyone; symbol must be in the master       |
| ``orderbook:{symbol}`` | anyone; symbol must be in the master       |
| ``trade:{symbol}``     | anyone; symbol must be in the master       |
| ``order:*``            | anyone; carries the subscriber's own orders |
| ``order:{order_id}``   | the order's owner (others: ``not_found``)  |
| ``strategy:{id}``      | the strategy's owner (others: ``not_found``)|
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hts_realtime.protocol.errors import InvalidTopic

MAX_TOPIC_LENGTH = 80
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TopicKind(StrEnum):
    PRICE = "price"
    ORDERBOOK = "orderbook"
    TRADE = "trade"
    ORDERS = "order:*"
    ORDER = "order"
    STRATEGY = "strategy"


@dataclass(frozen=True, slots=True)
class Topic:
    kind: TopicKind
    key: str  # symbol, order id or strategy id; "*" for order:*

    @property
    def name(self) -> str:
        if self.kind is TopicKind.ORDERS:
            return "order:*"
        return f"{self.kind.value}:{self.key}"

    @property
    def is_private(self) -> bool:
        return self.kind not in MARKET_KINDS

    def room(self, user_id: str) -> str:
        """The Socket.IO room. ``order:*`` is per user: each subscriber's own."""
        if self.kind is TopicKind.ORDERS:
            return f"order:*@{user_id}"
        return self.name

    def __str__(self) -> str:
        return self.name


MARKET_KINDS = frozenset({TopicKind.PRICE, TopicKind.ORDERBOOK, TopicKind.TRADE})


def parse_topic(raw: object) -> Topic:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOPIC_LENGTH:
        raise InvalidTopic("a topic is a non-empty string such as 'price:005930'")
    if raw == "order:*":
        return Topic(TopicKind.ORDERS, "*")
    prefix, sep, key = raw.partition(":")
    if not sep or not _KEY_RE.match(key):
        raise InvalidTopic(f"malformed topic {raw!r}")
    kinds = {"price": TopicKind.PRICE, "orderbook": TopicKind.ORDERBOOK,
             "trade": TopicKind.TRADE, "order": TopicKind.ORDER, "strategy": TopicKind.STRATEGY}
    kind = kinds.get(prefix)
    if kind is None:
        raise InvalidTopic(f"unknown topic kind {prefix!r}; use price:, orderbook:, trade:, "
                           "order: or strategy:")
    return Topic(kind, key)


def price_symbol(room: str) -> str | None:
    """The symbol of a ``price:{symbol}`` room (or topic name), else None."""
    return room[6:] if room.startswith("price:") else None


def price_topic(symbol: str) -> str:
    return f"price:{symbol}"


def market_topic(kind: TopicKind, symbol: str) -> str:
    """The room of a market-data topic (``price:``, ``orderbook:``, ``trade:``)."""
    return f"{kind.value}:{symbol}"


def order_topics(order_id: str) -> tuple[str, ...]:
    """The topics an ``order_update`` of this order is published on."""
    return ("order:*", f"order:{order_id}")


def strategy_topics(strategy_id: str) -> tuple[str, ...]:
    return (f"strategy:{strategy_id}",)


