"""The live candles: every trade folded into its 1m, 5m, 1h and 1d candle, flushed
to ``CandleStorage`` (``engine.candle_store``) every ``candle_flush_seconds``, in a
work of the group commit (so a leader that lost its lease writes none)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hts_realtime.domain.candles import INTERVALS, Candle, bucket, c_key
from hts_realtime.domain.market import Quote
from hts_realtime.domain.orderbook import Trade
from hts_realtime.engine.group_commit import GroupCommit, Tx
from hts_realtime.ports import CandleStorage

FLUSH_CHUNK = 2000  # candles per transaction


class CandleBook:
    def __init__(self, store: CandleStorage, commits: GroupCommit,
                 symbols: Iterable[str]) -> None:
        self.store = store
        self.commits = commits
        self.symbols = list(symbols)
        self._live: dict[tuple[str, str], Candle] = {}
        self._dirty: dict[tuple[str, str, int], Candle] = {}

    async def load(self) -> None:
        """The newest stored candle of each symbol and interval, to continue from (at
        start, and when this engine takes the lead); unflushed changes are dropped."""
        latest = await self.store.latest(self.symbols, INTERVALS)
        self._live = {c_key(c): c for c in latest}
        self._dirty = {}

    def on_quotes(self, quotes: list[Quote]) -> None:
        """Market-feed listener: fold each step's trades in."""
        for q in quotes:
            for t in q.trades:
                self.add(t)

    def add(self, trade: Trade) -> None:
        epoch = int(trade.timestamp.timestamp())
        for interval, seconds in INTERVALS.items():
            start = bucket(epoch, seconds)
            key = (trade.symbol, interval)
            c = self._live.get(key)
            if c is None or c.start != start:
                if c is not None and c.start > start:
                    continue  # a clock step backwards: never rewrite a later candle
                c = Candle(trade.symbol, interval, start, trade.price, trade.price,
                           trade.price, trade.price, 0)
                self._live[key] = c
            c.add(trade.price, trade.quantity)
            self._dirty[(trade.symbol, interval, start)] = c

    def add_candles(self, candles: Iterable[Candle]) -> None:
        """Seeded history: whole candles, written at the next flush."""
        for c in candles:
            live = self._live.get(c_key(c))
            if live is None or live.start <= c.start:
                self._live[c_key(c)] = c
            self._dirty[(c.symbol, c.interval, c.start)] = c

    async def flush(self, chunk: int = FLUSH_CHUNK) -> int:
        """Write what changed since the last flush, ``chunk`` candles per transaction (a
        fresh database's seeded history is large: the lease's renewals, on the same
        writer, go between the chunks); returns how many candles."""
        if not self._dirty:
            return 0
        dirty, self._dirty = self._dirty, {}
        items = list(dirty.items())
        written = 0
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            writes = self.store.writes([c for _, c in part])

            def work(tx: Tx, writes: list[tuple[str, Sequence[Any]]] = writes) -> None:
                for sql, params in writes:
                    tx.execute(sql, params)

            try:
                await self.commits.run(work)
            except BaseException:
                # this part and the rest were not written: keep them for the next flush
                # (newer changes win)
                rest = dict(items[start:])
                rest.update(self._dirty)
                self._dirty = rest
                raise
            written += len(part)
        return written

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The latest ``limit`` candles, oldest first, the live one last."""
        rows = {c.start: c for c in await self.store.read(symbol, interval, limit)}
        for (sym, iv, start), c in self._dirty.items():
            if sym == symbol and iv == interval:
                rows[start] = c
        return [rows[s] for s in sorted(rows)[-limit:]]
