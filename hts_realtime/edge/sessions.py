"""Connected sessions: who is connected, as whom, subscribed to what.

This registry is the source of truth for subscriptions in this process:
the status route, the subscription cap, the price streamer's "does anyone
listen to this symbol", private-event routing and broadcast all read it.
A subscription becomes a broadcast membership (``enter``) only once the
session's ``connected`` is out, so no broadcast precedes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.edge.outbox import Outbox
from hts_realtime.edge.wire_policy import TokenBucket
from hts_realtime.identity.tokens import Identity
from hts_realtime.protocol.topics import MARKET_KINDS, Topic, TopicKind

# A request of this connection was refused with (code, event): the wire policy's
# per-connection budget, through the framing that holds the connection. False: the
# connection is being cut as a flooder, and gets no reply.
Strike = Callable[[str, str], bool]


def _no_strikes(code: str, event: str) -> bool:
    return True


@dataclass(eq=False)
class Session:
    sid: str
    identity: Identity
    limiter: TokenBucket
    strike: Strike = _no_strikes
    transport: str = "socketio"  # the framing: "socketio", or "websocket" (plain, /api/ws)
    topics: set[Topic] = field(default_factory=set)
    # the send side (see edge.fanout): its outbox, broadcast rooms and price symbols
    outbox: Outbox | None = None
    batch: bool = False  # one price_batch per tick instead of a price_update per symbol
    rooms: set[str] = field(default_factory=set)
    prices: list[str] = field(default_factory=list)
    # private-stream delivery state (see edge.fanout)
    live: bool = False  # False while connecting/replaying: private events wait in `pending`
    pending: list[PrivateEvent] = field(default_factory=list)
    delivered_seq: int = 0

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    def wants(self, topics: tuple[str, ...]) -> bool:
        """Whether a private event published on ``topics`` is for this session."""
        for t in self.topics:
            if not t.is_private:
                continue
            if t.name in topics:
                return True
        return False


class SessionRegistry:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._by_user: dict[str, set[str]] = defaultdict(set)
        self._by_topic: dict[Topic, set[str]] = defaultdict(set)
        # broadcast memberships: room name -> sessions; sessions that receive prices
        self._rooms: dict[str, dict[str, Session]] = {}
        self._price_sessions: dict[str, Session] = {}

    def add(self, session: Session) -> None:
        self._sessions[session.sid] = session
        self._by_user[session.user_id].add(session.sid)

    def remove(self, sid: str) -> Session | None:
        session = self._sessions.pop(sid, None)
        if session is None:
            return None
        sids = self._by_user.get(session.user_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._by_user[session.user_id]
        for topic in session.topics:
            self._drop(topic, sid)
        for room in session.rooms:
            self._leave_room(room, sid)
        session.rooms.clear()
        session.prices.clear()
        self._price_sessions.pop(sid, None)
        return session

    def get(self, sid: str) -> Session | None:
        return self._sessions.get(sid)

    def subscribe(self, session: Session, topic: Topic) -> bool:
        """Returns True if the subscription is new."""
        if topic in session.topics:
            return False
        session.topics.add(topic)
        self._by_topic[topic].add(session.sid)
        return True

    def unsubscribe(self, session: Session, topic: Topic) -> bool:
        if topic not in session.topics:
            return False
        session.topics.discard(topic)
        self._drop(topic, session.sid)
        return True

    def enter(self, session: Session, room: str, symbol: str | None = None) -> None:
        """Broadcasts to ``room`` reach ``session`` from now on (``symbol``: a price room)."""
        if self._sessions.get(session.sid) is not session:
            return
        self._rooms.setdefault(room, {})[session.sid] = session
        session.rooms.add(room)
        if symbol is not None and symbol not in session.prices:
            session.prices.append(symbol)
            self._price_sessions[session.sid] = session

    def leave(self, session: Session, room: str, symbol: str | None = None) -> None:
        self._leave_room(room, session.sid)
        session.rooms.discard(room)
        if symbol is not None and symbol in session.prices:
            session.prices.remove(symbol)
            if not session.prices:
                self._price_sessions.pop(session.sid, None)

    def _leave_room(self, room: str, sid: str) -> None:
        members = self._rooms.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del self._rooms[room]

    def members(self, room: str) -> list[Session]:
        """The sessions a broadcast to ``room`` reaches."""
        members = self._rooms.get(room)
        return list(members.values()) if members else []

    def price_sessions(self) -> list[Session]:
        """Sessions that receive at least one symbol's prices."""
        return list(self._price_sessions.values())

    def _drop(self, topic: Topic, sid: str) -> None:
        sids = self._by_topic.get(topic)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._by_topic[topic]

    def user_ids(self) -> set[str]:
        """Every user with at least one connection here."""
        return set(self._by_user)

    def sessions_of(self, user_id: str) -> list[Session]:
        return [self._sessions[s] for s in self._by_user.get(user_id, ())]

    def topic_size(self, topic: Topic) -> int:
        """How many sessions hold ``topic``."""
        return len(self._by_topic.get(topic, ()))

    def sids(self, transport: str | None = None) -> list[str]:
        return [sid for sid, s in self._sessions.items()
                if transport is None or s.transport == transport]

    def subscription_counts(self) -> dict[str, float]:
        """Subscriptions held, by topic kind (every kind present, zero or not)."""
        counts = {kind.value: 0.0 for kind in TopicKind}
        for topic, sids in self._by_topic.items():
            counts[topic.kind.value] += len(sids)
        return counts

    def subscribed_symbols(self, kind: TopicKind = TopicKind.PRICE) -> list[str]:
        """Symbols with at least one subscriber to ``kind`` (a market-data topic kind)."""
        return [t.key for t in self._by_topic if t.kind is kind]

    def symbol_sessions(self, symbol: str) -> list[Session]:
        """Sessions holding any market-data topic of ``symbol``, each once."""
        sids: set[str] = set()
        for kind in MARKET_KINDS:
            sids.update(self._by_topic.get(Topic(kind, symbol), ()))
        return [self._sessions[sid] for sid in sids if sid in self._sessions]

    def market_demand(self) -> dict[str, int]:
        """Market-data topics held here: topic name -> how many sessions hold it (what a
        real feed must register, ``adapters.kis``)."""
        return {t.name: len(sids) for t, sids in self._by_topic.items()
                if t.kind in MARKET_KINDS}

    def has_subscribers(self, kind: TopicKind) -> bool:
        return any(t.kind is kind for t in self._by_topic)

    def has_topic(self, topic: Topic) -> bool:
        return topic in self._by_topic

    def has_price_subscribers(self) -> bool:
        return self.has_subscribers(TopicKind.PRICE)

    def status(self) -> dict[str, Any]:
        # one entry per topic name (each user's order:* is its own topic here)
        users_by_name: dict[str, set[str]] = defaultdict(set)
        for topic, sids in self._by_topic.items():
            users_by_name[topic.name].update(self._sessions[s].user_id for s in sids)
        subs = {name: sorted(users, key=_id_key) for name, users in sorted(users_by_name.items())}
        by_transport = {"socketio": 0, "websocket": 0}
        for session in self._sessions.values():
            by_transport[session.transport] = by_transport.get(session.transport, 0) + 1
        return {
            "active_connections": len(self._sessions),
            "connections_by_transport": by_transport,
            "active_users": sorted(self._by_user, key=_id_key),
            "subscriptions": subs,
        }


def _id_key(user_id: str) -> tuple[int, str]:
    return (int(user_id), "") if user_id.isdigit() else (1 << 62, user_id)
