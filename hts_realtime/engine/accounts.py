"""Paper accounts and positions: creating one on first use, the SQL that moves
cash and shares (inside the caller's transaction), and the account as clients
see it."""

from __future__ import annotations

import sqlite3
from typing import Any

from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.ports import MarketSource
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

    # -- writes (inside the caller's transaction) ------------------------------------------
    @staticmethod
    def available_shares(conn: sqlite3.Connection, user_id: str, symbol: str) -> int:
        pos = conn.execute(
            "SELECT quantity, reserved_quantity FROM positions WHERE user_id = ? AND symbol = ?",
            (user_id, symbol),
        ).fetchone()
        return int(pos["quantity"]) - int(pos["reserved_quantity"]) if pos else 0

    @staticmethod
    def hold_cash(conn: sqlite3.Connection, user_id: str, amount: int) -> None:
        """Hold (or, negative, release) cash for open buys."""
        conn.execute("UPDATE accounts SET reserved_cash = reserved_cash + ? WHERE user_id = ?",
                     (amount, user_id))

    @staticmethod
    def hold_shares(conn: sqlite3.Connection, user_id: str, symbol: str, qty: int) -> None:
        """Hold (or, negative, release) shares for open sells."""
        conn.execute(
            "UPDATE positions SET reserved_quantity = reserved_quantity + ? "
            "WHERE user_id = ? AND symbol = ?",
            (qty, user_id, symbol),
        )

    @staticmethod
    def bought(conn: sqlite3.Connection, user_id: str, symbol: str, qty: int, amount: int,
               fee: int, released: int) -> None:
        """A buy fill: pay ``amount + fee`` (the fee is part of the cost basis)."""
        conn.execute(
            "UPDATE accounts SET cash = cash - ?, reserved_cash = reserved_cash - ?, "
            "fees_paid = fees_paid + ? WHERE user_id = ?",
            (amount + fee, released, fee, user_id),
        )
        conn.execute(
            "INSERT INTO positions (user_id, symbol, quantity, cost) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, symbol) DO UPDATE SET "
            "quantity = quantity + excluded.quantity, cost = cost + excluded.cost",
            (user_id, symbol, qty, amount + fee),
        )

    @staticmethod
    def sold(conn: sqlite3.Connection, user_id: str, symbol: str, qty: int, amount: int,
             fee: int, tax: int) -> int:
        """A sell fill: receive ``amount - fee - tax``; returns the realised P&L."""
        pos = conn.execute(
            "SELECT quantity, cost FROM positions WHERE user_id = ? AND symbol = ?",
            (user_id, symbol),
        ).fetchone()
        held, cost = int(pos["quantity"]), int(pos["cost"])
        cost_out = cost if qty == held else cost * qty // held
        pnl = amount - fee - tax - cost_out
        conn.execute(
            "UPDATE accounts SET cash = cash + ?, realized_pnl = realized_pnl + ?, "
            "fees_paid = fees_paid + ?, taxes_paid = taxes_paid + ? WHERE user_id = ?",
            (amount - fee - tax, pnl, fee, tax, user_id),
        )
        if qty == held:
            conn.execute("DELETE FROM positions WHERE user_id = ? AND symbol = ?",
                         (user_id, symbol))
        else:
            conn.execute(
                "UPDATE positions SET quantity = quantity - ?, "
                "reserved_quantity = reserved_quantity - ?, cost = cost - ? "
                "WHERE user_id = ? AND symbol = ?",
                (qty, qty, cost_out, user_id, symbol),
            )
        return pnl

    # -- reads -----------------------------------------------------------------------------
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
            "fees_paid": int(acc["fees_paid"]),
            "taxes_paid": int(acc["taxes_paid"]),
            "total_value": cash + market_value,
        }
