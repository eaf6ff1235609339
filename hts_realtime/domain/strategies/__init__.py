"""Trading-strategy rules: plain Python state machines fed one price at a time.

Build one by name with ``build_strategy(kind, params)``; feed it prices
with ``on_price``; it answers with a ``Signal`` (side and reason) or None.
"""

from hts_realtime.domain.orders import Side
from hts_realtime.domain.strategies.base import Signal, Strategy, StrategyParamsError
from hts_realtime.domain.strategies.breakout import Breakout
from hts_realtime.domain.strategies.ma_crossover import MaCrossover
from hts_realtime.domain.strategies.registry import STRATEGY_KINDS, build_strategy, describe_kinds
from hts_realtime.domain.strategies.rsi import Rsi

__all__ = [
    "STRATEGY_KINDS",
    "Breakout",
    "MaCrossover",
    "Rsi",
    "Side",
    "Signal",
    "Strategy",
    "StrategyParamsError",
    "build_strategy",
    "describe_kinds",
]
