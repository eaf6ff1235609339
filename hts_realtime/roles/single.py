"""``serve``: the whole product in one process (the embedded default of ``make run``).

The engine and one edge, with the in-memory bus between them: everything the
cluster does travels the same ports here, in memory.
"""

from __future__ import annotations

from aiohttp import web

from hts_realtime.adapters.kis.driver import kis_driver
from hts_realtime.adapters.memory_bus import MemoryBus
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.engine.build import build_engine
from hts_realtime.ops.metrics import Metrics
from hts_realtime.roles.local import engine_api, local_edge, process_status
from hts_realtime.settings import Settings


def create_single_app(settings: Settings) -> web.Application:
    metrics = Metrics()
    registry = SessionRegistry()
    bus = MemoryBus()
    # the streamers watch what this process's clients watch
    async def demand() -> dict[str, int]:  # a real feed registers what these clients hold
        return registry.market_demand()

    engine = build_engine(settings, metrics=metrics, bus=bus, stream_log=None,
                          watched=registry.subscribed_symbols, demand=demand,
                          broker_feed=kis_driver)
    edge = local_edge(settings, engine, metrics, registry, bus, checks={})
    api, callers = engine_api(settings, engine, edge)
    return edge.application(api=api, status=process_status(engine, edge, callers),
                            lifecycles=[engine.lifecycle])
