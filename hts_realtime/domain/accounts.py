"""Paper accounts: creating one on first use, and the account as clients see it."""

from __future__ import annotations

import sqlite3
from typing import Any

from hts_realtime.domain.market import MarketSource
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.storage.db import Database


class Accounts:
    def __init__(self, db: Database, market: MarketSource, master: SymbolMaster,
                 initial_cash: int) -> None:
        self.db = db
        self.market = market
        self.master = master
        self.initial_cash = initial_cash

    def ensure(self, conn: sqlite3.Connection, user_id: str) -> sqlite3.Row:
        """The user's account row, created with ``initial_cash`` on first use."""
        conn.execute(
            "INSERT OR IGNORE INTO accounts (user_id, cash) VALUES (?, ?)",
            (user_id, self.initial_cash),
        )
        row: sqlite3.Row = conn.execute(
            "SELECT * FROM accounts WHERE user_id = ?", (user_id,)
        ).fetchone()
        return row

    def view(self, user_id: str) -> dict[str, Any]:
        """The account as the wire shows it: positions valued at the latest price."""
        with self.db.transaction() as conn:
            acc = self.ensure(conn, user_id)
        rows = self.db.conn.execute(
            "SELECT symbol, quantity, reserved_quantity, cost FROM positions "
            "WHERE user_id = ? ORDER BY symbol",
            (user_id,),
        ).fetchall()
        positions = []
        market_value = unrealized = 0
        for r in rows:
            q = self.market.quote(r["symbol"])
            qty, cost = int(r["quantity"]), int(r["cost"])
            px = q.price if q else (cost // qty if qty else 0)
            value = qty * px
            pnl = value - cost
            market_value += value
            unrealized += pnl
            sym = self.master.get(r["symbol"])
            positions.append({
                "symbol": r["symbol"],
                "name": sym.name if sym else None,
                "quantity": qty,
                "available_quantity": qty - int(r["reserved_quantity"]),
                "avg_price": (2 * cost + qty) // (2 * qty) if qty else 0,
                "cost": cost,
                "market_price": px,
                "market_value": value,
                "unrealized_pnl": pnl,
            })
        cash, reserved = int(acc["cash"]), int(acc["reserved_cash"])
        return {
            "account_id": f"paper-{user_id}",
            "currency": "KRW",
            "cash": cash,
            "reserved_cash": reserved,
            "available_cash": cash - reserved,
            "positions": positions,
            "market_value": market_value,
            "unrealized_pnl": unrealized,
            "realized_pnl": int(acc["realized_pnl"]),
            "total_value": cash + market_value,
        }
