"""Orders and fills on disk: the SQL for the ``orders`` and ``fills`` tables.

Reads run on the shared connection; writes take the caller's open
transaction, so they commit together with the account change and the
journal entry that go with them.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from hts_realtime.domain.orders import Order, OrderStatus, OrderType, Side
from hts_realtime.engine.group_commit import Tx
from hts_realtime.protocol.errors import NotFound
from hts_realtime.storage.db import Database


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class OrderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads ----------------------------------------------------------------------------
    def get(self, user_id: str, order_id: str) -> Order:
        """One of ``user_id``'s orders; someone else's id is ``not_found`` too."""
        row = self.db.conn.execute(
            "SELECT * FROM orders WHERE order_id = ? AND user_id = ?", (order_id, user_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"no order {order_id!r}")
        return order_from_row(row)

    def list_for(self, user_id: str, status: str | None = None, limit: int = 500
                 ) -> list[Order]:
        if status is not None:
            rows = self.db.conn.execute(
                "SELECT * FROM orders WHERE user_id = ? AND status = ? "
                "ORDER BY created_at DESC LIMIT ?",
                (user_id, status, limit),
            ).fetchall()
        else:
            rows = self.db.conn.execute(
                "SELECT * FROM orders WHERE user_id = ? ORDER BY created_at DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
        return [order_from_row(r) for r in rows]

    def fills(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        self.get(user_id, order_id)  # not_found for someone else's order
        rows = self.db.conn.execute(
            "SELECT fill_id, quantity, price, fee, tax, created_at FROM fills WHERE order_id = ? "
            "ORDER BY fill_id",
            (order_id,),
        ).fetchall()
        return [{"fill_id": r["fill_id"], "quantity": r["quantity"], "price": r["price"],
                 "amount": r["quantity"] * r["price"], "fee": r["fee"], "tax": r["tax"],
                 "time": r["created_at"]} for r in rows]

    def by_idempotency_key(self, user_id: str, key: str) -> str | None:
        """``"order_id|fingerprint"`` stored for this key, or None."""
        row = self.db.conn.execute(
            "SELECT order_id FROM idempotency_keys WHERE user_id = ? AND key = ?",
            (user_id, key),
        ).fetchone()
        return None if row is None else str(row[0])

    def open_orders(self) -> list[Order]:
        rows = self.db.conn.execute(
            "SELECT * FROM orders WHERE status IN ('accepted', 'partially_filled') "
            "ORDER BY created_at"
        ).fetchall()
        return [order_from_row(r) for r in rows]

    def owners(self) -> dict[str, str]:
        return {r["order_id"]: r["user_id"]
                for r in self.db.conn.execute("SELECT order_id, user_id FROM orders")}

    # -- writes (inside the caller's transaction) ------------------------------------------
    @staticmethod
    def insert(tx: Tx, o: Order) -> None:
        tx.execute(
            "INSERT INTO orders (order_id, user_id, symbol, side, order_type, quantity, price, "
            "status, reserve_price, strategy_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (o.order_id, o.user_id, o.symbol, o.side.value, o.order_type.value, o.quantity,
             o.price, o.status.value, o.reserve_price, o.strategy_id, o.created_at,
             o.updated_at),
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
            "last_fill_price = ?, last_fill_quantity = ?, reason = ?, updated_at = ?, fees = ? "
            "WHERE order_id = ?",
            (o.status.value, o.filled_quantity, o.filled_amount, o.last_fill_price,
             o.last_fill_quantity, o.reason, o.updated_at, o.fees, o.order_id),
        )

    @staticmethod
    def record_fill(tx: Tx, o: Order, qty: int, price: int, fee: int,
                    tax: int) -> None:
        tx.execute(
            "INSERT INTO fills (order_id, user_id, symbol, side, quantity, price, fee, tax, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (o.order_id, o.user_id, o.symbol, o.side.value, qty, price, fee, tax, now_iso()),
        )


def order_from_row(row: sqlite3.Row) -> Order:
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
    )
