"""What the Socket.IO gateway asks of the trading engine.

In one process the engine is right here (``LocalEngine``); on a cluster
gateway it is another process, reached over its internal HTTP port
(``adapters.remote_engine.RemoteEngine``). The gateway's handlers are the
same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.access import Authenticator
from hts_realtime.engine.broker import PaperBroker
from hts_realtime.engine.payloads import orderbook_reply, price_reply
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.identity.tokens import Identity
from hts_realtime.ports import MarketSource
from hts_realtime.protocol.errors import HtsError
from hts_realtime.protocol.topics import TopicKind, parse_topic


class LocalEngine:
    def __init__(self, master: SymbolMaster, market: MarketSource, broker: PaperBroker,
                 strategies: StrategyRunner, auth: Authenticator) -> None:
        self.auth = auth
        self.master = master
        self.market = market
        self.broker = broker
        self.strategies = strategies

    def order_owner(self, order_id: str) -> str | None:
        return self.broker.owner_of(order_id)

    def strategy_owner(self, strategy_id: str) -> str | None:
        return self.strategies.owner_of(strategy_id)

    async def prime_owners(self, raws: Iterable[object]) -> None:
        """Closed orders are not in memory: their owners are read (and kept a while)."""
        wanted = []
        for raw in raws:
            try:
                topic = parse_topic(raw)
            except Exception:
                continue  # the authorizer refuses it with the right error
            if topic.kind is TopicKind.ORDER and self.broker.owner_of(topic.key) is None:
                wanted.append(topic.key)
        if wanted:
            await self.broker.owners_of(wanted)

    async def confirm(self, identity: Identity) -> Identity:
        user = await self.auth.access.check(identity.user_id, identity.token_id, identity.issued_at)
        return replace(identity, username=user.username, roles=user.roles)

    async def refusal(self, identity: Identity) -> HtsError | None:
        return await self.auth.refusal(identity)

    async def account(self, user_id: str) -> dict[str, Any]:
        return await self.broker.account(user_id)

    async def orderbook(self, symbol: str) -> dict[str, Any] | None:
        book = self.market.book(symbol)
        return orderbook_reply(book) if book is not None else None

    def market_status(self) -> str:
        return self.market.status(datetime.now(KST)).value

    def on_market_status(self, payload: dict[str, Any]) -> None:
        pass  # read from the market itself

    async def price(self, symbol: str) -> dict[str, Any] | None:
        sym = self.master.get(symbol)
        quote = self.market.quote(symbol) if sym else None
        return price_reply(sym, quote) if sym is not None and quote is not None else None
