"""``hts-realtime feed record``: run the configured market feed alone, no server, and
write what it delivers (``engine.replay.Recorder``) for ``HTS_FEED=replay``.

With ``HTS_FEED=kis`` the recorded symbols are what the feed registers (their
체결 and 호가; keep them within the registration budget: two each), so a
recording of the real market is one command with an app key. The simulator
and a replay record the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
from datetime import datetime
from typing import IO

from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine import markets
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.replay import Recorder
from hts_realtime.ports import MarketDriver, MarketSource
from hts_realtime.settings import Settings, SettingsError

log = logging.getLogger("hts.record")


async def record(settings: Settings, out: str, seconds: float,
                 symbols: list[str] | None = None,
                 broker_feed: markets.FeedDriverFactory | None = None) -> int:
    """Record ``seconds`` of the feed to ``out``; returns the events written."""
    master = SymbolMaster()
    chosen = symbols or [s.symbol for s in master][:5]
    unknown = [s for s in chosen if s not in master]
    if unknown:
        raise SettingsError(f"not in the symbol master: {', '.join(unknown)}")
    market: MarketSource
    driver: MarketDriver | None = None
    if settings.feed == "sim":
        market = MarketSimulator(master, seed=settings.market_seed,
                                 hours=MarketHours(settings.market_hours))
    else:
        external = markets.external_market(settings, master)
        market = external

        async def demand() -> dict[str, int]:  # the recorded symbols, prints and books
            return {f"{kind}:{s}": 1 for s in chosen for kind in ("price", "orderbook")}

        driver = markets.driver(settings, external, master, demand, lambda: (),
                                lambda symbol, payload: None, lambda: datetime.now(KST),
                                broker_feed)
    with open_out(out) as handle:  # a CLI tool: a blocking open here costs nothing
        recorder = Recorder(market, handle, chosen, settings.feed)
        feed = MarketFeed(market, settings.market_tick_seconds, stages=[recorder.on_quotes],
                          on_status=[])
        tasks = [asyncio.create_task(feed.run(), name="market-feed")]
        if driver is not None:
            tasks.append(asyncio.create_task(driver.run(), name="market-driver"))
        started = time.monotonic()
        try:
            await asyncio.sleep(seconds)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        log.info("recorded %d events in %.1f s", recorder.events, time.monotonic() - started)
        return recorder.events


def open_out(path: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, "wt", encoding="utf-8")
    return open(path, "w", encoding="utf-8")
