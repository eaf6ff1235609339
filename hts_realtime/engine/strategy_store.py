"""Strategy runs on disk: the SQL for the ``strategies`` table.

Reads are async on the engine's store; writes are staged on the caller's
``Tx``, so they commit with the journal entry that reports them.
"""

from __future__ import annotations

import json

from hts_realtime.domain.strategy_run import StrategyRun
from hts_realtime.engine.group_commit import Tx
from hts_realtime.storage.store import Store


class StrategyStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def all(self) -> list[StrategyRun]:
        """Every stored run, oldest first."""
        return [
            StrategyRun(
                strategy_id=row["strategy_id"], user_id=row["user_id"], kind=row["kind"],
                symbol=row["symbol"], params=json.loads(row["params"]),
                quantity=int(row["quantity"]), auto_trade=bool(row["auto_trade"]),
                state=row["state"], created_at=row["created_at"], updated_at=row["updated_at"],
                reason=row["reason"], position=int(row["position"]), cost=int(row["cost"]),
                realized_pnl=int(row["realized_pnl"]),
            )
            for row in await self.store.fetch("SELECT * FROM strategies ORDER BY created_at")
        ]

    async def open_orders(self) -> dict[str, str]:
        """strategy id -> its open order's id."""
        rows = await self.store.fetch(
            "SELECT order_id, strategy_id FROM orders WHERE strategy_id IS NOT NULL "
            "AND status IN ('accepted', 'partially_filled')")
        return {r["strategy_id"]: r["order_id"] for r in rows}

    @staticmethod
    def insert(tx: Tx, run: StrategyRun) -> None:
        tx.execute(
            "INSERT INTO strategies (strategy_id, user_id, kind, symbol, params, quantity, "
            "auto_trade, state, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run.strategy_id, run.user_id, run.kind, run.symbol, json.dumps(run.params),
             run.quantity, int(run.auto_trade), run.state, run.created_at, run.updated_at),
        )

    @staticmethod
    def save(tx: Tx, run: StrategyRun) -> None:
        tx.execute(
            "UPDATE strategies SET state = ?, reason = ?, position = ?, cost = ?, "
            "realized_pnl = ?, updated_at = ? WHERE strategy_id = ?",
            (run.state, run.reason, run.position, run.cost, run.realized_pnl, run.updated_at,
             run.strategy_id),
        )

    @staticmethod
    def delete(tx: Tx, strategy_id: str) -> None:
        tx.execute("DELETE FROM strategies WHERE strategy_id = ?", (strategy_id,))
