"""The request core: the protocol once, behind both framings.

Socket.IO (``gateway.py``) and the plain WebSocket at ``/api/ws``
(``websocket.py``) are thin framings around this class. Whatever a client
can do, it does here: authenticate a connection (``admit``), open it
(``open``: ``connected``, the replay, going live), answer a request
(``dispatch``: rate limit, validate, authorise, call the domain, send the
reply events), and forget it (``disconnect``). A framing only turns its
wire format into ``(event, payload)`` and back.

Every byte to a client leaves through ``Fanout``, which knows each
connection's framing; this module never touches a socket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema

from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.market_relay import MarketRelay
from hts_realtime.edge.sessions import Session, SessionRegistry, Strike
from hts_realtime.edge.token_expiry import TokenExpiry
from hts_realtime.edge.topic_access import TopicAuthorizer
from hts_realtime.edge.wire_policy import STRIKE_CODES, TokenBucket
from hts_realtime.identity.auth import SignatureOnly
from hts_realtime.identity.tokens import Identity
from hts_realtime.ops.error_log import INTERNAL_ERRORS
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ports import EngineView, UserStreams
from hts_realtime.protocol import schemas
from hts_realtime.protocol.errors import (
    AuthFailed,
    AuthRequired,
    HtsError,
    InternalError,
    InvalidMessage,
    RateLimited,
    SubscriptionLimit,
    Unavailable,
    UnknownEvent,
    UnknownSymbol,
)
from hts_realtime.protocol.strict_json import Undecodable
from hts_realtime.protocol.topics import MARKET_KINDS, Topic, parse_topic
from hts_realtime.settings import Settings

log = logging.getLogger("hts.core")

Reply = tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]
Handler = Callable[[Session, dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Admission:
    """A connection's verified credentials and requested start state."""

    identity: Identity
    topics: list[Topic]
    last_seq: int | None
    batch: bool = False  # prices as one price_batch per tick


