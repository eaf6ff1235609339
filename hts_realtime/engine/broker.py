"""The paper broker: order entry, cancels, and applying the matching engine's fills.

Every state change (order accepted, filled, cancelled) updates the order,
the account and the position, and appends an ``order_update`` to the
user's journal, in one transaction: a work of the group commit
(``engine.group_commit``), so many orders share one COMMIT. Memory follows
the database: each change is computed on staged copies, committed, and only
then applied to the in-memory book of open orders and the ledger (and to
the strategy runs, through ``FillListener.stage``); if the transaction
fails, nothing in memory changed and the next market step finds the same
work again. Events are published only after the commit, so a client never
sees a fill the database lost, and ``place`` returns only then.

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
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from hts_realtime.domain.costs import Costs
from hts_realtime.domain.events import PrivateEvent
from hts_realtime.domain.krx import on_grid
from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import KST, MarketStatus
from hts_realtime.domain.matching import match
from hts_realtime.domain.orders import Order, OrderStatus, OrderType, Side, new_order_id
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.accounts import Accounts
from hts_realtime.engine.group_commit import GroupCommit, Tx
from hts_realtime.engine.journal import Journal
from hts_realtime.engine.order_store import OrderQuery, OrderStore, now_iso
from hts_realtime.ports import MarketSource
from hts_realtime.protocol.errors import (
    Conflict,
    InsufficientFunds,
    InsufficientHoldings,
    InvalidOrder,
    InvalidPrice,
    NotFound,
    OrderNotAmendable,
    OrderNotCancellable,
    UnknownSymbol,
)
from hts_realtime.protocol.topics import order_topics
from hts_realtime.storage.store import Store

# order id -> owner, for topic authorization (open orders are always known; closed ones
# are read from the database on demand, and the newest kept)
OWNER_CACHE = 100_000
# idempotency keys this engine committed lately: the database's answer is read before a
# work is queued, so memory only has to cover what committed since that read
RECENT_KEYS = 50_000


class FillListener(Protocol):
    """Told of every fill inside its transaction (strategies track their own position).

    ``stage`` journals what it must and stages its new state on the ``Tx``; the
    group commit applies it after the commit, or drops it with the transaction.
    """

    def stage(self, tx: Tx, order: Order, qty: int, price: int,
              costs: int) -> list[PrivateEvent]: ...


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int | None = None
    strategy_id: str | None = None
    client_order_id: str | None = None

    def fingerprint(self) -> str:
        body = [self.symbol, self.side.value, self.order_type.value, self.quantity, self.price,
                self.client_order_id]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AmendRequest:
    """정정: a new price and/or a new quantity for the unfilled rest of a limit order
    (None: unchanged)."""

    order_id: str
    price: int | None = None
    quantity: int | None = None

    def fingerprint(self) -> str:
        body = ["amend", self.order_id, self.price, self.quantity]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


class PaperBroker:
    def __init__(
        self,
        store: Store,
        journal: Journal,
        commits: GroupCommit,
        master: SymbolMaster,
        market: MarketSource,
        *,
        initial_cash: int,
        max_quantity: int,
        participation: float,
        costs: Costs | None = None,
    ) -> None:
        self.journal = journal
        self.commits = commits
        self.master = master
        self.market = market
        self.max_quantity = max_quantity
        self.participation = participation
        self.costs = costs or Costs()
        self.fill_listeners: list[FillListener] = []
        self.store = OrderStore(store)
        self.accounts = Accounts(store, market, master, initial_cash)
        self._open: dict[str, list[Order]] = {}  # symbol -> open orders, time priority
        self._session: MarketStatus | None = None  # the session at the last market step
        self._resting_changes: dict[str, int] = {}  # symbol -> changes of its open orders
        self._by_id: dict[str, Order] = {}  # open orders by id
        self._owner: OrderedDict[str, str] = OrderedDict()  # order id -> user id (bounded)
        # (user id, key) -> (order, fingerprint), committed by this engine (bounded)
        self._keys: OrderedDict[tuple[str, str], tuple[Order, str]] = OrderedDict()
        self._last_stamp = ""  # the latest order's created_at (``_stamp``)
        # the group commit reads a group's users that memory lacks before it runs
        commits.prepare, commits.prepared = self.prepare, self.prepared

    async def load(self) -> None:
        """(Re)build the in-memory state from the database: the open orders, and the
        ledger and stream of every user who has one (at start, and when this engine
        takes the lead)."""
        self.forget()
        for order in await self.store.open_orders():
            self._open.setdefault(order.symbol, []).append(order)
            self._by_id[order.order_id] = order
        await self.prepare(o.user_id for o in self._by_id.values())

    def resting(self, symbol: str) -> list[tuple[Side, int, int]]:
        """The symbol's open limit orders as (side, price, unfilled quantity): the size
        they add to the book clients see (``engine.paper_shown``)."""
        return [(o.side, o.price, o.remaining_quantity) for o in self._open.get(symbol, ())
                if o.order_type is OrderType.LIMIT and o.price is not None]

    def resting_changes(self, symbol: str) -> int:
        """Rises whenever the symbol's open orders change."""
        return self._resting_changes.get(symbol, 0)

    def forget(self) -> None:
        """Drop every piece of trading state memory holds (stepping down)."""
        self.accounts.forget()
        self.journal.forget()
        self._owner.clear()
        self._keys.clear()
        self._open, self._by_id = {}, {}

    async def prepare(self, user_ids: Iterable[str]) -> None:
        """Read the ledger and stream of these users that memory does not hold (the group
        commit calls it for a group's users right before the group runs)."""
        users = {u for u in user_ids if not self.prepared(u)}
        if users:
            await self.accounts.prepare(users)
            await self.journal.prepare(users)

    def prepared(self, user_id: str) -> bool:
        """Memory holds this user's ledger and stream: a work of theirs can run."""
        return self.accounts.prepared(user_id) and self.journal.prepared(user_id)

    # -- accounts and queries -------------------------------------------------------------
    async def account(self, user_id: str) -> dict[str, Any]:
        return await self.accounts.view(user_id)

    async def get(self, user_id: str, order_id: str) -> Order:
        return await self.store.get(user_id, order_id)

    async def fills(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        return await self.store.fills(user_id, order_id)

    async def list_orders(self, user_id: str, status: str | None = None) -> list[Order]:
        """The user's newest orders (every day; the first page of ``order_page``)."""
        return (await self.order_page(user_id, OrderQuery(status=status, limit=500)))[0]

    async def order_page(self, user_id: str, query: OrderQuery
                         ) -> tuple[list[Order], tuple[str, str] | None]:
        return await self.store.page(user_id, query)

    def owner_of(self, order_id: str) -> str | None:
        """The owner of an open order, or of one ``owners_of`` read lately."""
        live = self._by_id.get(order_id)
        return live.user_id if live is not None else self._owner.get(order_id)

    async def owners_of(self, order_ids: Sequence[str]) -> dict[str, str]:
        """The owner of each of these order ids that exists (kept for ``owner_of``)."""
        out = {i: owner for i in order_ids if (owner := self.owner_of(i)) is not None}
        missing = [i for i in order_ids if i not in out]
        if missing:
            for order_id, owner in (await self.store.owners(missing)).items():
                out[order_id] = owner
                self._remember_owner(order_id, owner)
        return out

    def _remember_owner(self, order_id: str, owner: str) -> None:
        self._owner[order_id] = owner
        if len(self._owner) > OWNER_CACHE:
            self._owner.popitem(last=False)

    def open_orders(self) -> int:
        return len(self._by_id)

    def open_symbols(self) -> set[str]:
        """Symbols with open orders (a real feed must stream their prints and book)."""
        return {symbol for symbol, orders in self._open.items() if orders}

    def open_snapshot(self) -> list[Order]:
        """Copies of the in-memory open orders (for consistency checks)."""
        return [dataclasses.replace(o) for orders in self._open.values() for o in orders]

    # -- order entry ---------------------------------------------------------------------
    async def place(
        self, user_id: str, req: OrderRequest, idempotency_key: str | None = None
    ) -> tuple[Order, bool]:
        """Accept an order. Returns (order, created); ``created`` is False when an
        ``idempotency_key`` already placed it. Returns once the order is committed."""
        order = self.new_order(user_id, req)
        if idempotency_key is not None:
            placed = await self._stored_key(user_id, idempotency_key, req.fingerprint())
            if placed is not None:
                return placed, False
        return await self.commits.run(
            lambda tx: self.stage_place(tx, order, req, idempotency_key), users=(user_id,))

    async def _stored_key(self, user_id: str, key: str, fingerprint: str) -> Order | None:
        """The order this key made, as the database knows it (an earlier leader's commit
        included); what commits from now on, memory knows (``_by_key``)."""
        stored = await self.store.by_idempotency_key(user_id, key)
        if stored is None:
            return None
        used_for, placed = stored
        if used_for != fingerprint:
            raise Conflict("this Idempotency-Key was used for a different order")
        if placed is None:
            raise NotFound("the order of this Idempotency-Key is gone")
        return placed

    def new_order(self, user_id: str, req: OrderRequest) -> Order:
        """The order ``req`` asks for, checked against the symbol master and today's
        band (no account state: that is decided in the transaction)."""
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
            client_order_id=req.client_order_id,
        )
        if req.side is Side.BUY:
            order.reserve_price = self.costs.reserve_per_share(
                req.price if req.price is not None else upper)
        return order

    def stage_place(self, tx: Tx, order: Order, req: OrderRequest,
                    idempotency_key: str | None) -> tuple[Order, bool]:
        """The work of placing ``order``, inside a group commit."""
        user_id = order.user_id
        if idempotency_key is not None:
            existing = self._by_key(tx, user_id, idempotency_key, req.fingerprint())
            if existing is not None:
                return existing, False
        order.created_at = order.updated_at = self._stamp()
        self._hold(tx, order)
        self._insert(tx, order, idempotency_key, req.fingerprint())
        tx.publish([self._journal(tx, order)])
        return order, True

    def _hold(self, tx: Tx, order: Order) -> None:
        """Hold what the (new) order may spend: cash for a buy, shares for a sell."""
        user_id, qty = order.user_id, order.quantity
        acc = self.accounts.ensure(tx, user_id)
        if order.side is Side.BUY:
            need = order.reserve_price * qty
            available = acc.cash - acc.reserved_cash
            if need > available:
                raise InsufficientFunds(f"needs {need} KRW, {available} KRW available")
            self.accounts.hold_cash(tx, user_id, need)
        else:
            available = self.accounts.available_shares(tx, user_id, order.symbol)
            if qty > available:
                raise InsufficientHoldings(
                    f"selling {qty} of {order.symbol}, {available} available"
                )
            self.accounts.hold_shares(tx, user_id, order.symbol, qty)

    def _insert(self, tx: Tx, order: Order, idempotency_key: str | None,
                fingerprint: str) -> None:
        """Write the new order (and the key that made it); it joins the book after the
        commit (``apply_staged``)."""
        self.store.insert(tx, order)
        if idempotency_key is not None:
            user_id = order.user_id
            tx.put(self, ("key", user_id, idempotency_key), (order, fingerprint))
            self.store.save_idempotency_key(
                tx, user_id, idempotency_key, order.order_id + "|" + fingerprint,
                order.created_at)
        tx.put(self, ("new", order.order_id), order)

    def _stamp(self) -> str:
        """``now_iso()``, but strictly after every stamp before it. Stamped as works run
        (in commit order), an order committed later always sorts newer, so a page of
        ``GET /api/orders`` read earlier never gains a row below its cursor. (Not state:
        a rolled-back work leaves a gap in time, nothing else.)"""
        now = now_iso()
        if now <= self._last_stamp:
            now = (datetime.fromisoformat(self._last_stamp)
                   + timedelta(microseconds=1)).isoformat(timespec="microseconds")
        self._last_stamp = now
        return now

    def _by_key(self, tx: Tx, user_id: str, key: str, fingerprint: str) -> Order | None:
        """The order this key placed since ``place`` read the database: earlier in this
        group, or committed since (None: the key is new)."""
        found = tx.get(self, ("key", user_id, key))  # the same key earlier in this group
        if found is Tx.MISSING:
            found = self._keys.get((user_id, key))
            if found is None:
                return None
        order, used_for = found
        if used_for != fingerprint:
            raise Conflict("this Idempotency-Key was used for a different order")
        return order  # type: ignore[no-any-return]

    async def cancel(self, user_id: str, order_id: str,
                     reason: str = "cancelled by user") -> Order:
        live = self._by_id.get(order_id)
        if live is None or live.user_id != user_id:
            stored = await self.get(user_id, order_id)  # not_found for others' ids
            raise OrderNotCancellable(f"order {order_id} is {stored.status.value}")
        return await self.commits.run(
            lambda tx: self.stage_cancel(tx, user_id, order_id, reason), users=(user_id,))

    def stage_cancel(self, tx: Tx, user_id: str, order_id: str, reason: str) -> Order:
        live = self._by_id.get(order_id)
        if live is None or live.user_id != user_id:  # closed since ``cancel`` looked
            raise OrderNotCancellable(f"order {order_id} is no longer open")
        staged = self._staged(tx, live)
        if not staged.status.is_open:
            raise OrderNotCancellable(f"order {order_id} is {staged.status.value}")
        self._close(tx, staged, OrderStatus.CANCELLED, reason)
        tx.publish([self._journal(tx, staged)])
        return staged

    async def amend(self, user_id: str, req: AmendRequest,
                    idempotency_key: str | None = None) -> tuple[Order, bool]:
        """정정 as cancel-and-replace: the order's unfilled rest is closed ``replaced`` and
        a new order (``original_order_id``: the old one) rests at the new price and
        quantity. Returns (the new order, created) once committed."""
        if idempotency_key is not None:
            made = await self._stored_key(user_id, idempotency_key, req.fingerprint())
            if made is not None:
                return made, False
        live = self._by_id.get(req.order_id)
        if live is None or live.user_id != user_id:
            stored = await self.get(user_id, req.order_id)  # not_found for others' ids
            raise OrderNotAmendable(f"order {req.order_id} is {stored.status.value}")
        return await self.commits.run(
            lambda tx: self.stage_amend(tx, user_id, req, idempotency_key), users=(user_id,))

    def stage_amend(self, tx: Tx, user_id: str, req: AmendRequest,
                    idempotency_key: str | None) -> tuple[Order, bool]:
        """The work of an amendment, inside a group commit. Priority: an amendment that
        only lowers the quantity keeps the original's place in the queue; a new price or
        a larger quantity queues last, as a new order would (KRX practice)."""
        if idempotency_key is not None:
            existing = self._by_key(tx, user_id, idempotency_key, req.fingerprint())
            if existing is not None:
                return existing, False
        live = self._by_id.get(req.order_id)
        if live is None or live.user_id != user_id:  # closed since ``amend`` looked
            raise OrderNotAmendable(f"order {req.order_id} is no longer open")
        old = self._staged(tx, live)
        if not old.status.is_open:
            raise OrderNotAmendable(f"order {old.order_id} is {old.status.value}")
        if old.order_type is not OrderType.LIMIT:
            raise InvalidOrder("only a limit order can be amended; cancel a market order")
        if old.strategy_id is not None:
            raise InvalidOrder("a strategy's order cannot be amended; cancel it or stop "
                               "the strategy")
        rest = old.remaining_quantity
        price = req.price if req.price is not None else old.price
        qty = req.quantity if req.quantity is not None else rest
        if price == old.price and qty == rest:
            raise InvalidOrder("the amendment changes neither price nor quantity")
        new = self.new_order(user_id, OrderRequest(old.symbol, old.side, OrderType.LIMIT,
                                                   qty, price,
                                                   client_order_id=old.client_order_id))
        new.created_at = new.updated_at = self._stamp()
        new.original_order_id = old.order_id
        if price == old.price and qty < rest:
            new.queued_at = old.priority
        old.replaced_by = new.order_id
        self._close(tx, old, OrderStatus.REPLACED, f"amended by {new.order_id}")
        self._hold(tx, new)  # after the old hold's release; short: the work is dropped
        self._insert(tx, new, idempotency_key, req.fingerprint())
        tx.publish([self._journal(tx, old), self._journal(tx, new)])
        return new, True

    def _current(self, tx: Tx, live: Order) -> Order:
        """The order as this transaction sees it (not a copy: for reading only)."""
        staged = tx.get(self, ("order", live.order_id))
        return live if staged is Tx.MISSING else staged

    def _staged(self, tx: Tx, live: Order) -> Order:
        """This work's copy of an open order (from an earlier work of the group, or live)."""
        return tx.stage(self, ("order", live.order_id), lambda: live, dataclasses.replace)

    # -- matching ------------------------------------------------------------------------
    def on_quotes(self, quotes: list[Quote], now: datetime | None = None) -> None:
        """One market step: queue the matching of every symbol's open orders against its
        book and trades. It runs in the next group commit, so it sees the orders as the
        works before it left them (a cancel a moment earlier is not filled)."""
        now = now or datetime.now(KST)
        status = self.market.status(now)
        # 15:30 in KRX hours: the closing auction's print fills first, then what is still
        # open expires (day orders); the window and always-open modes have no close
        closing = self._session is MarketStatus.CLOSING_AUCTION and \
            status is MarketStatus.CLOSED
        self._session = status
        if not self._open:
            return
        self.commits.submit(lambda tx: self.stage_fills(tx, quotes, now))
        if closing:
            self.commits.submit(self.stage_expiry)

    def stage_expiry(self, tx: Tx) -> None:
        """Every open order expires (``expired``), releasing what it holds; memory
        follows after the commit (``apply_staged``)."""
        for live_orders in list(self._open.values()):
            for live in live_orders:
                order = self._staged(tx, live)
                if order.status.is_open:
                    self._close(tx, order, OrderStatus.EXPIRED, "day order expired at the close")
                    tx.publish([self._journal(tx, order)])

    def stage_fills(self, tx: Tx, quotes: list[Quote], now: datetime) -> None:
        """Compute the fills (``domain.matching``, on staged copies), book them. Memory
        and the book change after the commit (``apply_staged``, ``on_commit``)."""
        session_open = self.market.status(now) is MarketStatus.OPEN
        stepped = {q.symbol: q for q in quotes}
        taken: list[tuple[str, Side, int, int]] = []
        # an earlier work of this group may have changed an order (a cancel): match what
        # it left; only the orders that fill get a staged copy
        changed = {key[1] for key in tx.staged_keys(self)
                   if isinstance(key, tuple) and key[0] == "order"}
        for symbol, live_orders in list(self._open.items()):
            orders = live_orders
            if changed:
                orders = [o for o in (self._current(tx, o) if o.order_id in changed else o
                                      for o in live_orders) if o.status.is_open]
            if not orders:
                continue
            q = stepped.get(symbol)
            state = self.market.symbol_state(symbol)  # a VI: an auction, nothing takes
            continuous = session_open and (state is None or state.phase == "continuous")
            book = self.market.book(symbol) if continuous else None
            for fill in match(orders, book, q.trades if q else (), self.participation,
                              continuous):
                order = self._staged(tx, self._by_id[fill.order_id])
                tx.publish(self._fill(tx, order, fill.quantity, fill.price, now.date()))
                if fill.taker:
                    taken.append((order.symbol, order.side, fill.price, fill.quantity))
        if taken:
            def take() -> None:
                for symbol, side, price, qty in taken:
                    self.market.take_liquidity(symbol, side, [(price, qty)])
            tx.on_commit(take)

    def apply_staged(self, key: Hashable, value: Any) -> None:
        """After a commit: a new order joins the book; a changed one is copied onto the
        in-memory order (which the book holds), and leaves it when closed."""
        assert isinstance(key, tuple)
        kind = key[0]
        if kind in ("new", "order"):
            symbol = value.symbol
            self._resting_changes[symbol] = self._resting_changes.get(symbol, 0) + 1
        if kind == "new":
            order: Order = value
            self._remember_owner(order.order_id, order.user_id)
            if order.status.is_open and order.order_id not in self._by_id:
                queue = self._open.setdefault(order.symbol, [])
                if queue and order.priority < queue[-1].priority:  # kept its original's
                    queue.insert(bisect_right(queue, order.priority,
                                              key=lambda o: o.priority), order)
                else:
                    queue.append(order)
                self._by_id[order.order_id] = order
            return
        if kind == "key":
            self._keys[(key[1], key[2])] = value
            if len(self._keys) > RECENT_KEYS:
                self._keys.popitem(last=False)
            return
        live = self._by_id.get(key[1])
        if live is None:
            return
        for f in dataclasses.fields(Order):
            setattr(live, f.name, getattr(value, f.name))
        if not live.status.is_open:
            del self._by_id[live.order_id]
            book = self._open.get(live.symbol, [])
            if live in book:
                book.remove(live)
                if not book:
                    del self._open[live.symbol]

    def _fill(self, tx: Tx, order: Order, qty: int, price: int,
              day: date) -> list[PrivateEvent]:
        """Book one fill of the (staged) ``order`` inside the transaction; ``day`` is the
        KST trading day it happened on (it settles T+2 from there)."""
        amount = qty * price
        market = self.master.get(order.symbol)
        fee = self.costs.fee(amount)
        tax = self.costs.tax(order.side, market.market if market else "", amount)
        if order.side is Side.BUY:
            self.accounts.bought(tx, order.user_id, order.symbol, qty, amount, fee,
                                 qty * order.reserve_price, day)
        else:
            self.accounts.sold(tx, order.user_id, order.symbol, qty, amount, fee, tax, day)
        order.filled_quantity += qty
        order.filled_amount += amount
        order.fees += fee + tax
        self.store.record_fill(tx, order, qty, price, fee, tax)
        order.last_fill_price = price
        order.last_fill_quantity = qty
        order.updated_at = now_iso()
        if order.remaining_quantity == 0:
            self._close(tx, order, OrderStatus.FILLED, None)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
            self.store.update(tx, order)
        events = [self._journal(tx, order)]
        for listener in self.fill_listeners:
            events.extend(listener.stage(tx, order, qty, price, fee + tax))
        return events

    def _close(self, tx: Tx, order: Order, status: OrderStatus, reason: str | None) -> None:
        """Finish the (staged) order and release whatever it still holds."""
        rest = order.remaining_quantity
        if rest:
            if order.side is Side.BUY:
                self.accounts.hold_cash(tx, order.user_id, -rest * order.reserve_price)
            else:
                self.accounts.hold_shares(tx, order.user_id, order.symbol, -rest)
        order.status = status
        order.reason = reason
        if status is not OrderStatus.FILLED:
            order.last_fill_quantity = 0
        order.updated_at = now_iso()
        self.store.update(tx, order)

    # -- persistence -----------------------------------------------------------------------
    def _journal(self, tx: Tx, order: Order) -> PrivateEvent:
        return self.journal.append(
            tx, order.user_id, "order_update", order_topics(order.order_id),
            {"data": order.to_wire()},
        )
