"""The simulated market's parameters by class, and its clock of activity.

Two classes, by listing: a **KOSPI large cap** and a **KOSDAQ small cap**.
The numbers are the model's, chosen so a simulated day has the shape of a
real one (README "The simulated KRX market" sets them beside the real
market's figures):

* the book: large caps quote every tick (no gaps) with a 1-tick spread most
  of the time; small caps leave an occasional 2- or 3-tick gap between
  levels and their spread is more often 2-3 ticks;
* the price path: a daily volatility per class, scaled per day by a
  lognormal regime (calm and busy days: fat-tailed daily returns), a rare
  news day with a strong drift (a ±30% limit day is rare but possible),
  fat-tailed per-step shocks, and an intraday U shape: volatility and
  volume higher after the open and before the close than at midday.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from hts_realtime.domain.symbols import Symbol

SESSION_SECONDS = 6.5 * 3600  # 09:00-15:30: the day the daily volatility is spread over
OPEN_SECONDS = 9 * 3600
CLOSE_SECONDS = 15.5 * 3600


@dataclass(frozen=True, slots=True)
class PriceClass:
    name: str
    max_gap: int  # the widest step between adjacent levels of a side, in ticks
    gap_odds: tuple[float, float]  # a new level 2 / 3 ticks from its neighbour
    spread_odds: tuple[float, float]  # the target spread is 2 / 3 ticks (else 1)
    daily_vol: float  # standard deviation of a day's log return on a normal day
    regime_vol: float  # sigma of the day's lognormal volatility multiplier
    news_odds: float  # the chance a day has news (a strong drift)
    news_move: tuple[float, float]  # the news day's drift, as a log move over the session
    lot_krw: float  # the median aggressive order, in KRW
    level_krw: float  # the median resting size of a level, in KRW
    jump_rate: float  # jumps (news in the session) per day
    jump_scale: float  # a jump's size: Laplace scale of its log move
    dynamic_vi: float  # 동적 VI: a print this far from the one before it interrupts


LARGE_CAP = PriceClass("kospi_large", max_gap=1, gap_odds=(0.0, 0.0), spread_odds=(0.12, 0.01),
                       daily_vol=0.016, regime_vol=0.45, news_odds=0.004,
                       news_move=(0.06, 0.30), lot_krw=8e6, level_krw=120e6,
                       jump_rate=0.4, jump_scale=0.008, dynamic_vi=0.03)
SMALL_CAP = PriceClass("kosdaq_small", max_gap=3, gap_odds=(0.06, 0.02),
                       spread_odds=(0.25, 0.08), daily_vol=0.026, regime_vol=0.5,
                       news_odds=0.012, news_move=(0.08, 0.36), lot_krw=3e6,
                       level_krw=25e6, jump_rate=0.6, jump_scale=0.016, dynamic_vi=0.06)
STATIC_VI = 0.10  # 정적 VI: a print this far from the last single-price auction interrupts
VI_SECONDS = 120.0  # a VI's single-price auction lasts 2 minutes ...
VI_RANDOM_END = 30.0  # ... and up to 30 s more (임의연장), at random


def price_class(symbol: Symbol) -> PriceClass:
    return LARGE_CAP if symbol.market == "KOSPI" else SMALL_CAP


# The intraday U: a multiplier of volatility and of volume by the time of day (KST),
# 1 + a burst after the open decaying over ~20 minutes + a rise into the close over
# ~15 minutes, scaled so its mean over the session is 1 (a day's variance is then
# the class's daily_vol squared). Outside 09:00-15:30 (the always-open demo) it is 1.
_OPEN_BURST, _OPEN_TAU = 3.0, 1_500.0
_CLOSE_BURST, _CLOSE_TAU = 1.5, 1_200.0
_U_MEAN = 1.0 + (_OPEN_BURST * _OPEN_TAU + _CLOSE_BURST * _CLOSE_TAU) / SESSION_SECONDS


def intraday(now: datetime) -> float:
    """The U-shape multiplier at ``now`` (a KST-aware datetime)."""
    s = now.hour * 3600 + now.minute * 60 + now.second
    if not OPEN_SECONDS <= s < CLOSE_SECONDS:
        return 1.0
    since_open, to_close = s - OPEN_SECONDS, CLOSE_SECONDS - s
    u = 1.0 + _OPEN_BURST * math.exp(-since_open / _OPEN_TAU) \
        + _CLOSE_BURST * math.exp(-to_close / _CLOSE_TAU)
    return u / _U_MEAN
