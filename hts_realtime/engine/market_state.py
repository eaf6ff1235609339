"""Where the simulated market stands, kept in the database so prices continue.

Each market step's traded symbols write their day so far (previous close,
open, high, low, last price, volume: a ``DayState``) to ``market_state``, in a
work of the group commit, so it is fenced like every other write of the
leader. A restarted engine, or a standby that takes the lead, builds its
simulator from these rows (``Engine.load``): prices go on from the last step
the old leader committed, not from a fresh simulation. The order book is
quoted anew around that price; the candles keep the history.
"""

from __future__ import annotations

import json
import time
from datetime import date

from hts_realtime.domain.market import DayState, Quote
from hts_realtime.domain.market_hours import KST
from hts_realtime.engine.group_commit import GroupCommit, Tx
from hts_realtime.storage.store import Store

_UPSERT = ("INSERT INTO market_state (symbol, state, updated_at) VALUES (?, ?, ?) "
           "ON CONFLICT (symbol) DO UPDATE SET state = excluded.state, "
           "updated_at = excluded.updated_at")


def encode(q: Quote) -> str:
    return json.dumps({"day": q.timestamp.astimezone(KST).date().isoformat(),
                       "prev_close": q.prev_close, "open": q.open, "high": q.high,
                       "low": q.low, "close": q.price, "volume": q.volume},
                      separators=(",", ":"))


def decode(text: str) -> DayState:
    d = json.loads(text)
    return DayState(date.fromisoformat(d["day"]), int(d["prev_close"]), int(d["open"]),
                    int(d["high"]), int(d["low"]), int(d["close"]), int(d["volume"]))


class MarketState:
    def __init__(self, store: Store, commits: GroupCommit) -> None:
        self.store = store
        self.commits = commits
        self.written = 0

    def on_quotes(self, quotes: list[Quote]) -> None:
        """A market-feed stage: this step's traded symbols, queued for the next commit."""
        if not quotes:
            return
        at = int(time.time() * 1000)
        rows = [(q.symbol, encode(q), at) for q in quotes]

        def work(tx: Tx) -> None:
            for row in rows:
                tx.execute(_UPSERT, row)
            tx.on_commit(self._count)

        self.commits.submit(work)

    def _count(self) -> None:
        self.written += 1

    async def load(self) -> dict[str, DayState]:
        """Each stored symbol's day (a row that no longer decodes is left out)."""
        out: dict[str, DayState] = {}
        for row in await self.store.fetch("SELECT symbol, state FROM market_state"):
            try:
                out[str(row["symbol"])] = decode(str(row["state"]))
            except (ValueError, KeyError, TypeError):
                continue
        return out