class RequestCore:
    def __init__(
        self,
        settings: Settings,
        auth: SignatureOnly,  # the signature here; the engine view confirms the rest
        registry: SessionRegistry,
        authorizer: TopicAuthorizer,
        fanout: Fanout,
        market_relay: MarketRelay,
        user_streams: UserStreams,
        master: SymbolMaster,
        engine: EngineView,
        metrics: Metrics,
        expiry: TokenExpiry,
    ) -> None:
        self.settings = settings
        self.expiry = expiry  # each connection's token clock (warned, then closed at exp)
        self.metrics = metrics
        self.auth = auth
        self.registry = registry
        self.authorizer = authorizer
        self.fanout = fanout
        self.market_relay = market_relay  # market topics: bus channel while someone here watches
        self.user_streams = user_streams  # private streams: attach a user's before reading its head
        self._releases: set[asyncio.Task[None]] = set()
        self.master = master
        self.engine = engine  # in this process, or another one's (a cluster gateway)
        self._handlers: dict[str, tuple[Schema, Handler]] = {
            "subscribe": (schemas.TOPICS, self._subscribe),
            "unsubscribe": (schemas.TOPICS, self._unsubscribe),
            "ping": (schemas.PING, self._ping),
            "get_price": (schemas.GET_PRICE, self._get_price),
            "get_orderbook": (schemas.GET_PRICE, self._get_orderbook),
            "get_account": (schemas.EMPTY, self._get_account),
            "renew": (schemas.RENEW, self._renew),
        }

    @property
    def events(self) -> tuple[str, ...]:
        """The request events the protocol answers."""
        return tuple(self._handlers)

    def request_schemas(self) -> dict[str, Schema]:
        """Each request event's payload schema (the AsyncAPI document is built from it)."""
        return {event: schema for event, (schema, _) in self._handlers.items()}

    # -- connect / disconnect ---------------------------------------------------------
    async def admit(
        self, transport: str, auth: Any, fallback_token: str | None = None
    ) -> Admission:
        """Check a connection's credentials: ``auth`` is ``{token?, topics?, last_seq?}``.

        ``fallback_token`` is the framing's out-of-band token (``?token=`` or
        ``Authorization: Bearer``). Raises the ``HtsError`` to refuse with.
        """
        try:
            return await self._admit(auth, fallback_token)
        except HtsError as exc:
            self.metrics.request_error(transport, exc.code)
            raise
        except Exception:
            INTERNAL_ERRORS.report(log, "%s connect failed", transport)
            self.metrics.request_error(transport, InternalError.code)
            raise InternalError("the server failed; try again") from None

    async def _admit(self, auth: Any, fallback_token: str | None) -> Admission:
        if isinstance(auth, Undecodable):  # the framing's decoder refused it
            raise InvalidMessage(f"auth is not strict JSON: {auth.reason}")
        data = schemas.load(schemas.CONNECT_AUTH, auth if auth is not None else {})
        token = data.get("token") or fallback_token
        if not token:
            raise AuthRequired("send an access token")
        identity = await self.engine.confirm(self.auth.identify(token))
        await self.engine.prime_owners(data.get("topics", []))
        topics = self.authorizer.parse_all(data.get("topics", []), identity.user_id)
        if len(topics) > self.settings.max_subscriptions:
            raise SubscriptionLimit(
                f"at most {self.settings.max_subscriptions} topics per connection"
            )
        return Admission(identity, topics, data.get("last_seq"), bool(data.get("batch", False)))

    def register(self, sid: str, admission: Admission, transport: str, strike: Strike) -> Session:
        """Record an admitted connection; its rooms are entered by ``open``. ``strike`` is
        its framing's way to the wire policy's budget of refused requests (see ``fail``)."""
        session = Session(
            sid,
            admission.identity,
            TokenBucket(self.settings.rate_limit_per_second, self.settings.rate_limit_burst),
            strike,
            transport=transport,
            batch=admission.batch,
        )
        self.registry.add(session)
        self.expiry.watch(session)
        self.metrics.connection_opened(transport)
        for topic in admission.topics:
            self.registry.subscribe(session, topic)
        log.info("sid=%s user=%s connected transport=%s topics=%d", sid,
                 session.user_id, transport, len(admission.topics))
        return session

    async def open(self, session: Session, admission: Admission) -> None:
        """``connected``, then the rooms, the replay after ``last_seq``, and live events."""
        if self.registry.get(session.sid) is not session:
            return  # gone before it opened

        def connected(last_seq: int) -> dict[str, Any]:
            return {
                "type": "connected",
                "message": f"Welcome {session.identity.username}!",
                "user_id": session.user_id,
                "session_id": session.sid,
                "last_seq": last_seq,
                "topics": [t.name for t in admission.topics],
                "market_status": self.engine.market_status(),
            }

        try:
            await self.user_streams.attach(session.user_id)  # before the head is read
            await self.fanout.open_session(session, admission.last_seq, connected,
                                           self._enter_rooms)
        except Exception:
            log.exception("sid=%s user=%s opening the session failed", session.sid,
                          session.user_id)
            # half-open is worse than closed: the client reconnects (with its last_seq)
            await self.fanout.close(session.sid, Unavailable("could not open the session; "
                                                             "reconnect"))

    def disconnect(self, sid: str, reason: Any = None) -> None:
        self.expiry.forget(sid)
        session = self.registry.remove(sid)
        if session is not None:
            log.info("sid=%s user=%s disconnected (%s)", sid, session.user_id, reason)
            task = asyncio.get_running_loop().create_task(self._release(session))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    async def _release(self, session: Session) -> None:
        """Drop the bus channels nobody here needs any more."""
        try:
            for topic in session.topics:
                if topic.kind in MARKET_KINDS:
                    await self.market_relay.release(topic)
            await self.user_streams.detach(session.user_id)
        except Exception:
            log.exception("sid=%s releasing bus channels failed", session.sid)

    async def recheck_users(self, user_ids: set[str]) -> int:
        """Close the connections of these users whose token no longer counts
        (logged out, password changed, user disabled or deleted): the client
        gets the refusal's code (``auth_revoked``, or ``auth_failed`` for a user
        that no longer exists) and the connection ends. Answers how many closed."""
        closed = 0
        for user_id in user_ids:
            for session in self.registry.sessions_of(user_id):
                refusal = await self.engine.refusal(session.identity)
                if refusal is not None and self.registry.get(session.sid) is session:
                    log.info("sid=%s user=%s closed: %s", session.sid, user_id, refusal.code)
                    await self.fanout.close(session.sid, refusal)
                    closed += 1
        return closed

    # -- requests -------------------------------------------------------------------------
    async def dispatch(
        self,
        sid: str,
        event: str | None,
        payload: Any,
        echo: dict[str, Any] | None = None,
        malformed: HtsError | None = None,
    ) -> dict[str, Any]:
        """Answer one request; returns the ack body.

        The reply events go out through ``Fanout``, each with ``echo`` merged in
        (a plain-WebSocket ``request_id``). ``malformed`` is a framing's verdict
        on input it could not even turn into a request (bad JSON, a binary frame):
        it is answered like any failed request, after the same rate limit.
        """
        session = self.registry.get(sid)
        try:
            if session is None:
                raise AuthRequired("not connected")
            if not session.limiter.take():
                raise RateLimited("too many requests; slow down")
            if malformed is not None:
                raise malformed
            entry = self._handlers.get(event) if event is not None else None
            if entry is None:
                raise UnknownEvent(f"unknown event {event!r}")
            schema, handler = entry
            ack, replies = await handler(session, schemas.load(schema, payload))
        except HtsError as exc:
            return await self.fail(sid, event, exc, echo)
        except Exception:
            INTERNAL_ERRORS.report(log, "sid=%s event=%s failed", sid, event)
            return await self.fail(sid, event, InternalError("the server failed; try again"),
                                   echo)
        for name, body in replies:
            await self.fanout.to_sid(sid, name, {**body, **echo} if echo else body)
        return {"ok": True, **ack}

    async def fail(
        self, sid: str, event: str | None, exc: HtsError, echo: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer a failed request: the ``error`` event, and the failed ack body.

        Bad input (``wire_policy.STRIKE_CODES``) is reported to the session's
        ``strike``, which logs it once per connection and kind; once it answers
        False the connection is being dropped as a flooder, and no reply goes out.
        """
        session = self.registry.get(sid)
        if exc.code in STRIKE_CODES and session is not None:
            if not session.strike(exc.code, str(event)):
                return {"ok": False, "error": exc.to_dict()}
        else:
            log.info("sid=%s event=%s error=%s", sid, event, exc.code)
        self.metrics.request_error(session.transport if session else "unknown", exc.code)
        body: dict[str, Any] = {"type": "error", "event": event, **exc.to_dict()}
        await self.fanout.to_sid(sid, "error", {**body, **echo} if echo else body)
        return {"ok": False, "error": exc.to_dict()}

    # -- topics --------------------------------------------------------------------------
    async def _enter_rooms(self, session: Session) -> None:
        for topic in list(session.topics):
            await self._enter(session, topic)

    async def _enter(self, session: Session, topic: Topic) -> None:
        await self.fanout.join(session, topic.room(session.user_id))
        if topic.kind in MARKET_KINDS:
            await self.market_relay.want(topic)

    def _requested(self, data: dict[str, Any]) -> list[Any]:
        raws: list[Any] = [data["topic"]] if "topic" in data else data["topics"]
        if len(raws) > self.settings.max_topics_per_request:
            raise InvalidMessage(f"at most {self.settings.max_topics_per_request} topics a request")
        return raws

    @staticmethod
    def _topic_replies(event: str, phrase: str, session: Session, topics: list[Topic]) -> Reply:
        names = [t.name for t in topics]
        log.info("sid=%s user=%s %s %s", session.sid, session.user_id, event, ",".join(names))
        replies = [(event, {"type": event, "topic": n, "message": f"Successfully {phrase} {n}"})
                   for n in names]
        return {"topics": names}, replies

    async def _subscribe(self, session: Session, data: dict[str, Any]) -> Reply:
        raws = self._requested(data)
        await self.engine.prime_owners(raws)
        topics = self.authorizer.parse_all(raws, session.user_id)
        if len(session.topics | set(topics)) > self.settings.max_subscriptions:
            raise SubscriptionLimit(
                f"at most {self.settings.max_subscriptions} topics per connection"
            )
        for topic in topics:
            if self.registry.subscribe(session, topic):
                await self._enter(session, topic)
        return self._topic_replies("subscribed", "subscribed to", session, topics)

    async def _unsubscribe(self, session: Session, data: dict[str, Any]) -> Reply:
        topics = [parse_topic(r) for r in self._requested(data)]
        for topic in topics:
            if self.registry.unsubscribe(session, topic):
                await self.fanout.leave(session, topic.room(session.user_id))
                if topic.kind in MARKET_KINDS:
                    await self.market_relay.release(topic)
        return self._topic_replies("unsubscribed", "unsubscribed from", session, topics)

    # -- queries -------------------------------------------------------------------------
    async def _ping(self, session: Session, data: dict[str, Any]) -> Reply:
        body = {
            "timestamp": data.get("timestamp"),
            "server_time": datetime.now(UTC).isoformat(),
            "server_monotonic": time.monotonic(),
        }
        return body, [("pong", {"type": "pong", **body})]

    async def _get_price(self, session: Session, data: dict[str, Any]) -> Reply:
        reply = await self.engine.price(data["symbol"]) if data["symbol"] in self.master else None
        if reply is None:
            raise UnknownSymbol(f"unknown symbol {data['symbol']!r}")
        ack = {k: v for k, v in reply.items() if k != "type"}
        return ack, [("price", reply)]

    async def _get_orderbook(self, session: Session, data: dict[str, Any]) -> Reply:
        reply = (await self.engine.orderbook(data["symbol"]) if data["symbol"] in self.master
                 else None)
        if reply is None:
            raise UnknownSymbol(f"unknown symbol {data['symbol']!r}")
        ack = {k: v for k, v in reply.items() if k != "type"}
        return ack, [("orderbook", reply)]

    async def _renew(self, session: Session, data: dict[str, Any]) -> Reply:
        """A fresh access token for this connection (from ``POST /api/auth/refresh``):
        checked as at connect, it must be the same user's; the connection keeps its rooms
        and stream and now expires with the new token. A refused token changes nothing."""
        identity = await self.engine.confirm(self.auth.identify(data["token"]))
        if identity.user_id != session.user_id:
            raise AuthFailed("the token is another user's: connect again to switch users")
        if self.registry.get(session.sid) is not session:
            raise AuthRequired("not connected")
        session.identity = identity
        self.expiry.watch(session)
        log.info("sid=%s user=%s renewed its token", session.sid, session.user_id)
        body = {"user_id": identity.user_id, "expires_at": identity.expires_at}
        return body, [("renewed", {"type": "renewed", **body})]

    async def _get_account(self, session: Session, data: dict[str, Any]) -> Reply:
        account = await self.engine.account(session.user_id)
        return {"data": account}, [("account", {"type": "account", "data": account})]
