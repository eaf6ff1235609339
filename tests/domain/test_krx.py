"""KRX tick grid and daily band, checked against the exchange's 2023 table."""

from __future__ import annotations

import pytest

from hts_realtime.domain.krx import (
    ceil_to_tick,
    floor_to_tick,
    on_grid,
    price_limits,
    tick_down,
    tick_size,
    tick_up,
)


@pytest.mark.parametrize(("price", "tick"), [
    (1, 1), (1_999, 1), (2_000, 5), (4_995, 5), (5_000, 10), (19_990, 10), (20_000, 50),
    (49_950, 50), (50_000, 100), (199_900, 100), (200_000, 500), (499_500, 500),
    (500_000, 1_000), (1_234_000, 1_000),
])
def test_tick_table(price: int, tick: int) -> None:
    assert tick_size(price) == tick


@pytest.mark.parametrize(("price", "ok"), [
    (1_999, True), (2_001, False), (2_005, True), (5_005, False), (5_010, True),
    (20_010, False), (20_050, True), (75_050, False), (75_100, True), (200_100, False),
    (200_500, True), (500_500, False), (501_000, True), (0, False), (-5, False),
])
def test_on_grid(price: int, ok: bool) -> None:
    assert on_grid(price) is ok


def test_stepping_across_tick_boundaries() -> None:
    assert tick_up(1_999) == 2_000 and tick_up(2_000) == 2_005
    assert tick_down(2_000) == 1_999 and tick_down(5_000) == 4_995
    assert tick_up(49_950) == 50_000 and tick_down(50_000) == 49_950
    assert tick_down(500_000) == 499_500 and tick_up(499_500) == 500_000
    assert tick_down(1) == 1


def test_rounding_onto_the_grid() -> None:
    assert floor_to_tick(75_049) == 75_000 and ceil_to_tick(75_001) == 75_100
    assert floor_to_tick(2_004) == 2_000 and ceil_to_tick(2_001) == 2_005


@pytest.mark.parametrize(("prev", "lower", "upper"), [
    (75_000, 52_500, 97_500),
    (1_999, 1_400, 2_595),  # 2,598.7 floors to the ₩5 grid; 1,399.3 ceils to 1,400
    (10_000, 7_000, 13_000),
    (178_000, 124_600, 231_000),  # 231,400 is off the ₩500 grid above 200,000
    (812_000, 569_000, 1_055_000),
])
def test_daily_band(prev: int, lower: int, upper: int) -> None:
    lo, hi = price_limits(prev)
    assert (lo, hi) == (lower, upper)
    assert on_grid(lo) and on_grid(hi)
    assert lo >= prev * 0.7 and hi <= prev * 1.3
