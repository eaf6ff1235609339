"""``GET /api/ws/status``: one report, assembled from what each component reports.

Each component that has something to say exposes a ``status()`` (a dict, or an
awaitable of one, for what lives in another process); the report merges them in
the order the role lists them, nested dicts key by key. The same components
report in every role, so one process and a cluster answer with the same shape;
a cluster's gateway adds ``gateway`` and ``gateways`` and sums the sessions of
every gateway (``scope: "cluster"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

StatusSource = Callable[[], "dict[str, Any] | Awaitable[dict[str, Any]]"]


def merge_into(into: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """``part`` merged into ``into``: nested dicts key by key, anything else replaced."""
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge_into(into[key], value)
        else:
            into[key] = value
    return into


class StatusReport:
    def __init__(self, scope: str, sources: Sequence[StatusSource]) -> None:
        self.scope = scope
        self.sources = tuple(sources)

    async def build(self) -> dict[str, Any]:
        body: dict[str, Any] = {"scope": self.scope}
        for source in self.sources:
            part = source()
            if inspect.isawaitable(part):
                part = await part
            merge_into(body, part)
        return body
