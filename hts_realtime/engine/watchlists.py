"""Watchlists: each user's list of symbols, kept on the server.

Every tab and device of a user shows the same list. A user who never saved
one gets the first ``default_size`` symbols of the master. ``replace`` takes
the whole list (the client's order is kept): known symbols only, no
duplicates, at most ``max_symbols``. Last writer wins.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.group_commit import GroupCommit, Tx
from hts_realtime.protocol.errors import InvalidMessage, UnknownSymbol
from hts_realtime.storage.store import Store

DEFAULT_SIZE = 8


class WatchlistStore:
    def __init__(self, store: Store, commits: GroupCommit, master: SymbolMaster,
                 max_symbols: int, default_size: int = DEFAULT_SIZE) -> None:
        self.store = store
        self.commits = commits  # a save is a (fenced) work of the group commit
        self.master = master
        self.max_symbols = max_symbols
        self.default = [s.symbol for s in master][: min(default_size, max_symbols)]

    async def get(self, user_id: str) -> list[str]:
        row = await self.store.fetchrow(
            "SELECT symbols FROM watchlists WHERE user_id = ?", (user_id,))
        if row is None:
            return list(self.default)
        # a symbol dropped from the master since it was saved is left out, not an error
        return [s for s in json.loads(row["symbols"]) if s in self.master]

    async def replace(self, user_id: str, symbols: Sequence[str]) -> list[str]:
        if len(symbols) > self.max_symbols:
            raise InvalidMessage(f"a watchlist holds at most {self.max_symbols} symbols")
        seen: set[str] = set()
        for s in symbols:
            if s in seen:
                raise InvalidMessage(f"symbol {s!r} is listed twice")
            seen.add(s)
            if s not in self.master:
                raise UnknownSymbol(f"unknown symbol {s!r}")
        params = (user_id, json.dumps(list(symbols)), datetime.now(UTC).isoformat())

        def work(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO watchlists (user_id, symbols, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET symbols = excluded.symbols, "
                "updated_at = excluded.updated_at", params)

        await self.commits.run(work)
        return list(symbols)
