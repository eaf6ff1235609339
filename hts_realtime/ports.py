"""Every port between the parts of the server, and every bus channel name, in one place.

A port is a small ``Protocol``; its implementations live in ``adapters/`` (named
after the technology: ``memory_bus``, ``redis_bus``, ``journal_event_log``,
``redis_event_log``, ``local_engine``, ``remote_engine``), beside the engine's own
tables for the stores it owns (``engine.revocation_store``, ``engine.candle_store``),
and, for the market, in ``domain/`` (the simulator) and ``engine/`` (the feed that
drives it). Roles (``roles/``) pick one implementation per port; nothing else
knows which one runs. ``tests/contracts/`` runs one scenario against every
implementation of a port.

| port | what it carries | implementations |
| --- | --- | --- |
| ``Bus`` | bytes on named channels between processes (at most once) | memory, Redis pub/sub |
| ``EventLog`` | one user's private stream, read by ``seq`` | the journal, Redis Streams |
| ``StreamWriter`` | committed events appended for other processes | Redis Streams |
| ``UserStreams`` | a user's first session opened / last one closed | in process, bus relay |
| ``EngineView`` | what the edge asks of the trading engine | local, remote (HTTP) |
| ``RevocationStore`` | revoked token ids and the access-change feed | the engine's store |
| ``MarketSource`` | quotes, books and trades of a market | the simulator, an external market |
| ``MarketDriver`` | keeps an external market fed | the KIS session, a replay |
| ``MarketDemand`` | which market topics clients hold, across edges | sessions, Redis |
| ``QuoteFeed`` | a market on a clock, handing each step to listeners | ``engine.market_feed`` |
| ``CandleStorage`` | stored candles | the engine's store |
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hts_realtime.domain.candles import Candle
from hts_realtime.domain.events import JournalRow, PrivateEvent
from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import MarketStatus
from hts_realtime.domain.orderbook import BookSnapshot
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbol_state import SymbolState

if TYPE_CHECKING:
    from hts_realtime.identity.tokens import Identity
    from hts_realtime.protocol.errors import HtsError


# -- bus channels: what travels between an engine and its gateways ---------------------------

CHANNEL_PREFIX = "md:"


def market_channel(topic: str) -> str:
    return CHANNEL_PREFIX + topic


def feed_channel(symbol: str) -> str:
    """Per symbol, how its market data reaches the engine now (``feed_status``): one
    message for every client that holds any of the symbol's market topics."""
    return f"{CHANNEL_PREFIX}feed:{symbol}"


MARKET_STATUS_CHANNEL = "market_status"

ACCESS_CHANNEL = "access"  # user ids whose access changed: every edge re-checks them


def access_message(user_ids: Iterable[str]) -> bytes:
    return json.dumps(sorted(user_ids)).encode()


def access_users(data: bytes) -> set[str]:
    """The user ids of an ``access`` message (ValueError/TypeError: not one)."""
    return {str(u) for u in json.loads(data)}


def private_channel(user_id: str) -> str:
    """The channel of one user's committed private events (a cluster)."""
    return f"pv:{user_id}"


# -- the bus -----------------------------------------------------------------------------------

Handler = Callable[[str, bytes], None]  # (channel, data); called in the event loop, must not block


Resubscribed = Callable[[], Coroutine[Any, Any, None]]


class Bus(Protocol):
    async def publish(self, channel: str, data: bytes) -> None:
        """Send ``data`` to every current subscriber of ``channel``."""

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Several publishes in one round trip, in order."""

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Deliver ``channel`` to ``handler`` from now on; returns once that is in effect."""

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        """Stop delivering ``channel`` to ``handler``."""

    def on_resubscribed(self, callback: Resubscribed) -> None:
        """``callback`` runs after the bus lost its connection and subscribed again."""

    def channels(self) -> int:
        """How many channels this process subscribes to."""

    async def close(self) -> None: ...


# -- the private stream --------------------------------------------------------------------

class EventLog(Protocol):
    """Reading one user's private stream by position (``seq``)."""

    async def head(self, user_id: str) -> int:
        """The last ``seq`` given to this user (0: none yet)."""

    async def first_kept(self, user_id: str) -> int | None:
        """The oldest ``seq`` still kept (older ones were trimmed); None when empty."""

    def read_after(self, user_id: str, after: int, upto: int) -> AsyncIterator[JournalRow]:
        """Events with ``after < seq <= upto``, in order, payloads as JSON text (a
        replay sends them as they are). Read in batches: a consumer that pauses
        between rows holds at most one batch."""


class StreamWriter(Protocol):
    """Where a cluster's engine appends each committed private event for the gateways
    (Redis Streams, ``ev:{user}``, published on ``pv:{user}`` in the same step)."""

    max_length: int  # events kept per user; older ones are trimmed

    async def append_many(self, events: Sequence[PrivateEvent]) -> int:
        """Append (and publish) each event not already there, in order; how many were new."""

    async def has_epoch(self) -> bool:
        """Whether the streams still hold what was written (False: emptied, refill)."""

    async def set_epoch(self, epoch: str) -> None: ...


