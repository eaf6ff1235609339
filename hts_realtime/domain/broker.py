"""The paper broker: accounts, order entry, cancels and the matching engine.

Every state change (order accepted, filled, cancelled) updates the order,
the account and the position, and appends an ``order_update`` to the
user's journal, in one SQLite transaction. Events are published on the bus
only after the commit, so a client never sees a fill the database lost.

Money is integer KRW throughout. A buy holds cash when accepted (at the
limit price, or at the day's upper limit for a market order, so a fill
can never overdraw); a sell holds the shares. Fills release the hold.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hts_realtime.domain.accounts import Accounts
from hts_realtime.domain.events import EventBus, Journal, PrivateEvent
from hts_realtime.domain.krx import on_grid
from hts_realtime.domain.market import MarketSource, Quote
from hts_realtime.domain.order_store import OrderStore, now_iso
from hts_realtime.domain.orders import Order, OrderStatus, OrderType, Side, new_order_id
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.errors import (
    Conflict,
    InsufficientFunds,
    InsufficientHoldings,
    InvalidOrder,
    InvalidPrice,
    OrderNotCancellable,
    UnknownSymbol,
)
from hts_realtime.storage.db import Database
from hts_realtime.topics import order_topics

# A hook run inside the fill's transaction (strategies use it to track their
# own position); it returns the private events it journaled.
FillHook = Callable[[sqlite3.Connection, Order, int, int], list[PrivateEvent]]


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
    ) -> None:
        self.db = db
        self.journal = journal
        self.bus = bus
        self.master = master
        self.market = market
        self.max_quantity = max_quantity
        self.participation = participation
        self.fill_hooks: list[FillHook] = []
        self.store = OrderStore(db)
        self.accounts = Accounts(db, market, master, initial_cash)
        self._open: dict[str, list[Order]] = {}  # symbol -> open orders, time priority
        self._owner: dict[str, str] = {}  # order id -> user id (topic authorization)
        self._load()

    def _load(self) -> None:
        self._owner = self.store.owners()
        for order in self.store.open_orders():
            self._open.setdefault(order.symbol, []).append(order)

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
        return sum(len(v) for v in self._open.values())

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
        with self.db.transaction() as conn:
            acc = self.accounts.ensure(conn, user_id)
            if req.side is Side.BUY:
                order.reserve_price = req.price if req.price is not None else upper
                need = order.reserve_price * req.quantity
                available = int(acc["cash"]) - int(acc["reserved_cash"])
                if need > available:
                    raise InsufficientFunds(f"needs {need} KRW, {available} KRW available")
                conn.execute(
                    "UPDATE accounts SET reserved_cash = reserved_cash + ? WHERE user_id = ?",
                    (need, user_id),
                )
            else:
                pos = conn.execute(
                    "SELECT quantity, reserved_quantity FROM positions "
                    "WHERE user_id = ? AND symbol = ?",
                    (user_id, req.symbol),
                ).fetchone()
                available = int(pos["quantity"]) - int(pos["reserved_quantity"]) if pos else 0
                if req.quantity > available:
                    raise InsufficientHoldings(
                        f"selling {req.quantity} of {req.symbol}, {available} available"
                    )
                conn.execute(
                    "UPDATE positions SET reserved_quantity = reserved_quantity + ? "
                    "WHERE user_id = ? AND symbol = ?",
                    (req.quantity, user_id, req.symbol),
                )
            self.store.insert(conn, order)
            if idempotency_key is not None:
                conn.execute(
                    "INSERT INTO idempotency_keys (user_id, key, order_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (user_id, idempotency_key, order.order_id + "|" + req.fingerprint(), now),
                )
            events = [self._journal(conn, order)]
        self._owner[order.order_id] = user_id
        self._open.setdefault(order.symbol, []).append(order)
        self.bus.publish(events)
        return order, True

    def _by_key(self, user_id: str, key: str, req: OrderRequest) -> Order | None:
        row = self.db.conn.execute(
            "SELECT order_id FROM idempotency_keys WHERE user_id = ? AND key = ?",
            (user_id, key),
        ).fetchone()
        if row is None:
            return None
        order_id, _, fingerprint = str(row[0]).partition("|")
        if fingerprint != req.fingerprint():
            raise Conflict("this Idempotency-Key was used for a different order")
        return self.get(user_id, order_id)

    def cancel(self, user_id: str, order_id: str, reason: str = "cancelled by user") -> Order:
        order = self._find_open(order_id)
        if order is None or order.user_id != user_id:
            stored = self.get(user_id, order_id)  # raises not_found for others' ids
            raise OrderNotCancellable(f"order {order_id} is {stored.status.value}")
        with self.db.transaction() as conn:
            self._close(conn, order, OrderStatus.CANCELLED, reason)
            events = [self._journal(conn, order)]
        self.bus.publish(events)
        return order

    def _find_open(self, order_id: str) -> Order | None:
        for orders in self._open.values():
            for o in orders:
                if o.order_id == order_id:
                    return o
        return None

    # -- matching ------------------------------------------------------------------------
    def on_quotes(self, quotes: list[Quote]) -> None:
        """Match open orders against the trades in ``quotes`` (one market step)."""
        events: list[PrivateEvent] = []
        touched = [q for q in quotes if self._open.get(q.symbol)]
        if not touched:
            return
        with self.db.transaction() as conn:
            for q in touched:
                events.extend(self._match(conn, q))
        self.bus.publish(events)

    def _match(self, conn: sqlite3.Connection, q: Quote) -> list[PrivateEvent]:
        events: list[PrivateEvent] = []
        volume = max(1, int(q.last_volume * self.participation))
        book = self._open[q.symbol]
        for order in list(book):
            if volume <= 0:
                break
            if order.order_type is OrderType.LIMIT and order.price is not None:
                limit = order.price
                crosses = q.price <= limit if order.side is Side.BUY else q.price >= limit
                if not crosses:
                    continue
            qty = min(order.remaining_quantity, volume)
            volume -= qty
            self._fill(conn, order, qty, q.price)
            events.append(self._journal(conn, order))
            for hook in self.fill_hooks:
                events.extend(hook(conn, order, qty, q.price))
        return events

    def _fill(self, conn: sqlite3.Connection, order: Order, qty: int, price: int) -> None:
        amount = qty * price
        uid, sym = order.user_id, order.symbol
        if order.side is Side.BUY:
            conn.execute(
                "UPDATE accounts SET cash = cash - ?, reserved_cash = reserved_cash - ? "
                "WHERE user_id = ?",
                (amount, qty * order.reserve_price, uid),
            )
            conn.execute(
                "INSERT INTO positions (user_id, symbol, quantity, cost) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, symbol) DO UPDATE SET "
                "quantity = quantity + excluded.quantity, cost = cost + excluded.cost",
                (uid, sym, qty, amount),
            )
        else:
            pos = conn.execute(
                "SELECT quantity, cost FROM positions WHERE user_id = ? AND symbol = ?",
                (uid, sym),
            ).fetchone()
            held, cost = int(pos["quantity"]), int(pos["cost"])
            cost_out = cost if qty == held else cost * qty // held
            conn.execute(
                "UPDATE accounts SET cash = cash + ?, realized_pnl = realized_pnl + ? "
                "WHERE user_id = ?",
                (amount, amount - cost_out, uid),
            )
            if qty == held:
                conn.execute(
                    "DELETE FROM positions WHERE user_id = ? AND symbol = ?", (uid, sym)
                )
            else:
                conn.execute(
                    "UPDATE positions SET quantity = quantity - ?, "
                    "reserved_quantity = reserved_quantity - ?, cost = cost - ? "
                    "WHERE user_id = ? AND symbol = ?",
                    (qty, qty, cost_out, uid, sym),
                )
        order.filled_quantity += qty
        order.filled_amount += amount
        self.store.record_fill(conn, order, qty, price)
        order.last_fill_price = price
        order.last_fill_quantity = qty
        order.updated_at = now_iso()
        if order.remaining_quantity == 0:
            self._close(conn, order, OrderStatus.FILLED, None)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
            self.store.update(conn, order)

    def _close(
        self, conn: sqlite3.Connection, order: Order, status: OrderStatus, reason: str | None
    ) -> None:
        """Finish an order and release whatever it still holds."""
        rest = order.remaining_quantity
        if rest:
            if order.side is Side.BUY:
                conn.execute(
                    "UPDATE accounts SET reserved_cash = reserved_cash - ? WHERE user_id = ?",
                    (rest * order.reserve_price, order.user_id),
                )
            else:
                conn.execute(
                    "UPDATE positions SET reserved_quantity = reserved_quantity - ? "
                    "WHERE user_id = ? AND symbol = ?",
                    (rest, order.user_id, order.symbol),
                )
        order.status = status
        order.reason = reason
        if status is not OrderStatus.FILLED:
            order.last_fill_quantity = 0
        order.updated_at = now_iso()
        self.store.update(conn, order)
        book = self._open.get(order.symbol, [])
        if order in book:
            book.remove(order)
            if not book:
                del self._open[order.symbol]

    # -- persistence -----------------------------------------------------------------------
    def _journal(self, conn: sqlite3.Connection, order: Order) -> PrivateEvent:
        return self.journal.append(
            conn, order.user_id, "order_update", order_topics(order.order_id),
            {"data": order.to_wire()},
        )
