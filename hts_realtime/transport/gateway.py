"""The Socket.IO gateway: connect-time auth and the client-to-server events.

Each handler validates its payload (``schemas``), authorises, calls the
domain and answers twice: through the acknowledgement, and with the seed's
reply event for clients that do not use acks. A failure acks
``{"ok": false, "error": {code, message}}`` and emits ``error``; it changes
nothing and the connection stays up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import socketio
from marshmallow import Schema

from hts_realtime.domain.broker import PaperBroker
from hts_realtime.domain.market import MarketSource
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.errors import (
    AuthRequired,
    HtsError,
    InternalError,
    InvalidMessage,
    RateLimited,
    SubscriptionLimit,
    UnknownEvent,
    UnknownSymbol,
)
from hts_realtime.metrics import Metrics
from hts_realtime.settings import Settings
from hts_realtime.tokens import TokenService
from hts_realtime.topics import Topic, TopicAuthorizer, TopicKind, parse_topic
from hts_realtime.transport import schemas
from hts_realtime.transport.fanout import Fanout
from hts_realtime.transport.payloads import price_reply
from hts_realtime.transport.sessions import Session, SessionRegistry, TokenBucket
from hts_realtime.transport.streamers import PriceStreamer

log = logging.getLogger("hts.gateway")

Reply = tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]
Handler = Callable[[Session, dict[str, Any]], Awaitable[Reply]]


class Refused(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused handshake whose ``connect_error`` data is ``{code, message}``."""

    def __init__(self, error: HtsError) -> None:
        super().__init__(error.message)
        # python-socketio clients get this whole dict as the connect_error data;
        # socket.io-client exposes `message` as err.message and `data` as err.data
        self.error_args = {**error.to_dict(), "data": error.to_dict()}