class UserStreams(Protocol):
    """What the gateway calls when a user's first session opens and last one closes."""

    async def attach(self, user_id: str) -> None: ...

    async def detach(self, user_id: str) -> None: ...


# -- the engine, as the edge sees it ---------------------------------------------------------

class EngineView(Protocol):
    def order_owner(self, order_id: str) -> str | None:
        """Who owns this order id (None: no such order, or not known yet)."""

    def strategy_owner(self, strategy_id: str) -> str | None: ...

    async def prime_owners(self, raws: Iterable[object]) -> None:
        """Make ``order_owner``/``strategy_owner`` answer for the ids in these topics."""

    async def confirm(self, identity: Identity) -> Identity:
        """``identity`` as the user store knows it now (name, roles); raises the refusal
        (auth_failed, auth_revoked) when its token no longer counts."""

    async def refusal(self, identity: Identity) -> HtsError | None:
        """Why an open connection's token no longer counts, or None."""

    async def account(self, user_id: str) -> dict[str, Any]: ...

    async def orderbook(self, symbol: str) -> dict[str, Any] | None:
        """The ``orderbook`` reply for a known symbol, or None."""

    def market_status(self) -> str:
        """The market's session now (``connected`` carries it)."""

    def on_market_status(self, payload: dict[str, Any]) -> None:
        """A ``market_status`` the engine announced on the bus (a remote view caches it)."""

    async def price(self, symbol: str) -> dict[str, Any] | None:
        """The ``price`` reply for a known symbol, or None."""


class RevocationStore(Protocol):
    async def revoke_token(self, jti: str, user_id: str, expires_at: int) -> None:
        """Refuse this token id until ``expires_at`` (after which it is expired anyway)."""

    async def is_revoked(self, jti: str) -> bool: ...

    async def head(self) -> int:
        """The position of the latest access change (a cursor for ``changes_after``)."""

    async def changes_after(self, cursor: int, limit: int = 1000) -> tuple[int, set[str]]:
        """The users whose access changed after ``cursor``, and the new cursor."""

    async def purge(self, now: int) -> int:
        """Forget revocations of tokens expired before ``now`` and old changes."""


# -- the market ----------------------------------------------------------------------------

class MarketSource(Protocol):
    """Anything that produces quotes and books: the simulator, a replay, a broker feed."""

    def quote(self, symbol: str) -> Quote | None: ...

    def book(self, symbol: str) -> BookSnapshot | None: ...

    def book_version(self, symbol: str) -> int:
        """Rises whenever the symbol's book or last price changes (-1: unknown)."""

    def status(self, now: datetime) -> MarketStatus: ...

    def step(self, now: datetime) -> list[Quote]: ...

    def take_liquidity(self, symbol: str, side: Side, fills: list[tuple[int, int]]) -> None: ...

    def symbol_state(self, symbol: str) -> SymbolState | None:
        """The symbol's trading state now (a VI, a limit, a halt), None if unknown."""

    def changed_states(self) -> list[SymbolState]:
        """The symbols whose own state changed since the last call (``symbol_status``)."""


class MarketDriver(Protocol):
    """What keeps an external market (``domain.external_market``) fed: a broker's
    session (``adapters/kis``) or a recording (``engine/replay``). Runs for the
    engine's lifetime; the simulator needs none."""

    async def run(self) -> None: ...

    def status(self) -> dict[str, Any]:
        """The feed's health for ``/api/ws/status`` and ``/metrics``."""

    def stalled_reason(self) -> str | None:
        """Why the feed cannot serve fresh data now (readiness), or None."""

    def feed_state(self, symbol: str) -> str:
        """``live`` (streamed), ``limited`` (snapshots: no slot), or ``stale``."""


MarketDemand = Callable[[], Coroutine[Any, Any, Mapping[str, int]]]
"""Who wants which market topic, across every edge: topic name -> how many."""

QuoteListener = Callable[[list[Quote]], None]


class QuoteFeed(Protocol):
    """A market on a clock (or a push feed): hands each step's quotes to the stages it
    was built with, in order, and each change of the session to its status listeners."""

    def quote(self, symbol: str) -> Quote | None: ...

    def stalled_reason(self) -> str | None:
        """Why the feed is not ready (readiness), or None."""

    async def run(self) -> None:
        """Produce trades until cancelled."""


StatusListener = Callable[[MarketStatus, datetime], None]
SymbolStateListener = Callable[[SymbolState, datetime], None]


class CandleStorage(Protocol):
    async def latest(self, symbols: Iterable[str], intervals: Iterable[str]) -> list[Candle]: ...

    async def read(self, symbol: str, interval: str, limit: int) -> list[Candle]: ...

    def writes(self, candles: Iterable[Candle]) -> list[tuple[str, Sequence[Any]]]:
        """The statements that store ``candles`` (the caller commits them, fenced)."""

    async def is_empty(self) -> bool: ...
