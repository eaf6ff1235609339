"""The paper broker: order entry, cancels, and applying the matching engine's fills.

Every state change (order accepted, filled, cancelled) updates the order,
the account and the position, and appends an ``order_update`` to the
user's journal, in one SQLite transaction. Memory follows the database:
each change is computed on copies, committed, and only then applied to
the in-memory book of open orders (and to the strategy runs, through
``FillListener.commit``); if the transaction fails, nothing in memory
changed and the next market step finds the same work again. Events are
published on the bus only after the commit, so a client never sees a
fill the database lost.

Which orders fill, how much and at what price is decided by the pure
``domain.matching``; the SQL lives in ``order_store`` and ``accounts``.

Money is integer KRW throughout. A buy holds cash when accepted (at the
limit price, or at the day's upper limit for a market order, plus the
brokerage fee on it, so a fill can never overdraw); a sell holds the
shares. Fills release the hold. Costs: ``domain.costs``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hts_realtime.domain.costs import Costs
from hts_realtime.domain.events import PrivateEvent
from hts_realtime.domain.krx import on_grid
from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import KST, MarketStatus
from hts_realtime.domain.matching import Fill, match
from hts_realtime.domain.orders import Order, OrderStatus, OrderType, Side, new_order_id
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.accounts import Accounts
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.order_store import OrderStore, now_iso
from hts_realtime.ports import MarketSource
from hts_realtime.protocol.errors import (
    Conflict,
    InsufficientFunds,
    InsufficientHoldings,
    InvalidOrder,
    InvalidPrice,
    OrderNotCancellable,
    UnknownSymbol,
)
from hts_realtime.protocol.topics import order_topics
from hts_realtime.storage.db import Database


class FillListener(Protocol):
    """Told of every fill inside its transaction (strategies track their own position).

    ``stage`` journals what it must and keeps its new state aside; exactly one
    of ``commit`` (apply it) or ``rollback`` (drop it) follows the transaction.
    """

    def stage(self, conn: sqlite3.Connection, order: Order, qty: int, price: int,
              costs: int) -> list[PrivateEvent]: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int | None = None
    strategy_id: str | None = None

    def fingerprint(self) -> str:
        body = [self.symbol, self.side.value, self.order_type.value, self.quantity, self.price]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


class PaperBroker:
    def __init__(
        self,
        db: Database,
        journal: Journal,
        bus: EventBus,
        master: SymbolMaster,
        market: MarketSource,
        *,
        initial_cash: int,
        max_quantity: int,
        participation: float,
        costs: Costs | None = None,
    ) -> None:
        self.db = db
        self.journal = journal
        self.bus = bus
        self.master = master
        self.market = market
        self.max_quantity = max_quantity
        self.participation = participation
        self.costs = costs or Costs()
        self.fill_listeners: list[FillListener] = []
        self.store = OrderStore(db)
        self.accounts = Accounts(db, market, master, initial_cash)
        self._open: dict[str, list[Order]] = {}  # symbol -> open orders, time priority
        self._by_id: dict[str, Order] = {}  # open orders by id
        self._owner: dict[str, str] = {}  # order id -> user id (topic authorization)
        self.load()

    def load(self) -> None:
        """(Re)build the in-memory state from the database."""
        self._owner = self.store.owners()
        self._open, self._by_id = {}, {}
        for order in self.store.open_orders():
            self._open.setdefault(order.symbol, []).append(order)
            self._by_id[order.order_id] = order

    # -- accounts and queries -------------------------------------------------------------
    def account(self, user_id: str) -> dict[str, Any]:
        return self.accounts.view(user_id)

    def get(self, user_id: str, order_id: str) -> Order:
        return self.store.get(user_id, order_id)

    def fills(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        return self.store.fills(user_id, order_id)

    def list_orders(self, user_id: str, status: str | None = None) -> list[Order]:
        return self.store.list_for(user_id, status)

    def owner_of(self, order_id: str) -> str | None:
        return self._owner.get(order_id)

    def open_orders(self) -> int:
        return len(self._by_id)

    def open_snapshot(self) -> list[Order]:
        """Copies of the in-memory open orders (for consistency checks)."""
        return [dataclasses.replace(o) for orders in self._open.values() for o in orders]

    # -- order entry ---------------------------------------------------------------------
    def place(
        self, user_id: str, req: OrderRequest, idempotency_key: str | None = None
    ) -> tuple[Order, bool]:
        """Accept an order. Returns (order, created); ``created`` is False when an
        ``idempotency_key`` already placed it."""
        if idempotency_key is not None:
            existing = self._by_key(user_id, idempotency_key, req)
            if existing is not None:
                return existing, False
        symbol = self.master.get(req.symbol)
        if symbol is None:
            raise UnknownSymbol(f"unknown symbol {req.symbol!r}")
        if not 0 < req.quantity <= self.max_quantity:
            raise InvalidOrder(f"quantity must be between 1 and {self.max_quantity}")
        quote = self.market.quote(req.symbol)
        if quote is None:
            raise UnknownSymbol(f"no market for {req.symbol!r}")
        lower, upper = quote.limits
        if req.order_type is OrderType.LIMIT:
            if req.price is None:
                raise InvalidOrder("a limit order needs a price")
            if not on_grid(req.price):
                raise InvalidPrice(f"price {req.price} is off the KRX tick grid")
            if not lower <= req.price <= upper:
                raise InvalidPrice(f"price {req.price} is outside today's band {lower}-{upper}")
        elif req.price is not None:
            raise InvalidOrder("a market order takes no price")
        now = now_iso()
        order = Order(
            order_id=new_order_id(),
            user_id=user_id,
            symbol=req.symbol,
            side=req.side,
            order_type=req.order_type,
            quantity=req.quantity,
            price=req.price,
            status=OrderStatus.ACCEPTED,
            created_at=now,
            updated_at=now,
            strategy_id=req.strategy_id,
        )
        if req.side is Side.BUY:
            order.reserve_price = self.costs.reserve_per_share(
                req.price if req.price is not None else upper)
        with self.db.transaction() as conn:
            acc = self.accounts.ensure(conn, user_id)
            if req.side is Side.BUY:
                need = order.reserve_price * req.quantity
                available = int(acc["cash"]) - int(acc["reserved_cash"])
                if need > available:
                    raise InsufficientFunds(f"needs {need} KRW, {available} KRW available")
                self.accounts.hold_cash(conn, user_id, need)
            else:
                available = self.accounts.available_shares(conn, user_id, req.symbol)
                if req.quantity > available:
                    raise InsufficientHoldings(
                        f"selling {req.quantity} of {req.symbol}, {available} available"
                    )
                self.accounts.hold_shares(conn, user_id, req.symbol, req.quantity)
            self.store.insert(conn, order)
            if idempotency_key is not None:
                self.store.save_idempotency_key(
                    conn, user_id, idempotency_key, order.order_id + "|" + req.fingerprint(), now)
            events = [self._journal(conn, order)]
        self._owner[order.order_id] = user_id
        self._open.setdefault(order.symbol, []).append(order)
        self._by_id[order.order_id] = order
        self.bus.publish(events)
        return order, True

    def _by_key(self, user_id: str, key: str, req: OrderRequest) -> Order | None:
        stored = self.store.by_idempotency_key(user_id, key)
        if stored is None:
            return None
        order_id, _, fingerprint = stored.partition("|")
        if fingerprint != req.fingerprint():
            raise Conflict("this Idempotency-Key was used for a different order")
        return self.get(user_id, order_id)

    def cancel(self, user_id: str, order_id: str, reason: str = "cancelled by user") -> Order:
        order = self._by_id.get(order_id)
        if order is None or order.user_id != user_id:
            stored = self.get(user_id, order_id)  # raises not_found for others' ids
            raise OrderNotCancellable(f"order {order_id} is {stored.status.value}")
        staged = dataclasses.replace(order)
        with self.db.transaction() as conn:
            self._close(conn, staged, OrderStatus.CANCELLED, reason)
            events = [self._journal(conn, staged)]
        self._apply({order_id: staged})
        self.bus.publish(events)
        return order

    # -- matching ------------------------------------------------------------------------
    def on_quotes(self, quotes: list[Quote], now: datetime | None = None) -> None:
        """One market step: match every symbol's open orders against its book and trades.

        Compute (``domain.matching``, on copies), commit, then apply: if the
        transaction fails, memory is untouched and the exception propagates.
        """
        if not self._open:
            return
        now = now or datetime.now(KST)
        continuous = self.market.status(now) is MarketStatus.OPEN
        stepped = {q.symbol: q for q in quotes}
        plan: list[tuple[Order, Fill]] = []
        for symbol, orders in self._open.items():
            q = stepped.get(symbol)
            book = self.market.book(symbol) if continuous else None
            for fill in match(orders, book, q.trades if q else (), self.participation,
                              continuous):
                plan.append((self._by_id[fill.order_id], fill))
        if not plan:
            return
        staged: dict[str, Order] = {}
        events: list[PrivateEvent] = []
        try:
            with self.db.transaction() as conn:
                for original, fill in plan:
                    order = staged.setdefault(original.order_id, dataclasses.replace(original))
                    events.extend(self._fill(conn, order, fill.quantity, fill.price))
        except BaseException:
            for listener in self.fill_listeners:
                listener.rollback()
            raise
        self._apply(staged)
        for listener in self.fill_listeners:
            listener.commit()
        for original, fill in plan:
            if fill.taker:
                self.market.take_liquidity(original.symbol, original.side,
                                           [(fill.price, fill.quantity)])
        self.bus.publish(events)

    def _apply(self, staged: dict[str, Order]) -> None:
        """After a commit: copy the committed state onto the in-memory orders."""
        for order_id, new in staged.items():
            order = self._by_id.get(order_id)
            if order is None:
                continue
            for f in dataclasses.fields(Order):
                setattr(order, f.name, getattr(new, f.name))
            if not order.status.is_open:
                del self._by_id[order_id]
                book = self._open.get(order.symbol, [])
                if order in book:
                    book.remove(order)
                    if not book:
                        del self._open[order.symbol]

    def _fill(self, conn: sqlite3.Connection, order: Order, qty: int,
              price: int) -> list[PrivateEvent]:
        """Book one fill of the (staged) ``order`` inside the transaction."""
        amount = qty * price
        market = self.master.get(order.symbol)
        fee = self.costs.fee(amount)
        tax = self.costs.tax(order.side, market.market if market else "", amount)
        if order.side is Side.BUY:
            self.accounts.bought(conn, order.user_id, order.symbol, qty, amount, fee,
                                 qty * order.reserve_price)
        else:
            self.accounts.sold(conn, order.user_id, order.symbol, qty, amount, fee, tax)
        order.filled_quantity += qty
        order.filled_amount += amount
        order.fees += fee + tax
        self.store.record_fill(conn, order, qty, price, fee, tax)
        order.last_fill_price = price
        order.last_fill_quantity = qty
        order.updated_at = now_iso()
        if order.remaining_quantity == 0:
            self._close(conn, order, OrderStatus.FILLED, None)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
            self.store.update(conn, order)
        events = [self._journal(conn, order)]
        for listener in self.fill_listeners:
            events.extend(listener.stage(conn, order, qty, price, fee + tax))
        return events

    def _close(
        self, conn: sqlite3.Connection, order: Order, status: OrderStatus, reason: str | None
    ) -> None:
        """Finish the (staged) order and release whatever it still holds."""
        rest = order.remaining_quantity
        if rest:
            if order.side is Side.BUY:
                self.accounts.hold_cash(conn, order.user_id, -rest * order.reserve_price)
            else:
                self.accounts.hold_shares(conn, order.user_id, order.symbol, -rest)
        order.status = status
        order.reason = reason
        if status is not OrderStatus.FILLED:
            order.last_fill_quantity = 0
        order.updated_at = now_iso()
        self.store.update(conn, order)

    # -- persistence -----------------------------------------------------------------------
    def _journal(self, conn: sqlite3.Connection, order: Order) -> PrivateEvent:
        return self.journal.append(
            conn, order.user_id, "order_update", order_topics(order.order_id),
            {"data": order.to_wire()},
        )
