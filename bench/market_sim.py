"""market_sim: what a step of the simulated KRX costs, and the shape of its days.

* **step**: ``MarketSimulator.step`` for the 60 symbols on the live clock
  (0.5 s apart, continuous trading), CPU time per step: p50/p99/mean over
  4,000 steps (the budget is 2 ms: the feed steps every 0.5 s by default).
* **days**: ``domain.market_day.run_days`` over 5 seeds x 4 trading days
  (1,200 symbol-days, 5 s steps): per class the median and 99th percentile
  of |daily return|, the widest gap between adjacent levels, the spread
  (share of steps at 1 and at <= 2 ticks, p99), the intraday U (first and
  last half hours against midday, in variance and in traded value), days
  closed at a limit, and the wall time of one simulated day.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from bench.common import fmt, print_table, summary, write_result
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_day import ClassDay, quantile, run_days
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster

NAME = "market_sim"
STEPS = 4_000
SEEDS = 5
DAYS = 4


def step_cost() -> dict[str, Any]:
    sim = MarketSimulator(SymbolMaster(), seed=7, now=datetime(2026, 1, 5, 9, 0, tzinfo=KST))
    t = datetime(2026, 1, 5, 9, 0, tzinfo=KST)
    costs = []
    for i in range(STEPS):
        t0 = time.process_time()
        sim.step(t + timedelta(milliseconds=500 * i))
        costs.append(1e3 * (time.process_time() - t0))
    return summary(costs)


def day_shape() -> dict[str, Any]:
    merged: dict[str, ClassDay] = {}
    walls = []
    for seed in range(SEEDS):
        t0 = time.perf_counter()
        run = run_days(SymbolMaster(), seed=seed, days=DAYS, step=5.0)
        walls.append((time.perf_counter() - t0) / DAYS)
        assert not run.problems, run.problems
        for name, c in run.classes.items():
            m = merged.setdefault(name, ClassDay())
            m.returns += c.returns
            m.spreads += c.spreads
            m.widest_gap = max(m.widest_gap, c.widest_gap)
            m.variance = [a + b for a, b in zip(m.variance, c.variance, strict=True)]
            m.volume = [a + b for a, b in zip(m.volume, c.volume, strict=True)]
            m.limit_closes += c.limit_closes
    out: dict[str, Any] = {"seconds_per_day": summary(walls)}
    for name, m in merged.items():
        out[name] = {
            "symbol_days": len(m.returns),
            "median_abs_return_pct": 100 * m.median_abs_return(),
            "p99_abs_return_pct": 100 * m.p99_abs_return(),
            "max_abs_return_pct": 100 * max(abs(r) for r in m.returns),
            "widest_gap_ticks": m.widest_gap,
            "spread_1_tick_share": m.spread_share(1),
            "spread_le_2_ticks_share": m.spread_share(2),
            "spread_p99_ticks": quantile([float(s) for s in m.spreads], 0.99),
            "u_variance": m.u_ratio(m.variance),
            "u_value_traded": m.u_ratio(m.volume),
            "limit_closes": m.limit_closes,
        }
    return out


async def run() -> dict[str, Any]:
    step = step_cost()
    print_table("market_sim: one step of 60 symbols (CPU ms)", ["p50", "p99", "mean"],
                [[fmt(step["p50"], 3), fmt(step["p99"], 3), fmt(step["mean"], 3)]])
    days = day_shape()
    keys = ("symbol_days", "median_abs_return_pct", "p99_abs_return_pct", "max_abs_return_pct",
            "widest_gap_ticks", "spread_1_tick_share", "spread_le_2_ticks_share",
            "spread_p99_ticks", "u_variance", "u_value_traded", "limit_closes")
    print_table("market_sim: simulated days by class", ["", *keys],
                [[name, *(fmt(v[k], 3) for k in keys)] for name, v in days.items()
                 if isinstance(v, dict) and "symbol_days" in v])
    print(f"one simulated day (60 symbols, 5 s steps, invariants checked): "
          f"{days['seconds_per_day']['p50']:.1f} s")
    data = {"step_ms": step, "days": days}
    write_result(NAME, data)
    return data


if __name__ == "__main__":
    asyncio.run(run())
