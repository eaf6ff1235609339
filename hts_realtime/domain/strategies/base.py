"""What every trading strategy shares: sides, signals, parameter checks.

A strategy is a small state machine fed one traded price at a time
(``on_price``). It keeps bounded state (fixed-size windows, running sums),
so a strategy that runs for months uses the same memory as one that just
started. It never repeats a side: after a BUY the next signal it can emit
is a SELL, and the other way round, so a caller can treat every signal as
"change position" without de-duplicating.

Nothing here knows about the wire; ``StrategyParamsError`` is a
``ValueError`` that the transport maps to its own error code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

# One vocabulary for sides: a signal's side is the side of the order it leads to.
from hts_realtime.domain.orders import Side

__all__ = [
    "Side",
    "Signal",
    "Strategy",
    "StrategyParamsError",
    "check_int",
    "check_number",
]


@dataclass(frozen=True)
class Signal:
    side: Side
    reason: str  # for humans, e.g. "MA(5) crossed above MA(20)"


class StrategyParamsError(ValueError):
    """A strategy kind or parameter was refused; the message says which and why.

    ``param`` names the offending parameter (None for an unknown kind or a
    malformed parameter mapping).
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def check_int(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` if it is an int (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StrategyParamsError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}", name
        )
    if not low <= value <= high:
        raise StrategyParamsError(f"{name} must be between {low} and {high}, got {value}", name)
    return value


def check_number(name: str, value: object, low: float, high: float) -> int | float:
    """Return ``value`` if it is an int or float (not a bool) strictly inside ``(low, high)``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StrategyParamsError(
            f"{name} must be a number, got {type(value).__name__} {value!r}", name
        )
    if not low < value < high:  # also refuses NaN and infinities
        raise StrategyParamsError(
            f"{name} must be greater than {low} and less than {high}, got {value}", name
        )
    return value


class Strategy(ABC):
    """A trading rule fed one traded price at a time.

    Subclasses set ``kind`` and ``DEFAULTS`` (parameter name -> default, in
    the order they are documented), validate their parameters in
    ``__init__`` and implement ``_evaluate``. The base class refuses bad
    prices and suppresses a signal of the same side as the previous one.
    """

    kind: ClassVar[str]
    DEFAULTS: ClassVar[Mapping[str, int | float]]

    def __init__(self) -> None:
        self._last_side: Side | None = None

    @classmethod
    @abstractmethod
    def from_params(cls, params: Mapping[str, object]) -> Self:
        """Build from a complete mapping of ``DEFAULTS``' keys to unchecked values."""

    @abstractmethod
    def params(self) -> dict[str, int | float]:
        """The parameters in effect, keyed like ``DEFAULTS``."""

    @abstractmethod
    def _evaluate(self, price: int) -> Signal | None:
        """Update state with ``price``; return the rule's raw signal, if any."""

    def on_price(self, price: int) -> Signal | None:
        """Feed one traded price (integer KRW, > 0); return a signal or None.

        Raises TypeError for a non-integer (or bool) price and ValueError
        for a price that is not positive; state is unchanged then.
        """
        if isinstance(price, bool) or not isinstance(price, int):
            raise TypeError(f"price must be an integer, got {type(price).__name__} {price!r}")
        if price <= 0:
            raise ValueError(f"price must be positive, got {price}")
        signal = self._evaluate(price)
        if signal is None or signal.side is self._last_side:
            return None
        self._last_side = signal.side
        return signal

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params().items())
        return f"{type(self).__name__}({args})"
