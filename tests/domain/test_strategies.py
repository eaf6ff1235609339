"""Strategy rules: exact signals on hand-checked series, parameter checks, memory."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence, Sized

import pytest

from hts_realtime.domain.orders import Side
from hts_realtime.domain.strategies.base import Signal, Strategy, StrategyParamsError
from hts_realtime.domain.strategies.breakout import Breakout
from hts_realtime.domain.strategies.ma_crossover import MaCrossover
from hts_realtime.domain.strategies.registry import STRATEGY_KINDS, build_strategy, describe_kinds
from hts_realtime.domain.strategies.rsi import Rsi

BUY, SELL = Side.BUY, Side.SELL


def run(strategy: Strategy, prices: Sequence[int]) -> list[tuple[int, Side]]:
    """Feed ``prices``; return (index, side) of every signal."""
    out: list[tuple[int, Side]] = []
    for i, price in enumerate(prices):
        signal = strategy.on_price(price)
        if signal is not None:
            out.append((i, signal.side))
    return out


# --- moving-average crossover -------------------------------------------------


def test_ma_crossover_signals_at_exact_indices() -> None:
    # short=2, long=3. Compare short_sum*3 with long_sum*2.
    # i=2 [10,10,10]: 20*3=60 vs 30*2=60 -> equal; first comparison, state only
    # i=3 13: short 10+13=23 ->69, long 10+10+13=33 ->66: above, from equal -> BUY
    # i=4 13: short 26 ->78, long 36 ->72: still above
    # i=5  7: short 20 ->60, long 13+13+7=33 ->66: below -> SELL
    # i=6  7: short 14 ->42, long 27 ->54: below
    # i=7 10: short 17 ->51, long 7+7+10=24 ->48: above -> BUY
    # i=8 10: short 20 ->60, long 27 ->54: above
    prices = [10, 10, 10, 13, 13, 7, 7, 10, 10]
    assert run(MaCrossover(2, 3), prices) == [(3, BUY), (5, SELL), (7, BUY)]


def test_ma_crossover_reason_names_the_windows() -> None:
    strategy = MaCrossover(2, 3)
    signals = [strategy.on_price(p) for p in [10, 10, 10, 13, 13, 7]]
    assert signals[3] == Signal(BUY, "MA(2) crossed above MA(3)")
    assert signals[5] == Signal(SELL, "MA(2) crossed below MA(3)")


def test_ma_crossover_first_full_comparison_only_sets_state() -> None:
    # short=2, long=3. i=1: only 2 prices (short window full, long not) -> nothing.
    # i=2 [10,10,20]: short 30*3=90 > long 40*2=80 -> above, but no previous comparison.
    # i=3 20: short 40*3=120 > long 50*2=100 -> still above: no crossing.
    assert run(MaCrossover(2, 3), [10, 10, 20, 20]) == []


def test_ma_crossover_compares_exactly_not_in_floats() -> None:
    big = 10**17
    # i=2 [P,P,P]: equal. i=3 P+1: short (2P+1)*3 = 6P+3 vs long (3P+1)*2 = 6P+2 -> above: BUY.
    # In floats (2P+1)/2 and (3P+1)/3 both round to P (ulp is 16 there): no signal.
    assert run(MaCrossover(2, 3), [big, big, big, big + 1]) == [(3, BUY)]


# --- RSI -----------------------------------------------------------------------


def test_rsi_signals_at_exact_indices() -> None:
    # period=2, oversold=30, overbought=70; RSI = 100*G/(G+L).
    # i=0 100; i=1 98 (-2); i=2 96 (-2): seed G=0, L=2 -> RSI 0 (state)
    # i=3 100 (+4): G=(0+4)/2=2, L=(2+0)/2=1 -> 66.67; from <30 to >=30 -> BUY
    # i=4 104 (+4): G=3, L=0.5 -> 85.71
    # i=5 108 (+4): G=3.5, L=0.25 -> 93.33
    # i=6 104 (-4): G=1.75, L=2.125 -> 45.16; from >70 to <=70 -> SELL
    # i=7 100 (-4): G=0.875, L=3.0625 -> 22.22
    # i=8  96 (-4): G=0.4375, L=3.53125 -> 11.02
    # i=9 106 (+10): G=5.21875, L=1.765625 -> 74.72; from <30 -> BUY
    # i=10 106 (0): G=2.609375, L=0.8828125 -> 74.72
    # i=11 100 (-6): G=1.3046875, L=3.44140625 -> 27.49; from >70 -> SELL
    prices = [100, 98, 96, 100, 104, 108, 104, 100, 96, 106, 106, 100]
    strategy = Rsi(period=2, oversold=30, overbought=70)
    assert run(strategy, prices) == [(3, BUY), (6, SELL), (9, BUY), (11, SELL)]
    assert strategy.rsi == pytest.approx(100 * 1.3046875 / (1.3046875 + 3.44140625))


def test_rsi_values_follow_wilder_smoothing() -> None:
    strategy = Rsi(period=2)
    expected = [None, None, 0.0, 200 / 3, 600 / 7]  # see the previous test, i=0..4
    for price, rsi in zip([100, 98, 96, 100, 104], expected, strict=True):
        strategy.on_price(price)
        assert strategy.rsi == (None if rsi is None else pytest.approx(rsi))


def test_rsi_landing_exactly_on_a_threshold_counts_as_crossing() -> None:
    # period=2, oversold=20, overbought=50; values chosen so RSI is exact in floats.
    # BUY: 100, 96 (-4), 92 (-4): G=0, L=4 -> RSI 0.
    #      93 (+1): G=(0+1)/2=0.5, L=(4+0)/2=2 -> 100 - 100/1.25 = 20 exactly -> BUY
    up = Rsi(period=2, oversold=20, overbought=50)
    assert run(up, [100, 96, 92, 93]) == [(3, BUY)]
    assert up.rsi == 20.0
    # SELL: 100, 102 (+2), 104 (+2): G=2, L=0 -> RSI 100.
    #       102 (-2): G=(2+0)/2=1, L=(0+2)/2=1 -> 100 - 100/2 = 50 exactly -> SELL
    down = Rsi(period=2, oversold=20, overbought=50)
    assert run(down, [100, 102, 104, 102]) == [(3, SELL)]
    assert down.rsi == 50.0


def test_rsi_does_not_repeat_a_buy() -> None:
    # period=2. i=2 RSI 0; i=3 100 -> 66.67: BUY (as above)
    # i=4 92 (-8): G=(2+0)/2=1, L=(1+8)/2=4.5 -> 18.18 (below 30 again)
    # i=5 96 (+4): G=2.5, L=2.25 -> 52.63: crosses up through 30 again, but a BUY
    # was the last signal, so nothing.
    assert run(Rsi(period=2), [100, 98, 96, 100, 92, 96]) == [(3, BUY)]


def test_rsi_is_100_when_average_loss_is_zero() -> None:
    rising = Rsi(period=2)
    run(rising, [100, 101, 102])
    assert rising.rsi == 100.0
    # Flat start: G=L=0 -> RSI 100 by definition; i=3 90 (-10): G=0, L=5 -> RSI 0.
    # From >70 to <=70 -> SELL.
    flat = Rsi(period=2)
    assert run(flat, [100, 100, 100, 90]) == [(3, SELL)]
    assert flat.rsi == 0.0


def test_rsi_reason_names_period_and_threshold() -> None:
    strategy = Rsi(period=2)
    signals = [strategy.on_price(p) for p in [100, 98, 96, 100]]
    assert signals[3] == Signal(BUY, "RSI(2) crossed above 30 (66.67)")


# --- breakout ------------------------------------------------------------------


def test_breakout_signals_at_exact_indices() -> None:
    # window=3; the channel is the 3 prices before the current one.
    # i=1 12 > 10, but only 1 previous price: nothing until i=3.
    # i=3 13 > max(10,12,11)=12 -> BUY
    # i=4 14 > max(12,11,13)=13 -> BUY again: suppressed
    # i=5  9 < min(11,13,14)=11 -> SELL
    # i=6  8 < min(13,14,9)=9 -> SELL again: suppressed
    # i=7 12 inside [8, 14]
    # i=8 15 > max(9,8,12)=12 -> BUY
    # i=9 15 inside [8, 15] (equal to the high)
    prices = [10, 12, 11, 13, 14, 9, 8, 12, 15, 15]
    assert run(Breakout(3), prices) == [(3, BUY), (5, SELL), (8, BUY)]


def test_breakout_touching_the_channel_is_not_a_breakout() -> None:
    # window=2. i=2 12: channel [10,12], 12 is not > 12 -> nothing.
    # i=3 10: channel [12,12], 10 < 12 -> SELL.
    assert run(Breakout(2), [10, 12, 12, 10]) == [(3, SELL)]
    # i=2 10: channel [12,10], 10 is not < 10 -> nothing. i=3 12: channel [10,10] -> BUY.
    assert run(Breakout(2), [12, 10, 10, 12]) == [(3, BUY)]


def test_breakout_reason() -> None:
    strategy = Breakout(2)
    signals = [strategy.on_price(p) for p in [10, 12, 13]]
    assert signals[2] == Signal(BUY, "price 13 broke above the 2-price high 12")


# --- prices --------------------------------------------------------------------


@pytest.mark.parametrize("price", [True, 100.0, "100", None])
def test_on_price_refuses_non_integers(price: object) -> None:
    with pytest.raises(TypeError, match="price"):
        Breakout(2).on_price(price)  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [0, -1])
def test_on_price_refuses_non_positive(price: int) -> None:
    strategy = Breakout(2)
    with pytest.raises(ValueError, match="positive"):
        strategy.on_price(price)
    # The refused price left no trace: 10, 12 then 13 breaks above max(10, 12).
    assert run(strategy, [10, 12, 13]) == [(2, BUY)]


# --- registry and parameters ---------------------------------------------------


def test_kinds_and_defaults() -> None:
    assert STRATEGY_KINDS == ("ma_crossover", "rsi", "breakout")
    assert describe_kinds() == {
        "ma_crossover": {"short_window": 5, "long_window": 20},
        "rsi": {"period": 14, "oversold": 30, "overbought": 70},
        "breakout": {"window": 20},
    }
    for kind in STRATEGY_KINDS:
        strategy = build_strategy(kind, {})
        assert strategy.kind == kind
        assert strategy.params() == describe_kinds()[kind]


def test_build_applies_defaults_to_missing_params() -> None:
    ma = build_strategy("ma_crossover", {"long_window": 30})
    assert isinstance(ma, MaCrossover)
    assert ma.params() == {"short_window": 5, "long_window": 30}
    rsi = build_strategy("rsi", {"oversold": 25.5})
    assert rsi.params() == {"period": 14, "oversold": 25.5, "overbought": 70}
    assert build_strategy("breakout", {"window": 2}).params() == {"window": 2}


def test_built_strategy_behaves_like_the_class() -> None:
    built = build_strategy("ma_crossover", {"short_window": 2, "long_window": 3})
    assert run(built, [10, 10, 10, 13, 13, 7]) == [(3, BUY), (5, SELL)]


def test_describe_kinds_is_a_copy() -> None:
    described = describe_kinds()
    described["breakout"]["window"] = 99
    assert build_strategy("breakout", {}).params() == {"window": 20}


@pytest.mark.parametrize(
    ("kind", "params", "param", "why"),
    [
        # wrong types: bools are not integers, nor are floats or strings
        ("ma_crossover", {"short_window": True}, "short_window", "must be an integer"),
        ("ma_crossover", {"short_window": 5.0}, "short_window", "must be an integer"),
        ("ma_crossover", {"long_window": "20"}, "long_window", "must be an integer"),
        ("ma_crossover", {"long_window": None}, "long_window", "must be an integer"),
        ("rsi", {"period": False}, "period", "must be an integer"),
        ("rsi", {"period": 14.0}, "period", "must be an integer"),
        ("rsi", {"oversold": "30"}, "oversold", "must be a number"),
        ("rsi", {"oversold": True}, "oversold", "must be a number"),
        ("rsi", {"overbought": True}, "overbought", "must be a number"),
        ("breakout", {"window": "20"}, "window", "must be an integer"),
        ("breakout", {"window": 20.0}, "window", "must be an integer"),
        ("breakout", {"window": True}, "window", "must be an integer"),
        # out of range
        ("ma_crossover", {"short_window": 1}, "short_window", "between 2 and 499"),
        ("ma_crossover", {"short_window": 5, "long_window": 501}, "long_window", "and 500"),
        ("ma_crossover", {"short_window": 20, "long_window": 20}, "short_window", "less than"),
        ("ma_crossover", {"short_window": 25}, "short_window", "less than"),  # long is 20
        ("rsi", {"period": 1}, "period", "between 2 and 200"),
        ("rsi", {"period": 201}, "period", "between 2 and 200"),
        ("rsi", {"oversold": 0}, "oversold", "greater than 0"),
        ("rsi", {"overbought": 100}, "overbought", "less than 100"),
        ("rsi", {"oversold": math.nan}, "oversold", "greater than 0"),
        ("rsi", {"overbought": math.inf}, "overbought", "less than 100"),
        ("rsi", {"oversold": 70, "overbought": 70}, "oversold", "less than overbought"),
        ("rsi", {"oversold": 80}, "oversold", "less than overbought"),  # overbought is 70
        ("breakout", {"window": 1}, "window", "between 2 and 500"),
        ("breakout", {"window": 501}, "window", "between 2 and 500"),
        # unknown keys are refused, not ignored
        ("breakout", {"windw": 20}, "windw", "unknown parameter"),
        ("rsi", {"period": 14, "length": 3}, "length", "unknown parameter"),
    ],
)
def test_bad_params_are_refused_saying_which_and_why(
    kind: str, params: dict[str, object], param: str, why: str
) -> None:
    with pytest.raises(StrategyParamsError) as info:
        build_strategy(kind, params)
    assert info.value.param == param
    assert str(info.value).startswith(param) or "unknown parameter" in str(info.value)
    assert param in str(info.value)
    assert why in str(info.value)


def test_range_limits_are_inclusive() -> None:
    assert build_strategy("ma_crossover", {"short_window": 2, "long_window": 500}).params() == {
        "short_window": 2,
        "long_window": 500,
    }
    assert build_strategy("ma_crossover", {"short_window": 499, "long_window": 500})
    assert build_strategy("rsi", {"period": 2}).params()["period"] == 2
    assert build_strategy("rsi", {"period": 200}).params()["period"] == 200
    assert build_strategy("rsi", {"oversold": 0.5, "overbought": 99.5})
    assert build_strategy("breakout", {"window": 500}).params() == {"window": 500}


def test_constructors_validate_too() -> None:
    with pytest.raises(StrategyParamsError, match="long_window"):
        MaCrossover(5, 501)
    with pytest.raises(StrategyParamsError, match="period"):
        Rsi(period=True)
    with pytest.raises(StrategyParamsError, match="window"):
        Breakout(1)


@pytest.mark.parametrize("kind", ["macd", "", "MA_CROSSOVER", None, 1])
def test_unknown_kind_is_refused(kind: object) -> None:
    with pytest.raises(StrategyParamsError, match="unknown strategy kind") as info:
        build_strategy(kind, {})  # type: ignore[arg-type]
    assert info.value.param is None
    assert "ma_crossover, rsi, breakout" in str(info.value)


@pytest.mark.parametrize("params", [[("window", 20)], "window=20", None])
def test_params_must_be_a_mapping(params: object) -> None:
    with pytest.raises(StrategyParamsError, match="mapping"):
        build_strategy("breakout", params)  # type: ignore[arg-type]


def test_params_error_is_a_value_error() -> None:
    assert issubclass(StrategyParamsError, ValueError)


# --- bounded memory ------------------------------------------------------------


def _sized_state(strategy: Strategy) -> dict[str, int]:
    return {
        name: len(value)
        for name, value in vars(strategy).items()
        if isinstance(value, Sized) and not isinstance(value, str)
    }


@pytest.mark.parametrize(
    ("strategy", "limit"),
    [(MaCrossover(5, 20), 20), (Rsi(14), 0), (Breakout(20), 20)],
    ids=["ma_crossover", "rsi", "breakout"],
)
def test_memory_is_bounded(strategy: Strategy, limit: int) -> None:
    rng = random.Random(7)
    price = 50_000
    for _ in range(100_000):
        price = max(100, price + rng.randint(-500, 500))
        strategy.on_price(price)
    sizes = _sized_state(strategy)
    assert all(size <= limit for size in sizes.values()), sizes
    if limit:  # windowed strategies keep full, capped deques
        windows = [v for v in vars(strategy).values() if isinstance(v, deque)]
        assert windows
        assert all(w.maxlen is not None and w.maxlen <= limit for w in windows)
        assert max(len(w) for w in windows) == limit


def test_ma_crossover_windows_are_exactly_the_last_prices() -> None:
    strategy = MaCrossover(2, 3)
    run(strategy, list(range(1, 1001)))
    state = vars(strategy)
    assert list(state["_short_prices"]) == [999, 1000]
    assert list(state["_long_prices"]) == [998, 999, 1000]
    assert state["_short_sum"] == 1999
    assert state["_long_sum"] == 2997
