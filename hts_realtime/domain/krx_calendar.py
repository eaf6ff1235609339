"""KRX trading days: weekends and the exchange's holidays are closed.

The holiday list is the one KRX published for 2026 (신정, 설날 연휴, the
substitute holidays for 삼일절/부처님오신날/광복절/개천절, 근로자의 날, the
local-election day 6월 3일, 추석 연휴, 한글날, 성탄절 and the year-end
closing day 12월 31일), as reported in
https://b83.nicesongtoyou.com/?p=10145 ("2026년 국내증시 휴장일 일정표") and
https://brainchildpartners.blogspot.com/2026/01/korea-stock-market-holidays.html;
the year-end day follows KRX's practice (e.g. https://kukinews.com/article/view/kuk202412170092).
Only weekday holidays are listed (a holiday on a Saturday closes nothing more).

Outside the years listed the calendar keeps only the two closings KRX
holds every year, 1 January (신정) and 31 December (연말 휴장일); other
weekdays trade. It knows 2026 and says so (``KNOWN_YEARS``) rather than
guessing the lunar holidays of other years.
"""

from __future__ import annotations

from datetime import date, timedelta

HOLIDAYS_2026: frozenset[date] = frozenset({
    date(2026, 1, 1),    # 신정
    date(2026, 2, 16),   # 설날 연휴
    date(2026, 2, 17),   # 설날
    date(2026, 2, 18),   # 설날 연휴
    date(2026, 3, 2),    # 삼일절 대체공휴일 (3월 1일 is a Sunday)
    date(2026, 5, 1),    # 근로자의 날
    date(2026, 5, 5),    # 어린이날
    date(2026, 5, 25),   # 부처님오신날 대체공휴일 (5월 24일 is a Sunday)
    date(2026, 6, 3),    # 제9회 전국동시지방선거
    date(2026, 8, 17),   # 광복절 대체공휴일 (8월 15일 is a Saturday)
    date(2026, 9, 24),   # 추석 연휴
    date(2026, 9, 25),   # 추석 (9월 26일 is a Saturday)
    date(2026, 10, 5),   # 개천절 대체공휴일 (10월 3일 is a Saturday)
    date(2026, 10, 9),   # 한글날
    date(2026, 12, 25),  # 성탄절
    date(2026, 12, 31),  # 연말 휴장일
})
HOLIDAYS: frozenset[date] = HOLIDAYS_2026
KNOWN_YEARS: frozenset[int] = frozenset({2026})


def is_holiday(day: date) -> bool:
    """A weekday on which KRX does not open."""
    if day.year in KNOWN_YEARS:
        return day in HOLIDAYS
    return day.weekday() < 5 and (day.month, day.day) in ((1, 1), (12, 31))


def is_trading_day(day: date) -> bool:
    """A weekday that is not a KRX holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def add_business_days(day: date, n: int) -> date:
    """The ``n``-th trading day after ``day`` (before it when ``n`` is negative).

    ``n == 0`` returns ``day`` itself when it trades, otherwise the next
    trading day (a settlement date never falls on a closed day). T+2
    settlement of a trade on ``day`` is ``add_business_days(day, 2)``.
    """
    if n == 0:
        return day if is_trading_day(day) else add_business_days(day, 1)
    step = timedelta(days=1 if n > 0 else -1)
    left = abs(n)
    # every week has five weekdays and a year ~16 holidays, so the walk is
    # bounded by roughly 1.5 * n + 20 days
    while left:
        day += step
        if is_trading_day(day):
            left -= 1
    return day


def next_trading_day(day: date) -> date:
    """The first trading day strictly after ``day``."""
    return add_business_days(day, 1)
