"""A plausible, seeded price history for a fresh database, so charts are never empty.

``seed_history`` makes, for every symbol of the master:

* ``DAYS`` trading days (weekdays) of daily candles before today, whose
  last close is the symbol's previous close, each day inside the ±30%
  band of the day before it;
* today's minute candles so far: from 09:00 KST (or, when the market
  trades around the clock, from the start of the day, at most the last
  ``SESSION_MINUTES``) up to the current minute, inside today's band,
  with the 5m, 1h and 1d candles they add up to.

It is illustrative, not market data. The live market then continues from
the last minute's close (``day_states``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from hts_realtime.domain.candles import INTERVALS, Candle, bucket
from hts_realtime.domain.krx import floor_to_tick, price_limits, tick_down, tick_up
from hts_realtime.domain.market import DayState
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster

DAYS = 120
SESSION_MINUTES = 390  # 09:00-15:30


def _clamp(p: int, band: tuple[int, int]) -> int:
    return min(max(floor_to_tick(max(p, 1)), band[0]), band[1])


def _epoch(d: date, t: time = time(0)) -> int:
    return int(datetime.combine(d, t, KST).timestamp())


def trading_days_before(today: date, n: int) -> list[date]:
    days: list[date] = []
    d = today
    while len(days) < n:
        d -= timedelta(days=1)
        if d.weekday() < 5:
            days.append(d)
    return days[::-1]


def seed_history(master: SymbolMaster, now: datetime, seed: int | None,
                 always: bool) -> list[Candle]:
    rng = random.Random(seed)
    now = now.astimezone(KST)
    today = now.date()
    days = trading_days_before(today, DAYS)
    out: list[Candle] = []
    for s in master:
        out.extend(_daily(rng, s.symbol, s.prev_close, days))
        out.extend(_today(rng, s.symbol, s.prev_close, now, always))
    return out


def _daily(rng: random.Random, symbol: str, last_close: int, days: list[date]) -> list[Candle]:
    closes = [last_close]
    for _ in days[1:]:  # walk backwards from the known close
        r = max(-0.2, min(0.2, rng.gauss(0, 0.02)))
        closes.append(max(1, floor_to_tick(max(1, int(closes[-1] / (1 + r))))))
    closes.reverse()
    candles = []
    prev = closes[0]
    for d, close in zip(days, closes, strict=True):
        band = price_limits(prev)
        close = _clamp(close, band)
        open_ = _clamp(int(prev * (1 + rng.gauss(0, 0.006))), band)
        high = _clamp(int(max(open_, close) * (1 + abs(rng.gauss(0, 0.008)))), band)
        low = _clamp(int(min(open_, close) * (1 - abs(rng.gauss(0, 0.008)))), band)
        high, low = max(high, open_, close), min(low, open_, close)
        volume = max(1, int(rng.lognormvariate(math.log(3e10), 0.5) / close))
        candles.append(Candle(symbol, "1d", _epoch(d), open_, high, low, close, volume))
        prev = close
    if candles:  # the last day closes exactly at the master's previous close
        c = candles[-1]
        c.close, c.high, c.low = last_close, max(c.high, last_close), min(c.low, last_close)
    return candles


def _today(rng: random.Random, symbol: str, prev_close: int, now: datetime,
           always: bool) -> list[Candle]:
    today = now.date()
    if not always and today.weekday() >= 5:
        return []
    if always:
        start = max(_epoch(today), bucket(int(now.timestamp()), 60) - SESSION_MINUTES * 60)
    else:
        start = _epoch(today, time(9, 0))
    end = min(bucket(int(now.timestamp()), 60), _epoch(today, time(15, 30)) if not always
              else bucket(int(now.timestamp()), 60))  # the current minute is the live one
    band = price_limits(prev_close)
    price = prev_close
    minutes: list[Candle] = []
    for t in range(start, end, 60):
        o = price
        hi = lo = o
        for _ in range(4):
            ticks = int(rng.expovariate(1.5))
            drift = (price - prev_close) / max(band[1] - prev_close, 1)
            price = tick_up(price, ticks) if rng.random() < 0.5 - 0.35 * drift else tick_down(
                price, ticks)
            price = min(max(price, band[0]), band[1])
            hi, lo = max(hi, price), min(lo, price)
        vol = max(1, int(rng.lognormvariate(math.log(8e7), 0.8) / price))
        minutes.append(Candle(symbol, "1m", t, o, hi, lo, price, vol))
    return minutes + _roll_up(minutes)


def _roll_up(minutes: Iterable[Candle]) -> list[Candle]:
    """The 5m, 1h and 1d candles that these minute candles add up to."""
    out: dict[tuple[str, int], Candle] = {}
    for m in minutes:
        for interval, seconds in INTERVALS.items():
            if interval == "1m":
                continue
            start = bucket(m.start, seconds)
            c = out.get((interval, start))
            if c is None:
                out[(interval, start)] = Candle(m.symbol, interval, start, m.open, m.high, m.low,
                                                m.close, m.volume)
            else:
                c.high, c.low = max(c.high, m.high), min(c.low, m.low)
                c.close = m.close
                c.volume += m.volume
    return list(out.values())


def day_states(daily: dict[str, list[Candle]], today: date) -> dict[str, DayState]:
    """Where each symbol's day stands, from its last two daily candles (oldest first)."""
    states: dict[str, DayState] = {}
    for symbol, candles in daily.items():
        if not candles:
            continue
        last = candles[-1]
        last_day = datetime.fromtimestamp(last.start, KST).date()
        if last_day == today and len(candles) >= 2:
            prev = candles[-2].close
            states[symbol] = DayState(today, prev, last.open, last.high, last.low, last.close,
                                      last.volume)
        elif last_day != today:
            states[symbol] = DayState(last_day, last.close, last.open, last.high, last.low,
                                      last.close, last.volume)
    return states
