"""``HTS_FEED``: which market the engine trades against, and what keeps it fed.

* ``sim`` (the default): the seeded simulator (``domain.market``); no driver.
* ``kis``: an ``ExternalMarket`` fed by one KIS Open API session
  (``adapters.kis.driver``, handed in by the role), driven by client demand.
* ``replay``: an ``ExternalMarket`` fed by a recording (``engine.replay``).

Everything above the ``MarketSource`` port — the broker, strategies, candles,
streamers, the edge — is the same for the three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.market_hours import MarketHours
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.ports import MarketDemand, MarketDriver
from hts_realtime.settings import Settings, SettingsError

FeedStatusSink = Callable[[str, dict[str, object]], None]  # (symbol, feed_status payload)


def external_hours(settings: Settings) -> MarketHours:
    """A real market keeps exchange hours: ``always`` (the simulator's demo default)
    reads as ``krx`` for it; a window or ``krx`` stays as set."""
    return MarketHours("krx" if settings.market_hours == "always" else settings.market_hours,
                       settings.market_clock_offset_seconds)


def external_market(settings: Settings, master: SymbolMaster) -> ExternalMarket:
    symbols = [s.symbol for s in master]
    if settings.feed == "replay":
        from hts_realtime.engine.replay import Recording, ReplayMarket

        return ReplayMarket(symbols, external_hours(settings),
                            Recording.open(settings.replay_file or ""),
                            tick=settings.market_tick_seconds, speed=settings.replay_speed,
                            loop=settings.replay_loop)
    return ExternalMarket(symbols, external_hours(settings))


class FeedDriverFactory(Protocol):
    """What keeps an ``ExternalMarket`` fed by a broker (``HTS_FEED=kis``): made by the
    role that composes the engine (``adapters.kis.driver``), so the engine imports no
    adapter."""

    def __call__(self, settings: Settings, market: ExternalMarket, master: SymbolMaster,
                 demand: MarketDemand, engine_needs: Callable[[], Iterable[str]],
                 publish: FeedStatusSink, now: Callable[[], datetime]) -> MarketDriver: ...


def driver(settings: Settings, market: ExternalMarket, master: SymbolMaster,
           demand: MarketDemand, engine_needs: Callable[[], Iterable[str]],
           publish: FeedStatusSink, now: Callable[[], datetime],
           broker_feed: FeedDriverFactory | None) -> MarketDriver:
    """What keeps ``market`` fed for ``settings.feed``: ``broker_feed`` for kis, the
    replayer for a recording."""
    if settings.feed == "kis":
        if broker_feed is None:
            raise SettingsError("HTS_FEED=kis: this command has no broker feed")
        return broker_feed(settings, market, master, demand, engine_needs, publish, now)
    from hts_realtime.engine.replay import Replayer, ReplayMarket

    assert isinstance(market, ReplayMarket)
    return Replayer(market, start_delay=settings.replay_start_delay_seconds)
