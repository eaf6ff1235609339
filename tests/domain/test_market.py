"""The simulated market: grid, band and OHLCV invariants over a long run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hts_realtime.domain.krx import on_grid, price_limits
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.symbols import Symbol, SymbolMaster


def test_symbol_master_has_real_listings() -> None:
    master = SymbolMaster()
    assert len(master) >= 30
    samsung = master.get("005930")
    assert samsung is not None and samsung.name == "삼성전자"
    assert {s.market for s in master} == {"KOSPI", "KOSDAQ"}
    assert all(on_grid(s.prev_close) for s in master)


def test_symbol_master_rejects_off_grid_closes() -> None:
    with pytest.raises(ValueError, match="off the tick grid"):
        SymbolMaster((Symbol("000001", "x", "KOSPI", 2_001),))


def test_long_run_stays_on_grid_and_inside_the_band() -> None:
    master = SymbolMaster()
    sim = MarketSimulator(master, seed=11)
    now = datetime(2026, 1, 5, 10, 0, tzinfo=KST)
    moves = 0
    for i in range(5_000):  # 5,000 steps x ~60 symbols x 0.7 activity ≈ 210,000 trades
        for q in sim.step(now + timedelta(milliseconds=100 * i)):
            moves += 1
            lower, upper = price_limits(q.prev_close)
            assert on_grid(q.price), q
            assert lower <= q.price <= upper, q
            assert q.low <= q.price <= q.high
            assert q.low <= q.open <= q.high
            assert q.volume > 0 and q.last_volume > 0
    assert moves > 100_000
    # prices really move: most symbols left their previous close
    moved = sum(1 for s in master if sim.quote(s.symbol).price != s.prev_close)  # type: ignore[union-attr]
    assert moved > len(master) // 2


def test_a_stock_near_the_upper_limit_never_crosses_it() -> None:
    master = SymbolMaster((Symbol("000001", "test", "KOSPI", 1_999),))
    sim = MarketSimulator(master, seed=3, activity=1.0)
    q0 = sim.quote("000001")
    assert q0 is not None
    lower, upper = price_limits(1_999)
    seen = set()
    for i in range(20_000):
        for q in sim.step(datetime(2026, 1, 5, tzinfo=KST) + timedelta(seconds=i)):
            assert lower <= q.price <= upper and on_grid(q.price)
            seen.add(q.price >= 2_000)
    assert seen == {True, False}, "the walk should cross the ₩1/₩5 tick boundary"


def test_same_seed_same_market() -> None:
    now = datetime(2026, 1, 5, 10, 0, tzinfo=KST)
    a, b = MarketSimulator(SymbolMaster(), seed=5), MarketSimulator(SymbolMaster(), seed=5)
    for _ in range(100):
        assert [q.price for q in a.step(now)] == [q.price for q in b.step(now)]


def test_market_hours() -> None:
    hours = MarketHours("09:00-15:30")
    monday = datetime(2026, 1, 5, tzinfo=KST)
    assert hours.is_open(monday.replace(hour=9))
    assert not hours.is_open(monday.replace(hour=15, minute=30))
    assert not hours.is_open(monday.replace(hour=8, minute=59))
    assert not hours.is_open(datetime(2026, 1, 3, 10, tzinfo=KST))  # Saturday
    assert MarketHours("always").is_open(datetime(2026, 1, 3, 3, tzinfo=KST))
    sim = MarketSimulator(SymbolMaster(), seed=1, hours=hours)
    assert sim.step(monday.replace(hour=20)) == []
    assert sim.step(monday.replace(hour=10))
    with pytest.raises(ValueError):
        MarketHours("9-5")
