"""The strategy kinds by name, and building one from untrusted parameters."""

from __future__ import annotations

from collections.abc import Mapping

from hts_realtime.domain.strategies.base import Strategy, StrategyParamsError
from hts_realtime.domain.strategies.breakout import Breakout
from hts_realtime.domain.strategies.ma_crossover import MaCrossover
from hts_realtime.domain.strategies.rsi import Rsi

_KINDS: dict[str, type[Strategy]] = {cls.kind: cls for cls in (MaCrossover, Rsi, Breakout)}

STRATEGY_KINDS: tuple[str, ...] = tuple(_KINDS)


def build_strategy(kind: str, params: Mapping[str, object]) -> Strategy:
    """Build a fresh strategy of ``kind`` from ``params`` (e.g. a decoded JSON object).

    Missing parameters take their defaults; unknown ones are refused rather
    than ignored, so a typo ("windw") is not silently replaced by a default.
    Types are strict: integers must be ints (not bools, floats or strings).
    Raises StrategyParamsError for an unknown kind or any bad parameter.
    """
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise StrategyParamsError(
            f"unknown strategy kind {kind!r}; expected one of {', '.join(STRATEGY_KINDS)}"
        )
    if not isinstance(params, Mapping):
        raise StrategyParamsError(
            f"params must be a mapping of parameter names to values, got {type(params).__name__}"
        )
    unknown = [key for key in params if key not in cls.DEFAULTS]
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise StrategyParamsError(
            f"unknown parameter {names} for {kind}; expected {', '.join(cls.DEFAULTS)}",
            str(unknown[0]),
        )
    return cls.from_params({**cls.DEFAULTS, **params})


def describe_kinds() -> dict[str, dict[str, object]]:
    """Each kind with its parameters and their defaults, for documentation and listings."""
    return {kind: dict(cls.DEFAULTS) for kind, cls in _KINDS.items()}
