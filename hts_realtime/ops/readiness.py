"""Readiness: ``GET /readyz`` answers 200 only when every registered check passes.

A check is a small async callable returning ``None`` when its dependency is
ready, or a short reason when it is not. The composition root registers the
database and the market feed; a scale-out backend (Redis) adds its own with
``Readiness.add``. ``/healthz`` stays a liveness probe ("the process serves
HTTP"); ``/readyz`` tells a load balancer whether to send clients here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("hts.readiness")

Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT_SECONDS = 2.0


class Readiness:
    def __init__(self, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._checks: list[tuple[str, Check]] = []

    def add(self, name: str, check: Check) -> None:
        self._checks.append((name, check))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._checks]

    async def report(self) -> tuple[bool, dict[str, str]]:
        """``(ready, {check: "ok" | reason})``; checks run concurrently, each bounded."""
        results = await asyncio.gather(*(self._run(name, check) for name, check in self._checks))
        report = dict(zip(self.names, results, strict=True))
        return all(r == "ok" for r in results), report

    async def _run(self, name: str, check: Check) -> str:
        try:
            reason = await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            reason = f"no answer within {self.timeout:g}s"
        except Exception as exc:  # a failing dependency is "not ready", never a 500
            log.warning("readiness check %s failed: %s", name, exc)
            reason = f"{type(exc).__name__}: {exc}"[:200]
        return "ok" if reason is None else reason
