"""``HTS_FEED=kis``: the KIS session that keeps the engine's ``ExternalMarket`` fed
(an ``engine.markets.FeedDriverFactory``; the roles hand it to the engine)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from hts_realtime.adapters.kis import config
from hts_realtime.adapters.kis.feed import KisFeed
from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.markets import FeedStatusSink
from hts_realtime.engine.payloads import feed_status
from hts_realtime.ports import MarketDemand, MarketDriver
from hts_realtime.settings import Settings


def kis_driver(settings: Settings, market: ExternalMarket, master: SymbolMaster,
               demand: MarketDemand, engine_needs: Callable[[], Iterable[str]],
               publish: FeedStatusSink, now: Callable[[], datetime]) -> MarketDriver:
    options = config.options(settings)

    def on_state(symbol: str, state: str) -> None:
        publish(symbol, feed_status(symbol, state, options.snapshot_interval, now()))

    return KisFeed(market, [s.symbol for s in master], config.credentials(settings),
                   options, demand, engine_needs, on_state)
