"""Unexpected exceptions in request paths, logged so that no client can fill the disk.

Every request path (a REST handler, a Socket.IO or plain-WebSocket request, a
connect) turns an exception it did not expect into ``internal_error`` and reports
it here. Each one is counted; at most ``TRACEBACKS_BURST`` tracebacks get out at
once and ``TRACEBACKS_PER_SECOND`` after that, for the whole process; the rest
are counted (``suppressed``) and the count rides on the next line that gets out.
The audit's login body crashed 2,703 times in 5 s and wrote 9.6 MB of tracebacks;
under this budget the same flood writes one traceback a second.

One per process (``INTERNAL_ERRORS``): the HTTP middleware and both framings share it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from hts_realtime.domain.throttle import KeyedLimiter

TRACEBACKS_PER_SECOND = 1.0
TRACEBACKS_BURST = 5


class InternalErrors:
    def __init__(self, per_second: float = TRACEBACKS_PER_SECOND,
                 burst: int = TRACEBACKS_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._budget = KeyedLimiter(per_second, burst, max_keys=1, clock=clock)
        self.count = 0  # every unexpected exception reported
        self.suppressed = 0  # since the last traceback that got out

    def report(self, logger: logging.Logger, fmt: str, *args: Any) -> None:
        """Call from an ``except`` block: the traceback, if the budget allows."""
        self.count += 1
        if self._budget.take("") > 0:
            self.suppressed += 1
            return
        if self.suppressed:
            fmt += " (%d more since the last traceback, not shown)"
            args = (*args, self.suppressed)
            self.suppressed = 0
        logger.error(fmt, *args, exc_info=True)

    def status(self) -> dict[str, int]:
        return {"internal_errors": self.count}


INTERNAL_ERRORS = InternalErrors()
