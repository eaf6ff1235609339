"""What the two roles that hold the engine share: its REST API and its status."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hts_realtime.adapters.journal_event_log import JournalLog
from hts_realtime.adapters.local_engine import LocalEngine
from hts_realtime.edge.build import Edge, EdgeParts, Routes, build_edge
from hts_realtime.edge.http.auth_routes import AuthRoutes
from hts_realtime.edge.http.common import Callers
from hts_realtime.edge.http.market import MarketRoutes
from hts_realtime.edge.http.orders import OrderRoutes
from hts_realtime.edge.http.spec import SpecRoutes
from hts_realtime.edge.http.strategies import StrategyRoutes
from hts_realtime.edge.http.watchlist import WatchlistRoutes
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.status import StatusReport, merge_into
from hts_realtime.engine.build import Engine
from hts_realtime.identity.auth import SignatureOnly
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ops.readiness import Check
from hts_realtime.ports import Bus
from hts_realtime.settings import Settings


def local_edge(settings: Settings, engine: Engine, metrics: Metrics, registry: SessionRegistry,
               bus: Bus, checks: dict[str, Check]) -> Edge:
    """The edge in front of an engine in this process: private events straight from
    its event bus, the journal for replays, a topic's first subscriber here starts
    that kind's lazy streamer."""
    engine.add_gauges(metrics)
    return build_edge(settings, EdgeParts(
        metrics=metrics,
        registry=registry,
        auth=SignatureOnly(engine.tokens),  # the store's check: LocalEngine.confirm
        engine=LocalEngine(engine.master, engine.market, engine.broker, engine.strategies,
                           engine.auth),
        bus=bus,
        event_log=JournalLog(engine.journal),
        master=engine.master,
        local_events=engine.events,
        on_interest=lambda topic: engine.streams.joined(topic.kind, topic.key),
        checks={**engine.readiness_checks(), **checks},
    ))


def engine_api(settings: Settings, engine: Engine, edge: Edge) -> tuple[list[Routes], Callers]:
    """The engine's REST routes, and who calls them (whose status is reported)."""
    callers = Callers(engine.auth, engine.writes)
    routes: Sequence[Routes] = [
        AuthRoutes(callers, engine.tokens, engine.logins, engine.refresh, engine.watcher),
        OrderRoutes(callers, engine.broker, edge.metrics),
        StrategyRoutes(callers, engine.strategies, settings.strategy_signal_history),
        MarketRoutes(engine.master, engine.market, engine.candles, engine.hours.mode,
                     engine.costs(), engine.streams.recent),
        WatchlistRoutes(callers, engine.watchlists),
        SpecRoutes(edge.core.request_schemas, f"{settings.host}:{settings.port}"),
    ]
    return list(routes), callers


def engine_report(engine: Engine, callers: Callers) -> Callable[[], dict[str, Any]]:
    """The engine's part of a status report (its own process's, or a gateway's cluster
    report through ``/internal/status``): the engine, and its REST callers' budget."""
    return lambda: merge_into(engine.status(), callers.status())


def process_status(engine: Engine, edge: Edge, callers: Callers,
                   *more: Callable[[], dict[str, Any]]) -> StatusReport:
    """``GET /api/ws/status`` of a process that holds the engine."""
    return StatusReport("process", [*edge.status_sources(), engine_report(engine, callers),
                                    *more])


def merged(*parts: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """One report of several parts (later keys win)."""
    def report() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in parts:
            out.update(part())
        return out
    return report
