"""Paper accounts and positions: the engine's ledger, in memory and on disk.

The leading engine is the only writer of accounts and positions, so it keeps
them in memory and decides on them there: a hold, a fill, the P&L of a sale
need no read inside the transaction. A user's account and positions are read
from the database by ``prepare`` before any work of that user is queued (at
the lead for every user with open orders or strategies, then on first use).
Each change stages a copy on the group commit's ``Tx`` and records the SQL
(as deltas, so the statement is right whatever the row holds); the committed
ledger changes only after that commit (``apply_staged``). ``view`` is the
account as clients see it, from memory.

Settlement is T+2, as on KRX: ``cash`` moves at the fill (a sale's proceeds can
be ordered with at once: it is the D+2 예수금), and each fill's net amount is
also kept, per settlement day, as pending until two business days after its
trading day (``domain.krx_calendar``); 예수금 today is ``cash`` less what is
still pending.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hts_realtime.domain.krx_calendar import add_business_days
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.group_commit import Tx
from hts_realtime.ports import MarketSource
from hts_realtime.storage.store import Store, chunks, placeholders


@dataclass(slots=True)
class Account:
    cash: int
    reserved_cash: int = 0
    realized_pnl: int = 0
    fees_paid: int = 0
    taxes_paid: int = 0


@dataclass(slots=True)
class Position:
    quantity: int
    cost: int
    reserved_quantity: int = 0


_ACCOUNT_COLUMNS = "cash, reserved_cash, realized_pnl, fees_paid, taxes_paid"


class Accounts:
    def __init__(self, store: Store, market: MarketSource, master: SymbolMaster,
                 initial_cash: int, today: Callable[[], date] | None = None) -> None:
        self.store = store
        self.market = market
        self.master = master
        self.initial_cash = initial_cash
        self.today = today or (lambda: datetime.now(KST).date())
        self._accounts: dict[str, Account] = {}  # committed
        # committed, per user: symbol -> position (a user's are loaded together)
        self._positions: dict[str, dict[str, Position]] = {}
        # committed, per user: settlement day (ISO) -> net cash still to settle that day
        self._pending: dict[str, dict[str, int]] = {}

    # -- the committed ledger -----------------------------------------------------------------
    async def prepare(self, user_ids: Iterable[str]) -> None:
        """Read the account and positions of each of these users not in memory yet."""
        missing = sorted({u for u in user_ids if u not in self._positions})
        for part in chunks(missing):
            marks = placeholders(len(part))
            accounts = await self.store.fetch(
                f"SELECT user_id, {_ACCOUNT_COLUMNS} FROM accounts WHERE user_id IN ({marks})",
                tuple(part))
            positions = await self.store.fetch(
                "SELECT user_id, symbol, quantity, cost, reserved_quantity FROM positions "
                f"WHERE user_id IN ({marks})", tuple(part))
            settling = await self.store.fetch(
                "SELECT user_id, settle_date, amount FROM settlements "
                f"WHERE user_id IN ({marks}) AND settle_date > ?",
                (*part, self.today().isoformat()))
            pending: dict[str, dict[str, int]] = {u: {} for u in part}
            for r in settling:
                pending[str(r[0])][str(r[1])] = int(r[2])
            held: dict[str, dict[str, Position]] = {u: {} for u in part}
            for r in positions:
                held[str(r[0])][str(r[1])] = Position(int(r[2]), int(r[3]), int(r[4]))
            for r in accounts:
                # setdefault: a commit that landed while we read is newer than the row
                self._accounts.setdefault(str(r[0]), Account(*(int(r[i]) for i in range(1, 6))))
            for user_id in part:
                self._pending.setdefault(user_id, pending[user_id])
                self._positions.setdefault(user_id, held[user_id])

    def prepared(self, user_id: str) -> bool:
        return user_id in self._positions

    def _account(self, user_id: str) -> Account | None:
        self._user_positions(user_id)  # raises for a user not prepared
        return self._accounts.get(user_id)

    def _user_positions(self, user_id: str) -> dict[str, Position]:
        held = self._positions.get(user_id)
        if held is None:
            raise LookupError(f"the ledger of user {user_id!r} was not prepared")
        return held

    def apply_staged(self, key: Hashable, value: Any) -> None:
        assert isinstance(key, tuple)
        if key[0] == "account":
            self._accounts[key[1]] = value
        elif key[0] == "pending":
            self._pending[key[1]] = value
        elif value is None:
            self._user_positions(key[1]).pop(key[2], None)
        else:
            self._user_positions(key[1])[key[2]] = value

    def forget(self) -> None:
        """Drop what memory holds (a new leader reads it again from the database)."""
        self._accounts.clear()
        self._positions.clear()
        self._pending.clear()

    # -- staged changes (inside a group commit) -------------------------------------------------
    def ensure(self, tx: Tx, user_id: str) -> Account:
        """The user's account as this transaction sees it, opened with ``initial_cash``
        on first use."""
        staged = tx.get(self, ("account", user_id))
        if staged is not Tx.MISSING:
            return staged  # type: ignore[no-any-return]
        if self._account(user_id) is None:
            tx.execute("INSERT INTO accounts (user_id, cash) VALUES (?, ?) "
                       "ON CONFLICT (user_id) DO NOTHING", (user_id, self.initial_cash))
            opened = Account(self.initial_cash)
            tx.put(self, ("account", user_id), opened)
            return opened
        return self._staged_account(tx, user_id)

    def _staged_account(self, tx: Tx, user_id: str) -> Account:
        def load() -> Account:
            acc = self._account(user_id)
            return acc if acc is not None else Account(self.initial_cash)
        return tx.stage(self, ("account", user_id), load, dataclasses.replace)

    def position(self, tx: Tx, user_id: str, symbol: str) -> Position | None:
        staged = tx.get(self, ("position", user_id, symbol))
        if staged is not Tx.MISSING:
            return staged  # type: ignore[no-any-return]
        return self._user_positions(user_id).get(symbol)

    def _staged_position(self, tx: Tx, user_id: str, symbol: str) -> Position | None:
        """This work's own copy of the position to change (None: no position)."""
        key = ("position", user_id, symbol)
        own = tx.own(self, key)
        if own is not Tx.MISSING:
            return own  # type: ignore[no-any-return]
        current = self.position(tx, user_id, symbol)
        if current is None:
            return None
        copy = dataclasses.replace(current)
        tx.put(self, key, copy)
        return copy

    def available_shares(self, tx: Tx, user_id: str, symbol: str) -> int:
        pos = self.position(tx, user_id, symbol)
        return pos.quantity - pos.reserved_quantity if pos else 0

    def hold_cash(self, tx: Tx, user_id: str, amount: int) -> None:
        """Hold (or, negative, release) cash for open buys."""
        self._staged_account(tx, user_id).reserved_cash += amount
        tx.execute("UPDATE accounts SET reserved_cash = reserved_cash + ? WHERE user_id = ?",
                   (amount, user_id))

    def hold_shares(self, tx: Tx, user_id: str, symbol: str, qty: int) -> None:
        """Hold (or, negative, release) shares for open sells."""
        pos = self._staged_position(tx, user_id, symbol)
        if pos is not None:
            pos.reserved_quantity += qty
        tx.execute(
            "UPDATE positions SET reserved_quantity = reserved_quantity + ? "
            "WHERE user_id = ? AND symbol = ?",
            (qty, user_id, symbol),
        )

    def bought(self, tx: Tx, user_id: str, symbol: str, qty: int, amount: int,
               fee: int, released: int, day: date) -> None:
        """A buy fill on trading day ``day``: pay ``amount + fee`` (the fee is part of the
        cost basis), settling T+2."""
        self._settles(tx, user_id, day, -(amount + fee))
        acc = self._staged_account(tx, user_id)
        acc.cash -= amount + fee
        acc.reserved_cash -= released
        acc.fees_paid += fee
        tx.execute(
            "UPDATE accounts SET cash = cash - ?, reserved_cash = reserved_cash - ?, "
            "fees_paid = fees_paid + ? WHERE user_id = ?",
            (amount + fee, released, fee, user_id),
        )
        pos = self._staged_position(tx, user_id, symbol)
        if pos is None:
            tx.put(self, ("position", user_id, symbol), Position(qty, amount + fee))
        else:
            pos.quantity += qty
            pos.cost += amount + fee
        tx.execute(
            "INSERT INTO positions (user_id, symbol, quantity, cost) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, symbol) DO UPDATE SET "
            "quantity = positions.quantity + excluded.quantity, "
            "cost = positions.cost + excluded.cost",
            (user_id, symbol, qty, amount + fee),
        )

    def sold(self, tx: Tx, user_id: str, symbol: str, qty: int, amount: int,
             fee: int, tax: int, day: date) -> int:
        """A sell fill on trading day ``day``: receive ``amount - fee - tax`` (orderable
        at once, settling T+2); returns the realised P&L."""
        self._settles(tx, user_id, day, amount - fee - tax)
        pos = self._staged_position(tx, user_id, symbol)
        assert pos is not None, "a sell fill of shares the ledger does not hold"
        held, cost = pos.quantity, pos.cost
        cost_out = cost if qty == held else cost * qty // held
        pnl = amount - fee - tax - cost_out
        acc = self._staged_account(tx, user_id)
        acc.cash += amount - fee - tax
        acc.realized_pnl += pnl
        acc.fees_paid += fee
        acc.taxes_paid += tax
        tx.execute(
            "UPDATE accounts SET cash = cash + ?, realized_pnl = realized_pnl + ?, "
            "fees_paid = fees_paid + ?, taxes_paid = taxes_paid + ? WHERE user_id = ?",
            (amount - fee - tax, pnl, fee, tax, user_id),
        )
        if qty == held:
            tx.put(self, ("position", user_id, symbol), None)
            tx.execute("DELETE FROM positions WHERE user_id = ? AND symbol = ?",
                       (user_id, symbol))
        else:
            pos.quantity -= qty
            pos.reserved_quantity -= qty
            pos.cost -= cost_out
            tx.execute(
                "UPDATE positions SET quantity = quantity - ?, "
                "reserved_quantity = reserved_quantity - ?, cost = cost - ? "
                "WHERE user_id = ? AND symbol = ?",
                (qty, qty, cost_out, user_id, symbol),
            )
        return pnl

    def _settles(self, tx: Tx, user_id: str, day: date, amount: int) -> None:
        """Add ``amount`` to what settles two business days after ``day`` (for a fill on a
        closed day, in the demo's always-open mode: the second trading day after it)."""
        settle = add_business_days(day, 2).isoformat()
        today = self.today().isoformat()
        def load() -> dict[str, int]:
            return self._pending.get(user_id, {})

        pending = tx.stage(self, ("pending", user_id), load, lambda d: dict(d))
        if any(d <= today for d in pending):  # settled since: forget them, here and on disk
            for d in [d for d in pending if d <= today]:
                del pending[d]
            tx.execute("DELETE FROM settlements WHERE user_id = ? AND settle_date <= ?",
                       (user_id, today))
        pending[settle] = pending.get(settle, 0) + amount
        tx.execute(
            "INSERT INTO settlements (user_id, settle_date, amount) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, settle_date) DO UPDATE SET "
            "amount = settlements.amount + excluded.amount",
            (user_id, settle, amount))

    # -- reads -----------------------------------------------------------------------------
    async def view(self, user_id: str) -> dict[str, Any]:
        """The account as the wire shows it (committed state; positions valued at the
        latest price). A user without an account yet sees the one it will get."""
        await self.prepare((user_id,))
        acc = self._account(user_id) or Account(self.initial_cash)
        positions = []
        market_value = unrealized = purchase = 0
        for symbol, p in sorted(self._user_positions(user_id).items()):
            q = self.market.quote(symbol)
            qty, cost = p.quantity, p.cost
            px = q.price if q else (cost // qty if qty else 0)
            value = qty * px
            pnl = value - cost
            market_value += value
            unrealized += pnl
            purchase += cost
            sym = self.master.get(symbol)
            positions.append({
                "symbol": symbol,
                "name": sym.name if sym else None,
                "quantity": qty,
                "available_quantity": qty - p.reserved_quantity,
                "avg_price": (2 * cost + qty) // (2 * qty) if qty else 0,
                "cost": cost,
                "market_price": px,
                "market_value": value,
                "unrealized_pnl": pnl,
                "return_percent": return_percent(pnl, cost),
            })
        cash, reserved = acc.cash, acc.reserved_cash
        today = self.today()
        d1 = add_business_days(today, 1).isoformat()
        pending = sorted((d, amount) for d, amount in self._pending.get(user_id, {}).items()
                         if d > today.isoformat() and amount)
        return {
            "account_id": f"paper-{user_id}",
            "currency": "KRW",
            "cash": cash,
            "deposit": cash - sum(a for _, a in pending),
            "deposit_d1": cash - sum(a for d, a in pending if d > d1),
            "deposit_d2": cash,
            "settlements": [{"date": d, "amount": a} for d, a in pending],
            "reserved_cash": reserved,
            "available_cash": cash - reserved,
            "positions": positions,
            "purchase_amount": purchase,
            "market_value": market_value,
            "unrealized_pnl": unrealized,
            "return_percent": return_percent(unrealized, purchase),
            "realized_pnl": acc.realized_pnl,
            "fees_paid": acc.fees_paid,
            "taxes_paid": acc.taxes_paid,
            "total_value": cash + market_value,
        }


def return_percent(pnl: int, cost: int) -> float:
    """수익률: ``pnl`` over ``cost`` in percent, to two decimals (0 with no cost)."""
    return round(pnl * 100 / cost, 2) if cost else 0.0
