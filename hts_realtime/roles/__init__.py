"""The roles: each composes an engine and/or an edge from ``Settings``, once.

``create_app`` is the one dispatch on ``settings.role``:

* ``single`` (``roles.single``): the engine and an edge in one process, the bus
  in memory (``make run``);
* ``engine`` (``roles.engine``): a cluster's one engine, with its own edge and
  Redis behind the ports;
* ``gateway`` (``roles.gateway``): a cluster's stateless edge in front of it.
"""

from __future__ import annotations

from aiohttp import web

from hts_realtime.settings import Settings


def create_app(settings: Settings) -> web.Application:
    if settings.role == "gateway":
        from hts_realtime.roles.gateway import create_gateway_app

        return create_gateway_app(settings)
    if settings.role == "engine":
        from hts_realtime.roles.engine import create_engine_app

        return create_engine_app(settings)
    from hts_realtime.roles.single import create_single_app

    return create_single_app(settings)
