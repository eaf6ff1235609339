"""The KRX calendar: weekends and the 2026 holidays are closed; business-day arithmetic."""

from __future__ import annotations

from datetime import date, timedelta

from hts_realtime.domain.krx_calendar import (
    HOLIDAYS_2026,
    add_business_days,
    is_trading_day,
    next_trading_day,
)


def test_weekends_and_holidays_are_closed() -> None:
    assert not is_trading_day(date(2026, 12, 5))   # Saturday
    assert not is_trading_day(date(2026, 12, 6))   # Sunday
    assert is_trading_day(date(2026, 12, 4))       # Friday
    for day in HOLIDAYS_2026:
        assert day.weekday() < 5, day              # only weekday holidays are listed
        assert not is_trading_day(day)
    assert not is_trading_day(date(2026, 2, 17))   # 설날
    assert not is_trading_day(date(2026, 6, 3))    # local election
    assert not is_trading_day(date(2026, 12, 31))  # year-end closing day
    assert is_trading_day(date(2026, 12, 30))      # the last trading day of 2026


def test_2026_has_the_published_number_of_trading_days() -> None:
    day, count = date(2026, 1, 1), 0
    while day.year == 2026:
        count += is_trading_day(day)
        day += timedelta(days=1)
    # 261 weekdays in 2026, 16 of them holidays
    assert count == 261 - 16


def test_business_day_arithmetic_skips_closed_days() -> None:
    # T+2 from Friday 13 Feb 2026 crosses the weekend and 설날 (16-18 Feb)
    assert add_business_days(date(2026, 2, 13), 2) == date(2026, 2, 20)
    assert add_business_days(date(2026, 2, 20), -2) == date(2026, 2, 13)
    assert add_business_days(date(2026, 12, 29), 2) == date(2027, 1, 4)
    assert add_business_days(date(2026, 12, 5), 0) == date(2026, 12, 7)
    assert add_business_days(date(2026, 12, 7), 0) == date(2026, 12, 7)
    assert next_trading_day(date(2026, 9, 23)) == date(2026, 9, 28)
    # round trip over a year of starts
    start = date(2026, 1, 2)
    for i in range(0, 365, 7):
        d = add_business_days(start + timedelta(days=i), 0)
        assert add_business_days(add_business_days(d, 5), -5) == d


def test_krx_hours_are_closed_on_holidays() -> None:
    from datetime import datetime

    from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus

    krx = MarketHours("krx")
    seollal = datetime(2026, 2, 17, 10, 0, tzinfo=KST)
    assert krx.status(seollal) is MarketStatus.CLOSED
    assert krx.status(seollal.replace(hour=8, minute=45)) is MarketStatus.CLOSED
    assert krx.status(datetime(2026, 2, 19, 10, 0, tzinfo=KST)) is MarketStatus.OPEN
    assert krx.status(datetime(2026, 12, 31, 10, 0, tzinfo=KST)) is MarketStatus.CLOSED
    # a window and the always-open demo keep their own rules
    assert MarketHours("09:00-15:30").status(seollal) is MarketStatus.OPEN
    assert MarketHours("always").status(seollal) is MarketStatus.OPEN
