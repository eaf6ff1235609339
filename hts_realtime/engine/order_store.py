"""Orders and fills on disk: the SQL for the ``orders`` and ``fills`` tables.

Reads are async on the engine's store (a network round trip on
PostgreSQL); writes are staged on the caller's ``Tx``, so they commit
together with the account change and the journal entry that go with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import Order, OrderStatus, OrderType, Side
from hts_realtime.engine.group_commit import Tx
from hts_realtime.protocol.errors import NotFound
from hts_realtime.storage.store import Row, Store, chunks, placeholders


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def kst_day_bounds(day: date) -> tuple[str, str]:
    """``[start, end)`` of a KST calendar day as ``created_at`` strings (UTC ISO 8601 with
    microseconds: one format, so they compare as text, and the index on
    ``(user_id, created_at)`` serves the range)."""
    start = datetime.combine(day, time(), KST).astimezone(UTC)
    return (start.isoformat(timespec="microseconds"),
            (start + timedelta(days=1)).isoformat(timespec="microseconds"))


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """One page of a user's orders, newest first (``GET /api/orders``).

    ``view``: ``open`` (accepted or partially filled, 미체결), ``filled`` (at least one
    fill, whatever the status now, 체결) or ``all``. ``day``: a KST calendar day, or None
    for every day. ``after``: the ``(created_at, order_id)`` of the last row of the
    previous page (keyset paging: rows inserted meanwhile neither repeat nor shift it).
    """

    view: str = "all"
    day: date | None = None
    status: str | None = None
    after: tuple[str, str] | None = None
    limit: int = 100


class OrderStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads ----------------------------------------------------------------------------
    async def get(self, user_id: str, order_id: str) -> Order:
        """One of ``user_id``'s orders; someone else's id is ``not_found`` too."""
        row = await self.store.fetchrow(
            "SELECT * FROM orders WHERE order_id = ? AND user_id = ?", (order_id, user_id))
        if row is None:
            raise NotFound(f"no order {order_id!r}")
        return order_from_row(row)

    async def page(self, user_id: str, q: OrderQuery
                   ) -> tuple[list[Order], tuple[str, str] | None]:
        """The orders of ``q`` and the position after the last (None: no more)."""
        where = ["user_id = ?"]
        params: list[Any] = [user_id]
        if q.day is not None:
            start, end = kst_day_bounds(q.day)
            where.append("created_at >= ? AND created_at < ?")
            params += [start, end]
        if q.view == "open":
            where.append("status IN ('accepted', 'partially_filled')")
        elif q.view == "filled":
            where.append("filled_quantity > 0")
        if q.status is not None:
            where.append("status = ?")
            params.append(q.status)
        if q.after is not None:
            where.append("(created_at < ? OR (created_at = ? AND order_id < ?))")
            params += [q.after[0], q.after[0], q.after[1]]
        rows = await self.store.fetch(
            f"SELECT * FROM orders WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, order_id DESC LIMIT ?", (*params, q.limit + 1))
        orders = [order_from_row(r) for r in rows[:q.limit]]
        more = len(rows) > q.limit
        return orders, ((orders[-1].created_at, orders[-1].order_id) if more else None)

    async def fills(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        await self.get(user_id, order_id)  # not_found for someone else's order
        rows = await self.store.fetch(
            "SELECT fill_id, quantity, price, fee, tax, created_at FROM fills "
            "WHERE order_id = ? ORDER BY fill_id",
            (order_id,),
        )
        return [{"fill_id": int(r["fill_id"]), "quantity": int(r["quantity"]),
                 "price": int(r["price"]), "amount": int(r["quantity"]) * int(r["price"]),
                 "fee": int(r["fee"]), "tax": int(r["tax"]), "time": r["created_at"]}
                for r in rows]

    async def by_idempotency_key(self, user_id: str, key: str) -> tuple[str, Order | None] | None:
        """The fingerprint stored for this key and the order it placed (None: that order
        is gone), or None when the key is unused (one indexed read, the common case)."""
        row = await self.store.fetchrow(
            "SELECT order_id FROM idempotency_keys WHERE user_id = ? AND key = ?",
            (user_id, key))
        if row is None:
            return None
        order_id, _, fingerprint = str(row["order_id"]).partition("|")
        found = await self.store.fetchrow(
            "SELECT * FROM orders WHERE order_id = ? AND user_id = ?", (order_id, user_id))
        return fingerprint, (order_from_row(found) if found is not None else None)

    async def open_orders(self) -> list[Order]:
        rows = await self.store.fetch(
            "SELECT * FROM orders WHERE status IN ('accepted', 'partially_filled') "
            "ORDER BY COALESCE(queued_at, created_at), created_at")
        return [order_from_row(r) for r in rows]

    async def owners(self, order_ids: Sequence[str]) -> dict[str, str]:
        """The owner of each of these order ids that exists."""
        out: dict[str, str] = {}
        for part in chunks(order_ids):
            rows = await self.store.fetch(
                f"SELECT order_id, user_id FROM orders WHERE order_id IN "
                f"({placeholders(len(part))})", tuple(part))
            out.update({str(r["order_id"]): str(r["user_id"]) for r in rows})
        return out

    # -- writes (inside the caller's transaction) ------------------------------------------
    @staticmethod
    def insert(tx: Tx, o: Order) -> None:
        tx.execute(
            "INSERT INTO orders (order_id, user_id, symbol, side, order_type, quantity, price, "
            "status, reserve_price, strategy_id, created_at, updated_at, original_order_id, "
            "queued_at, client_order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (o.order_id, o.user_id, o.symbol, o.side.value, o.order_type.value, o.quantity,
             o.price, o.status.value, o.reserve_price, o.strategy_id, o.created_at,
             o.updated_at, o.original_order_id,
             o.queued_at or None, o.client_order_id),
        )

    @staticmethod
    def save_idempotency_key(tx: Tx, user_id: str, key: str, value: str,
                             now: str) -> None:
        tx.execute(
            "INSERT INTO idempotency_keys (user_id, key, order_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            (user_id, key, value, now),
        )

    @staticmethod
    def update(tx: Tx, o: Order) -> None:
        tx.execute(
            "UPDATE orders SET status = ?, filled_quantity = ?, filled_amount = ?, "
            "last_fill_price = ?, last_fill_quantity = ?, reason = ?, updated_at = ?, fees = ?, "
            "replaced_by = ? WHERE order_id = ?",
            (o.status.value, o.filled_quantity, o.filled_amount, o.last_fill_price,
             o.last_fill_quantity, o.reason, o.updated_at, o.fees, o.replaced_by, o.order_id),
        )

    @staticmethod
    def record_fill(tx: Tx, o: Order, qty: int, price: int, fee: int,
                    tax: int) -> None:
        tx.execute(
            "INSERT INTO fills (order_id, user_id, symbol, side, quantity, price, fee, tax, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (o.order_id, o.user_id, o.symbol, o.side.value, qty, price, fee, tax, now_iso()),
        )


def order_from_row(row: Row) -> Order:
    return Order(
        order_id=row["order_id"],
        user_id=row["user_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        order_type=OrderType(row["order_type"]),
        quantity=int(row["quantity"]),
        price=row["price"],
        status=OrderStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        filled_quantity=int(row["filled_quantity"]),
        filled_amount=int(row["filled_amount"]),
        last_fill_price=row["last_fill_price"],
        last_fill_quantity=int(row["last_fill_quantity"]),
        reserve_price=int(row["reserve_price"]),
        reason=row["reason"],
        strategy_id=row["strategy_id"],
        fees=int(row["fees"]),
        original_order_id=row["original_order_id"],
        replaced_by=row["replaced_by"],
        queued_at=row["queued_at"] or "",
        client_order_id=row["client_order_id"],
    )
