"""Whole simulated KRX days in fast-forward: every invariant at every step, the day's
statistics inside documented bounds (README "The simulated KRX market"), and the
rules a trader sees (VI, limits)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hts_realtime.domain.book_shape import book_problems
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_day import ClassDay, quantile, run_days
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.orders import Side
from hts_realtime.domain.price_model import LARGE_CAP, SMALL_CAP, price_class
from hts_realtime.domain.symbols import SymbolMaster

MASTER = SymbolMaster()


@pytest.mark.parametrize("seed", [1])
def test_a_full_day_keeps_every_invariant_at_every_step(seed: int) -> None:
    run = run_days(MASTER, seed=seed, step=10.0)
    assert run.steps > 2_000 and not run.problems, run.problems
    large, small = run.classes[LARGE_CAP.name], run.classes[SMALL_CAP.name]
    assert large.widest_gap == 1 and small.widest_gap <= 3
    # 10 s steps trade 20 steps' worth at once, so sweeps are coarser than live
    assert large.spread_share(2) >= 0.98 and quantile(large.spreads, 0.99) <= 3
    assert quantile(small.spreads, 0.99) <= 4
    assert len(large.returns) == len(small.returns) == 30


def test_day_statistics_inside_documented_bounds() -> None:
    """Three seeds, three days each (270 symbol-days): the bounds README states."""
    merged = {LARGE_CAP.name: ClassDay(), SMALL_CAP.name: ClassDay()}
    for seed in range(3):
        run = run_days(MASTER, seed=seed, days=3, step=30.0, check=False)
        for name, c in run.classes.items():
            m = merged[name]
            m.returns += c.returns
            m.variance = [a + b for a, b in zip(m.variance, c.variance, strict=True)]
            m.volume = [a + b for a, b in zip(m.volume, c.volume, strict=True)]
    large, small = merged[LARGE_CAP.name], merged[SMALL_CAP.name]
    assert 0.005 <= large.median_abs_return() <= 0.02
    assert 0.008 <= small.median_abs_return() <= 0.03
    assert large.p99_abs_return() <= 0.12 and small.p99_abs_return() <= 0.30
    assert small.median_abs_return() > large.median_abs_return()
    for c in (large, small):  # the intraday U: busier and more volatile at both ends
        assert c.u_ratio(c.variance) > 1.2 and c.u_ratio(c.volume) > 1.2


def _at(minutes: float) -> datetime:
    return datetime(2026, 1, 5, 10, 0, tzinfo=KST) + timedelta(minutes=minutes)


def test_news_goes_through_a_static_vi_to_the_upper_limit_and_is_held_there() -> None:
    """A KOSDAQ name rallies in +2% steps (under its 6% 동적 VI): prints stop at +10%
    from the previous close (정적 VI), the 2-minute auction prints once; then +35%
    news: the price ends held at 상한가 — only bids, trades only at the limit."""
    master = SymbolMaster(tuple(s for s in MASTER if s.symbol == "086520"))
    sim = MarketSimulator(master, seed=3, hours=MarketHours("krx"), now=_at(-60))
    sim.step(_at(-0.1))
    prev = sim.quote("086520").prev_close  # type: ignore[union-attr]
    lower, upper = sim.quote("086520").limits  # type: ignore[union-attr]
    cls = price_class(master.get("086520"))  # type: ignore[arg-type]
    vis, prints_in_vi, held, t = [], 0, 0, 0.0
    while not vis:
        t += 1 / 6
        sim.news("086520", 0.02)
        for q in sim.step(_at(t)):
            assert all(tr.price <= prev * 1.10 for tr in q.trades)
        vis += [c for c in sim.changed_states() if c.phase == "vi"]
        assert t < 30
    assert vis[0].vi == "static" and vis[0].reference_price == prev
    assert vis[0].until is not None and vis[0].expected_price is not None
    sim.news("086520", 0.35)
    in_vi = True
    for i in range(1, 1_200):
        quotes = sim.step(_at(t + i / 60))
        if in_vi:
            assert len(quotes) <= 1 and all(len(q.trades) == 1 for q in quotes)
            prints_in_vi += len(quotes)
        vis += [c for c in sim.changed_states() if c.phase == "vi"]
        state = sim.symbol_state("086520")
        assert state is not None
        in_vi = state.phase == "vi"
        book = sim.book("086520")
        assert book is not None and not book_problems(book, (lower, upper), cls)
        if state.limit == "upper":
            held += 1
            assert not book.asks and book.bids[0].price == upper
            assert all(tr.price == upper for q in quotes for tr in q.trades)
    assert prints_in_vi == len(vis)  # each VI printed exactly once, at its end
    assert held > 100 and sim.quote("086520").price == upper  # type: ignore[union-attr]


def test_a_jump_past_the_dynamic_bound_interrupts() -> None:
    """A 5% jump on a KOSPI 200 name (동적 VI at 3%): the aggressor's prints stop short
    of 3% from the price before it; a dynamic VI starts; nothing prints for 2 minutes."""
    master = SymbolMaster(tuple(s for s in MASTER if s.symbol == "005930"))
    sim = MarketSimulator(master, seed=4, now=_at(0))
    sim.step(_at(0))
    last = sim.quote("005930").price  # type: ignore[union-attr]
    sim.news("005930", 0.05)
    prints = [t for q in sim.step(_at(0.01)) for t in q.trades]
    state = sim.symbol_state("005930")
    assert state is not None and state.phase == "vi" and state.vi == "dynamic"
    assert state.reference_price == last
    assert all(t.price <= last * 1.03 and t.side is Side.BUY for t in prints)
    assert sim.step(_at(1.9)) == []  # an auction: orders only
    end = sim.step(_at(2.6))
    assert len(end) == 1 and len(end[0].trades) == 1 and end[0].price > last * 1.03
    after = sim.symbol_state("005930")
    assert after is not None and after.phase == "continuous"
