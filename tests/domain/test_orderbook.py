"""The simulated book and tape: invariants over a long seeded run, and candles from trades."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from pathlib import Path

from hts_realtime.domain.candles import INTERVALS, bucket
from hts_realtime.domain.history import DAYS, day_states, seed_history
from hts_realtime.domain.krx import on_grid, price_limits, tick_up
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus
from hts_realtime.domain.orderbook import DEPTH, BookSnapshot
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbols import Symbol, SymbolMaster
from hts_realtime.engine.candle_store import CandleStore
from hts_realtime.engine.candles import CandleBook
from hts_realtime.engine.group_commit import GroupCommit
from hts_realtime.storage.sqlite import SqliteStore

MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=KST)


def check_book(book: BookSnapshot, prev_close: int) -> None:
    lower, upper = price_limits(prev_close)
    assert len(book.asks) <= DEPTH and len(book.bids) <= DEPTH
    assert book.asks or book.bids
    for levels in (book.asks, book.bids):
        for lv in levels:
            assert on_grid(lv.price) and lower <= lv.price <= upper, (lv, book)
            assert lv.quantity > 0, book
    assert [lv.price for lv in book.asks] == sorted({lv.price for lv in book.asks})
    assert [lv.price for lv in book.bids] == sorted({lv.price for lv in book.bids}, reverse=True)
    if book.asks and book.bids:
        assert book.bids[0].price < book.asks[0].price, book
    # a side holds ten levels unless the band edge cuts it short
    if len(book.asks) < DEPTH:
        assert not book.asks or book.asks[-1].price == upper
    if len(book.bids) < DEPTH:
        assert not book.bids or book.bids[-1].price == lower


def test_book_invariants_and_trades_at_touched_levels_over_a_long_run() -> None:
    master = SymbolMaster()
    sim = MarketSimulator(master, seed=21, now=MONDAY)
    books = {s.symbol: sim.book(s.symbol) for s in master}
    trades = sweeps = 0
    for i in range(2_000):
        for q in sim.step(MONDAY + timedelta(milliseconds=100 * i)):
            before = books[q.symbol]
            assert before is not None and q.trades
            side = q.trades[0].side
            levels = {lv.price: lv.quantity for lv in before.opposite(side)}
            prices = [t.price for t in q.trades]
            # an aggressor walks the opposite side from its best level outward
            assert prices == sorted(prices, reverse=side is Side.SELL)
            assert prices[0] == before.opposite(side)[0].price
            for t in q.trades:
                assert t.side is side and t.price in levels and 0 < t.quantity <= levels[t.price]
                trades += 1
            for t in q.trades[:-1]:  # every level but the last was taken whole
                assert t.quantity == levels[t.price]
            sweeps += len(q.trades) > 1
            assert q.volume == q.trades[-1].volume
            assert q.price == q.trades[-1].price and q.last_volume == sum(
                t.quantity for t in q.trades)
            assert q.low <= q.price <= q.high
        for s in master:
            book = sim.book(s.symbol)
            assert book is not None
            check_book(book, s.prev_close)
            books[s.symbol] = book
    assert trades > 80_000 and sweeps > 1_000
    moved = sum(1 for s in master if sim.quote(s.symbol).price != s.prev_close)  # type: ignore[union-attr]
    assert moved > len(master) // 2


def test_a_book_at_the_band_edge_stays_inside_it() -> None:
    master = SymbolMaster((Symbol("000001", "test", "KOSPI", 1_000),))
    sim = MarketSimulator(master, seed=3, activity=1.0, now=MONDAY)
    lower, upper = price_limits(1_000)
    edges = set()
    for i in range(20_000):
        sim.step(MONDAY + timedelta(seconds=i))
        book = sim.book("000001")
        assert book is not None
        check_book(book, 1_000)
        edges.add(book.last_price in (lower, upper))
    assert True in edges or len(edges) == 1


def test_paper_orders_take_liquidity_from_the_book() -> None:
    sim = MarketSimulator(SymbolMaster(), seed=1, now=MONDAY)
    book = sim.book("005930")
    assert book is not None
    best = book.asks[0]
    sim.take_liquidity("005930", Side.BUY, [(best.price, best.quantity)])
    after = sim.book("005930")
    assert after is not None
    assert after.asks[0].price > best.price  # the level is gone: the spread widened
    assert after.asks[:-1] == book.asks[1:]
    check_book(after, 75_000)


def test_sessions() -> None:
    krx = MarketHours("krx")
    day = datetime(2026, 1, 5, tzinfo=KST)
    at = lambda h, m: krx.status(day.replace(hour=h, minute=m))  # noqa: E731
    assert at(8, 29) is MarketStatus.CLOSED
    assert at(8, 30) is MarketStatus.PRE_OPEN
    assert at(9, 0) is MarketStatus.OPEN
    assert at(15, 19) is MarketStatus.OPEN
    assert at(15, 20) is MarketStatus.CLOSING_AUCTION
    assert at(15, 30) is MarketStatus.CLOSED
    assert krx.status(datetime(2026, 1, 3, 10, tzinfo=KST)) is MarketStatus.CLOSED
    assert MarketHours("always").status(datetime(2026, 1, 3, 3, tzinfo=KST)) is MarketStatus.OPEN
    assert krx.mode == "krx" and MarketHours("09:00-10:00").mode == "window"


def test_krx_auctions_print_once_and_nothing_trades_outside_continuous_hours() -> None:
    sim = MarketSimulator(SymbolMaster(), seed=2, hours=MarketHours("krx"),
                          now=datetime(2026, 1, 5, 8, 0, tzinfo=KST))
    day = datetime(2026, 1, 5, tzinfo=KST)
    assert sim.step(day.replace(hour=8, minute=10)) == []
    assert sim.step(day.replace(hour=8, minute=45)) == []  # pre-open: orders only
    opening = sim.step(day.replace(hour=9, minute=0, second=1))
    assert len(opening) == len(SymbolMaster()) and all(len(q.trades) == 1 for q in opening)
    assert sim.step(day.replace(hour=10))
    assert sim.step(day.replace(hour=15, minute=25)) == []  # closing auction: orders only
    closing = sim.step(day.replace(hour=15, minute=30, second=1))
    assert all(len(q.trades) == 1 for q in closing)
    assert sim.step(day.replace(hour=16)) == []
    # the next day rolls over: yesterday's last price is the previous close
    last = {q.symbol: q.price for q in closing}
    sim.step(datetime(2026, 1, 6, 8, 31, tzinfo=KST))
    q = sim.quote("005930")
    assert q is not None and q.prev_close == last["005930"] and q.volume == 0


async def test_candles_agree_with_the_trades_that_built_them(tmp_path: Path) -> None:
    db = SqliteStore(str(tmp_path / "c.db"))
    commits = GroupCommit(db, lambda events: None)
    serving = asyncio.create_task(commits.serve())
    book = CandleBook(CandleStore(db), commits, [s.symbol for s in SymbolMaster()])
    sim = MarketSimulator(SymbolMaster(), seed=4, now=MONDAY)
    seen = []
    for i in range(2_000):  # 2,000 steps 0.5 s apart: 16+ minutes
        quotes = sim.step(MONDAY + timedelta(milliseconds=500 * i))
        book.on_quotes(quotes)
        seen += [t for q in quotes if q.symbol == "005930" for t in q.trades]
        if i % 300 == 0:
            await book.flush()  # some candles on disk, some in memory: reads merge both
    for interval, seconds in INTERVALS.items():
        expect: dict[int, list[int]] = {}
        for t in seen:
            start = bucket(int(t.timestamp.timestamp()), seconds)
            c = expect.setdefault(start, [t.price, t.price, t.price, t.price, 0])
            c[1], c[2], c[3] = max(c[1], t.price), min(c[2], t.price), t.price
            c[4] += t.quantity
        got = await book.candles("005930", interval, 1000)
        assert {c.start: [c.open, c.high, c.low, c.close, c.volume] for c in got} == expect
    assert len(await book.candles("005930", "1m", 1000)) >= 16
    # KST boundaries: a 1h candle starts on the hour in Korea time, 1d at KST midnight
    day = (await book.candles("005930", "1d", 5))[-1].to_wire()["time"]
    assert day == "2026-01-05T00:00:00+09:00"
    assert (await book.candles("005930", "1h", 5))[0].to_wire()["time"] == \
        "2026-01-05T10:00:00+09:00"
    serving.cancel()
    await db.close()


async def test_seeded_history_is_plausible_and_the_market_continues_from_it(
        tmp_path: Path) -> None:
    master = SymbolMaster()
    now = datetime(2026, 1, 7, 11, 0, 30, tzinfo=KST)  # a Wednesday, 11:00 KST
    candles = seed_history(master, now, seed=9, always=False)
    db = SqliteStore(str(tmp_path / "h.db"))
    store = CandleStore(db)
    await db.commit(store.writes(candles))
    for s in master:
        daily = await store.read(s.symbol, "1d", 1000)
        assert len(daily) == DAYS + 1  # 120 past trading days and today
        past, today = daily[:-1], daily[-1]
        assert past[-1].close == s.prev_close
        for a, b in itertools.pairwise(past):
            lower, upper = price_limits(a.close)
            assert lower <= b.low <= b.open <= b.high and b.low <= b.close <= b.high <= upper
            assert all(on_grid(p) for p in (b.open, b.high, b.low, b.close)) and b.volume > 0
        minutes = await store.read(s.symbol, "1m", 1000)
        assert len(minutes) == 120  # 09:00-10:59, the current minute is the live one
        assert minutes[0].to_wire()["time"] == "2026-01-07T09:00:00+09:00"
        assert today.volume == sum(m.volume for m in minutes)
        assert today.close == minutes[-1].close
        lower, upper = price_limits(s.prev_close)
        assert lower <= today.low and today.high <= upper
    states = day_states(await store.last_days(2), now.date())
    sim = MarketSimulator(master, seed=1, now=now, days=states)
    q = sim.quote("005930")
    today = (await store.read("005930", "1d", 1))[0]
    assert q is not None and q.prev_close == 75_000 and q.price == today.close
    assert q.volume == today.volume and (q.open, q.high, q.low) == (
        today.open, today.high, today.low)
    # a later day: the stored last close becomes the previous close
    later = day_states(await store.last_days(2), now.date() + timedelta(days=1))
    assert later["005930"].prev_close == today.close
    assert tick_up(1) == 2
    await db.close()


def test_the_feed_reports_each_session_change_once() -> None:
    from hts_realtime.engine.market_feed import MarketFeed

    day = datetime(2026, 1, 5, tzinfo=KST)
    sim = MarketSimulator(SymbolMaster(), seed=2, hours=MarketHours("krx"),
                          now=day.replace(hour=8))
    seen: list[tuple[str, str]] = []
    feed = MarketFeed(sim, 0.5,
                      on_status=[lambda s, at: seen.append((s.value, at.strftime("%H:%M")))])
    feed.status = sim.status(day.replace(hour=8))
    for hh, mm in ((8, 10), (8, 31), (8, 45), (9, 0), (12, 0), (15, 20), (15, 30), (16, 0)):
        feed.step(day.replace(hour=hh, minute=mm))
    assert seen == [("pre_open", "08:31"), ("open", "09:00"), ("closing_auction", "15:20"),
                    ("closed", "15:30")]
