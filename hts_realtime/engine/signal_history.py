"""Each strategy's recent signals, so a strategy card shows them after a reload.

Written in the same transaction as the ``strategy_signal`` journal entry, under
its seq; kept apart from the journal (whose retention counts a user's whole
stream) and trimmed to the newest ``keep`` per strategy.
"""

from __future__ import annotations

import json
from typing import Any

from hts_realtime.engine.group_commit import Tx
from hts_realtime.storage.store import Store


class SignalHistory:
    def __init__(self, store: Store, keep: int) -> None:
        self.store = store
        self.keep = keep

    def record(self, tx: Tx, strategy_id: str, seq: int,
               data: dict[str, Any]) -> None:
        """Within the caller's transaction."""
        tx.execute(
            "INSERT INTO strategy_signals (strategy_id, seq, data) VALUES (?, ?, ?)",
            (strategy_id, seq, json.dumps(data, separators=(",", ":"), ensure_ascii=False)),
        )
        tx.execute(
            "DELETE FROM strategy_signals WHERE strategy_id = ? AND seq <= ("
            "SELECT seq FROM strategy_signals WHERE strategy_id = ? "
            "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            (strategy_id, strategy_id, self.keep),
        )

    async def recent(self, strategy_id: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` signals, newest first, each with its ``seq``."""
        rows = await self.store.fetch(
            "SELECT seq, data FROM strategy_signals WHERE strategy_id = ? "
            "ORDER BY seq DESC LIMIT ?",
            (strategy_id, limit),
        )
        return [{"seq": int(r["seq"]), **json.loads(r["data"])} for r in rows]

    def forget(self, tx: Tx, strategy_id: str) -> None:
        tx.execute("DELETE FROM strategy_signals WHERE strategy_id = ?", (strategy_id,))