class Gateway:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        settings: Settings,
        tokens: TokenService,
        registry: SessionRegistry,
        authorizer: TopicAuthorizer,
        fanout: Fanout,
        streamer: PriceStreamer,
        master: SymbolMaster,
        market: MarketSource,
        broker: PaperBroker,
        metrics: Metrics,
    ) -> None:
        self.sio = sio
        self.metrics = metrics
        self.settings = settings
        self.tokens = tokens
        self.registry = registry
        self.authorizer = authorizer
        self.fanout = fanout
        self.streamer = streamer
        self.master = master
        self.market = market
        self.broker = broker
        self._handlers: dict[str, tuple[Schema, str, Handler]] = {
            "subscribe": (schemas.TOPICS, "subscribed", self._subscribe),
            "unsubscribe": (schemas.TOPICS, "unsubscribed", self._unsubscribe),
            "ping": (schemas.PING, "pong", self._ping),
            "get_price": (schemas.GET_PRICE, "price", self._get_price),
            "get_account": (schemas.EMPTY, "account", self._get_account),
        }
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        for event in self._handlers:
            sio.on(event, self._make_handler(event))
        sio.on("*", self.on_unknown)

    # -- connect / disconnect ---------------------------------------------------------
    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        try:
            auth_data = schemas.load(schemas.CONNECT_AUTH, auth if auth is not None else {})
        except InvalidMessage as exc:
            log.info("sid=%s refused: %s", sid, exc.message)
            self.metrics.request_error("socketio", exc.code)
            raise Refused(exc) from None
        token = auth_data.get("token") or _token_from_environ(environ)
        try:
            if not token:
                raise AuthRequired("send an access token in auth.token")
            identity = self.tokens.verify(token)
            topics = self.authorizer.parse_all(auth_data.get("topics", []), identity.user_id)
            if len(topics) > self.settings.max_subscriptions:
                raise SubscriptionLimit(
                    f"at most {self.settings.max_subscriptions} topics per connection"
                )
        except HtsError as exc:
            log.info("sid=%s refused: %s", sid, exc.code)
            self.metrics.request_error("socketio", exc.code)
            raise Refused(exc) from None
        session = Session(
            sid,
            identity,
            TokenBucket(self.settings.rate_limit_per_second, self.settings.rate_limit_burst),
        )
        self.registry.add(session)
        self.metrics.connection_opened("socketio")
        for topic in topics:
            self.registry.subscribe(session, topic)  # rooms are entered once `connected` is out
        log.info("sid=%s user=%s connected topics=%d", sid, identity.user_id, len(topics))

        def connected(last_seq: int) -> dict[str, Any]:
            return {
                "type": "connected",
                "message": f"Welcome {identity.username}!",
                "user_id": identity.user_id,
                "session_id": sid,
                "last_seq": last_seq,
                "topics": [t.name for t in topics],
            }

        asyncio.get_running_loop().create_task(
            self._open(session, auth_data.get("last_seq"), connected)
        )

    async def _enter_rooms(self, session: Session) -> None:
        for topic in list(session.topics):
            await self._enter(session, topic)

    async def _open(
        self, session: Session, last_seq: int | None, connected: Callable[[int], dict[str, Any]]
    ) -> None:
        # The handshake's CONNECT packet is queued right after on_connect returns;
        # wait for it so `connected` and the replay follow it on the wire.
        for _ in range(100):
            if self.sio.manager.is_connected(session.sid, "/"):
                break
            await asyncio.sleep(0)
        if self.registry.get(session.sid) is not session:
            return
        try:
            await self.fanout.open_session(session, last_seq, connected, self._enter_rooms)
        except Exception:
            log.exception("sid=%s user=%s opening the session failed", session.sid,
                          session.user_id)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.registry.remove(sid)
        if session is not None:
            log.info("sid=%s user=%s disconnected (%s)", sid, session.user_id, reason)

    # -- request dispatch ----------------------------------------------------------------
    def _make_handler(self, event: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        schema, reply_event, handler = self._handlers[event]

        async def handle(sid: str, *args: Any) -> dict[str, Any]:
            return await self._dispatch(sid, event, args, schema, reply_event, handler)

        return handle

    async def _dispatch(
        self,
        sid: str,
        event: str,
        args: tuple[Any, ...],
        schema: Schema,
        reply_event: str,
        handler: Handler,
    ) -> dict[str, Any]:
        session = self.registry.get(sid)
        try:
            if session is None:
                raise AuthRequired("not connected")
            if not session.limiter.take():
                raise RateLimited("too many requests; slow down")
            if len(args) > 1:
                raise InvalidMessage(f"{event} takes one payload object")
            payload = schemas.load(schema, args[0] if args else None)
            ack, replies = await handler(session, payload)
        except HtsError as exc:
            return await self._fail(sid, event, exc)
        except Exception:
            log.exception("sid=%s event=%s failed", sid, event)
            return await self._fail(sid, event, InternalError("the server failed; try again"))
        for name, body in replies:
            await self.fanout.to_sid(sid, name, body)
        return {"ok": True, **ack}

    async def _fail(self, sid: str, event: str, exc: HtsError) -> dict[str, Any]:
        log.info("sid=%s event=%s error=%s", sid, event, exc.code)
        self.metrics.request_error("socketio", exc.code)
        await self.fanout.to_sid(sid, "error", {"type": "error", "event": event, **exc.to_dict()})
        return {"ok": False, "error": exc.to_dict()}

    async def on_unknown(self, event: Any, sid: str, *args: Any) -> dict[str, Any]:
        name = str(event)[:64]  # a hostile client may send a non-string event name
        session = self.registry.get(sid)
        exc: HtsError = UnknownEvent(f"unknown event {name!r}")
        if session is not None and not session.limiter.take():
            exc = RateLimited("too many requests; slow down")
        return await self._fail(sid, name, exc)

    # -- topics --------------------------------------------------------------------------
    async def _join(self, session: Session, topic: Topic) -> None:
        if self.registry.subscribe(session, topic):
            await self._enter(session, topic)

    async def _enter(self, session: Session, topic: Topic) -> None:
        await self.sio.enter_room(session.sid, topic.room(session.user_id))
        if topic.kind is TopicKind.PRICE:
            self.streamer.ensure_running()

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
        topics = self.authorizer.parse_all(self._requested(data), session.user_id)
        if len(session.topics | set(topics)) > self.settings.max_subscriptions:
            raise SubscriptionLimit(
                f"at most {self.settings.max_subscriptions} topics per connection"
            )
        for topic in topics:
            await self._join(session, topic)
        return self._topic_replies("subscribed", "subscribed to", session, topics)

    async def _unsubscribe(self, session: Session, data: dict[str, Any]) -> Reply:
        topics = [parse_topic(r) for r in self._requested(data)]
        for topic in topics:
            if self.registry.unsubscribe(session, topic):
                await self.sio.leave_room(session.sid, topic.room(session.user_id))
        return self._topic_replies("unsubscribed", "unsubscribed from", session, topics)

    # -- requests ------------------------------------------------------------------------
    async def _ping(self, session: Session, data: dict[str, Any]) -> Reply:
        body = {
            "timestamp": data.get("timestamp"),
            "server_time": datetime.now(UTC).isoformat(),
            "server_monotonic": time.monotonic(),
        }
        return body, [("pong", {"type": "pong", **body})]

    async def _get_price(self, session: Session, data: dict[str, Any]) -> Reply:
        symbol = self.master.get(data["symbol"])
        quote = self.market.quote(data["symbol"]) if symbol else None
        if symbol is None or quote is None:
            raise UnknownSymbol(f"unknown symbol {data['symbol']!r}")
        reply = price_reply(symbol, quote)
        ack = {k: v for k, v in reply.items() if k != "type"}
        return ack, [("price", reply)]

    async def _get_account(self, session: Session, data: dict[str, Any]) -> Reply:
        account = self.broker.account(session.user_id)
        return {"data": account}, [("account", {"type": "account", "data": account})]


def _token_from_environ(environ: dict[str, Any]) -> str | None:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("token"):
        return str(query["token"][0])
    header = environ.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, str) and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
