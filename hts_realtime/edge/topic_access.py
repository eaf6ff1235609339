"""Who may subscribe to a topic (topic names are parsed in ``protocol.topics``).

A market topic needs a symbol in the master; ``order:{id}`` and
``strategy:{id}`` need the caller to own the id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.protocol.errors import NotFound, UnknownSymbol
from hts_realtime.protocol.topics import MARKET_KINDS, Topic, TopicKind, parse_topic

OwnerLookup = Callable[[str], "str | None"]


class TopicAuthorizer:
    """Decides whether a user may subscribe to a topic.

    Private ids that exist but belong to someone else answer ``not_found``,
    exactly like ids that do not exist, so ids cannot be probed.
    """

    def __init__(
        self, master: SymbolMaster, order_owner: OwnerLookup, strategy_owner: OwnerLookup
    ) -> None:
        self._master = master
        self._order_owner = order_owner
        self._strategy_owner = strategy_owner

    def authorize(self, topic: Topic, user_id: str) -> None:
        if topic.kind in MARKET_KINDS:
            if topic.key not in self._master:
                raise UnknownSymbol(f"unknown symbol {topic.key!r}")
        elif topic.kind is TopicKind.ORDER:
            if self._order_owner(topic.key) != user_id:
                raise NotFound(f"no order {topic.key!r}")
        elif topic.kind is TopicKind.STRATEGY and self._strategy_owner(topic.key) != user_id:
            raise NotFound(f"no strategy {topic.key!r}")

    def parse_all(self, raws: Iterable[object], user_id: str) -> list[Topic]:
        """Parse and authorize every topic, or raise on the first bad one."""
        topics: list[Topic] = []
        for raw in raws:
            topic = parse_topic(raw)
            self.authorize(topic, user_id)
            if topic not in topics:
                topics.append(topic)
        return topics
