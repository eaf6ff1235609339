"""KRX price rules: the tick grid (2023 unified table) and the ±30% daily band.

All prices are integer KRW. A price is *on the grid* when it is a multiple
of the tick size that applies at that price.
"""

from __future__ import annotations

# (upper bound exclusive, tick) — KRX unified tick table since 2023-01-25,
# the same for KOSPI and KOSDAQ.
TICK_TABLE: tuple[tuple[int, int], ...] = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
)
TOP_TICK = 1_000
DAILY_LIMIT = 0.30


def tick_size(price: int) -> int:
    """The tick that applies at ``price``."""
    # an if-chain, not a loop over TICK_TABLE: the simulator asks this millions of
    # times a day (the table and this chain are checked against each other in tests)
    if price <= 0:
        raise ValueError("price must be positive")
    if price < 20_000:
        return 1 if price < 2_000 else 5 if price < 5_000 else 10
    if price < 200_000:
        return 50 if price < 50_000 else 100
    return 500 if price < 500_000 else TOP_TICK


def on_grid(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def floor_to_tick(price: int) -> int:
    """The largest grid price <= ``price``."""
    p = price - price % tick_size(price)
    # a value just above a bound may floor below it onto a finer grid: fine,
    # because every multiple of a coarser tick is a multiple of the finer one
    return p


def ceil_to_tick(price: int) -> int:
    """The smallest grid price >= ``price``."""
    t = tick_size(price)
    return price if price % t == 0 else price + (t - price % t)


def tick_up(price: int, ticks: int = 1) -> int:
    if ticks == 1:
        return price + tick_size(price)
    for _ in range(ticks):
        price += tick_size(price)
    return price


def tick_down(price: int, ticks: int = 1) -> int:
    for _ in range(ticks):
        if price <= 1:
            return 1
        price -= tick_size(price - 1)
    return price


def price_limits(prev_close: int) -> tuple[int, int]:
    """(lower, upper): the daily band, on the grid, never past ±30%."""
    upper = floor_to_tick(prev_close * 13 // 10)
    lower = ceil_to_tick(-(-prev_close * 7 // 10))
    return lower, upper
