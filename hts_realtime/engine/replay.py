"""Record what a feed delivers; replay it as a market, deterministically.

**A recording** is JSON Lines (gzip when the name ends in ``.gz``): a header,
then one event per line, each at ``t`` seconds after the recording began:

```
{"format": "hts-feed-recording", "version": 1, "source": "kis", "symbols": [...], ...}
{"t": 0.0, "k": "quote", "s": "005930", "p": 75000, "o": 74800, "h": 75200, "l": 74700,
 "pc": 74900, "v": 1234567}
{"t": 0.5, "k": "trade", "s": "005930", "p": 75100, "q": 10, "side": "buy", "v": 1234577,
 "o": 74800, "h": 75200, "l": 74700, "pc": 74900}
{"t": 0.5, "k": "book", "s": "005930", "a": [[75100, 320], ...], "b": [[75000, 510], ...]}
{"t": 3.0, "k": "status", "status": "open"}
```

``Recorder`` writes one: it is a stage of the market feed (it sees each
step's prints, the books that changed and the session), so it records the
simulator, a KIS session or another replay alike (``hts-realtime feed record``).

**A replay** (``HTS_FEED=replay``) is an ``ExternalMarket`` whose ``step``
first applies the recording's events up to its own clock. That clock moves by
exactly ``tick × speed`` per step, never by the wall clock, so the same file
gives the same prints, books and fills in the same steps on any machine and
under any load; only how long a step takes in wall time varies. Replayed
prints carry the step's time (the recording's relative times, shifted to now),
so candles and the dashboard see a live market.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus
from hts_realtime.domain.orderbook import Trade
from hts_realtime.domain.orders import Side
from hts_realtime.ports import MarketSource
from hts_realtime.settings import SettingsError

log = logging.getLogger("hts.replay")

FORMAT = "hts-feed-recording"
MAX_EVENTS = 5_000_000  # a recording is read whole; beyond this it is refused, not swapped
KINDS = ("quote", "trade", "book", "status")


@dataclass(frozen=True, slots=True)
class Event:
    t: float
    kind: str
    data: dict[str, Any]


class Recording:
    def __init__(self, header: dict[str, Any], events: list[Event]) -> None:
        self.header = header
        self.events = events

    @property
    def duration(self) -> float:
        return self.events[-1].t if self.events else 0.0

    @classmethod
    def open(cls, path: str) -> Recording:
        """Read and check a whole recording; a bad one is a ``SettingsError`` naming the
        file and the line."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise SettingsError(f"HTS_REPLAY_FILE {path}: {exc.strerror}") from None
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise SettingsError(f"HTS_REPLAY_FILE {path}: {exc}") from None
        return cls.parse(io.StringIO(raw.decode("utf-8", errors="replace")), path)

    @classmethod
    def parse(cls, lines: IO[str], name: str = "recording") -> Recording:
        header: dict[str, Any] | None = None
        events: list[Event] = []
        last_t = 0.0
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if header is None:
                    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
                        raise ValueError(f"not an {FORMAT} (no header)")
                    header = obj
                    continue
                t, kind = float(obj["t"]), str(obj["k"])
                if kind not in KINDS or t < last_t:
                    raise ValueError(f"kind {kind!r} or time {t} out of order")
                events.append(Event(t, kind, obj))
                last_t = t
            except (ValueError, KeyError, TypeError) as exc:
                raise SettingsError(f"{name}, line {n}: {exc}") from None
            if len(events) > MAX_EVENTS:
                raise SettingsError(f"{name}: more than {MAX_EVENTS} events")
        if header is None:
            raise SettingsError(f"{name}: empty")
        return cls(header, events)


class ReplayMarket(ExternalMarket):
    """An ``ExternalMarket`` stepped through a recording at ``tick × speed`` per step."""

    def __init__(self, symbols: list[str], hours: MarketHours, recording: Recording,
                 tick: float, speed: float = 1.0, loop: bool = False) -> None:
        super().__init__(symbols, hours)
        self.recording = recording
        self.quantum = tick * speed
        self.loop = loop
        self.position = 0.0  # recording seconds replayed so far
        self.held = True  # the replayer's start delay: steps apply nothing until released
        self.applied = 0
        self.skipped = 0  # events for symbols this server does not list
        self.loops = 0
        self._next = 0
        self.finished = False
        self._prime(datetime.now(KST))

    def _prime(self, now: datetime) -> None:
        """Each symbol's starting figures (its first ``quote``) and the opening session,
        before the tape runs: prices are known while the replayer holds the tape."""
        primed: set[str] = set()
        for ev in self.recording.events:
            if ev.kind == "quote" and ev.data["s"] not in primed:
                primed.add(str(ev.data["s"]))
                self._apply(ev, now)
            elif ev.kind == "status" and ev.t == 0.0:
                self._apply(ev, now)
        self.applied = 0

    def step(self, now: datetime) -> list[Quote]:
        if not self.held and not self.finished:
            self.position += self.quantum
            self._apply_until(self.position, now)
        return super().step(now)

    def _apply_until(self, position: float, now: datetime) -> None:
        events = self.recording.events
        while self._next < len(events) and events[self._next].t <= position:
            self._apply(events[self._next], now)
            self._next += 1
        if self._next < len(events):
            return
        if self.loop and events:  # the next step starts the recording over
            self.loops += 1
            self._next = 0
            self.position = -self.quantum
        else:
            self.finished = True
            log.info("replay finished after %.1f s of recording", position)

    def _apply(self, ev: Event, now: datetime) -> None:
        d = ev.data
        if ev.kind == "status":
            self.set_status(MarketStatus(d["status"]))
            self.applied += 1
            return
        symbol = str(d["s"])
        if not self.known(symbol):
            self.skipped += 1
            return
        if ev.kind == "trade":
            side = Side(d["side"])
            self.print_trade(symbol, Trade(symbol, int(d["p"]), int(d["q"]), side, int(d["v"]),
                                           now),
                             open=int(d["o"]), high=int(d["h"]), low=int(d["l"]),
                             prev_close=int(d["pc"]))
        elif ev.kind == "quote":
            self.set_quote(symbol, int(d["p"]), open=int(d["o"]), high=int(d["h"]),
                           low=int(d["l"]), prev_close=int(d["pc"]), volume=int(d["v"]),
                           at=now)
        elif ev.kind == "book":
            self.set_book(symbol, [(int(p), int(q)) for p, q in d["a"]],
                          [(int(p), int(q)) for p, q in d["b"]], now)
        self.applied += 1


class Replayer:
    """The replay's ``MarketDriver``: holds the tape for ``start_delay`` seconds (so a
    demo's or a test's clients can connect first), then lets the steps run it."""

    def __init__(self, market: ReplayMarket, start_delay: float = 0.0) -> None:
        self.market = market
        self.start_delay = start_delay

    async def run(self) -> None:
        import asyncio

        await asyncio.sleep(self.start_delay)
        self.market.held = False
        log.info("replay started (%d events, %.1f s of recording, %.4f s per step)",
                 len(self.market.recording.events), self.market.recording.duration,
                 self.market.quantum)
        await asyncio.Event().wait()

    def status(self) -> dict[str, Any]:
        m = self.market
        return {"source": "replay", "connected": not m.finished, "position_seconds":
                round(m.position, 3), "duration_seconds": round(m.recording.duration, 3),
                "events_applied": m.applied, "events_skipped": m.skipped, "loops": m.loops,
                "finished": m.finished, "held": m.held,
                "recorded_from": m.recording.header.get("source")}

    def stalled_reason(self) -> str | None:
        return None

    def feed_state(self, symbol: str) -> str:
        return "live"


class Recorder:
    """A market-feed stage that writes what each step delivered."""

    def __init__(self, market: MarketSource, out: IO[str], symbols: list[str],
                 source: str, clock: Any = time.monotonic) -> None:
        self.market = market
        self.out = out
        self.symbols = symbols
        self.clock = clock
        self.start = clock()
        self.events = 0
        self._versions: dict[str, int] = {}
        self._status: MarketStatus | None = None
        self._quoted: set[str] = set()
        self._write({"format": FORMAT, "version": 1, "source": source, "symbols": symbols,
                     "started_at": datetime.now(KST).isoformat()})

    def _write(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")

    def _event(self, kind: str, **fields: Any) -> None:
        self._write({"t": round(self.clock() - self.start, 3), "k": kind, **fields})
        self.events += 1

    def on_quotes(self, quotes: list[Quote]) -> None:
        now = datetime.now(KST)
        status = self.market.status(now)
        if status is not self._status:
            self._status = status
            self._event("status", status=status.value)
        stepped = {q.symbol: q for q in quotes}
        for symbol in self.symbols:  # where each symbol stood before its first recorded print
            q = self.market.quote(symbol)
            if q is not None and symbol not in self._quoted:
                self._quoted.add(symbol)
                first = stepped[symbol].trades[0] if symbol in stepped and \
                    stepped[symbol].trades else None
                self._event("quote", s=symbol, p=first.price if first else q.price,
                            o=q.open, h=q.high, l=q.low, pc=q.prev_close,
                            v=first.volume - first.quantity if first else q.volume)
        wanted = set(self.symbols)
        for q in quotes:
            if q.symbol not in wanted:
                continue
            for t in q.trades:
                self._event("trade", s=q.symbol, p=t.price, q=t.quantity, side=t.side.value,
                            v=t.volume, o=q.open, h=q.high, l=q.low, pc=q.prev_close)
        for symbol in self.symbols:
            version = self.market.book_version(symbol)
            if version == self._versions.get(symbol):
                continue
            self._versions[symbol] = version
            book = self.market.book(symbol)
            if book is not None:
                self._event("book", s=symbol, a=[[lv.price, lv.quantity] for lv in book.asks],
                            b=[[lv.price, lv.quantity] for lv in book.bids])
