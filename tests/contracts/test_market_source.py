"""The ``MarketSource`` port: the simulator, an external market (what a broker's feed
applies to it) and a replay of a recording, under one scenario: the step's prints,
the quote and the book agree, the book keeps its shape, and a paper take shows."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.krx import on_grid, price_limits, tick_down, tick_up
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.orderbook import Trade
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.replay import Recorder, Recording, ReplayMarket
from hts_realtime.ports import MarketSource

pytestmark = pytest.mark.fast
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=KST)
MASTER = SymbolMaster()
SYMBOLS = [s.symbol for s in MASTER][:4]


@dataclass
class World:
    market: MarketSource
    before_step: Callable[[int], None]  # what arrives from outside before step i


def tape(m: ExternalMarket, seed: int = 4) -> Callable[[int], None]:
    """A random tape on the grid inside the band, as a broker's feed would apply it."""
    rng = random.Random(seed)
    state = {s: MASTER.get(s).prev_close for s in SYMBOLS}  # type: ignore[union-attr]
    volume = dict.fromkeys(SYMBOLS, 0)

    def feed(i: int) -> None:
        for s in SYMBOLS:
            prev = MASTER.get(s).prev_close  # type: ignore[union-attr]
            lower, upper = price_limits(prev)
            for _ in range(rng.randint(0, 3)):
                p = state[s]
                p = min(upper, tick_up(p)) if rng.random() < 0.5 else max(lower, tick_down(p))
                state[s] = p
                q = rng.randint(1, 40)
                volume[s] += q
                m.print_trade(s, Trade(s, p, q, Side.BUY, volume[s], NOW), open=prev,
                              high=max(prev, p), low=min(prev, p), prev_close=prev)
            p = state[s]
            asks = [(tick_up(p, k), 10 + k) for k in range(1, 11) if tick_up(p, k) <= upper]
            bids = [(tick_down(p, k), 10 + k) for k in range(0, 10) if tick_down(p, k) >= lower]
            m.set_book(s, asks, bids, NOW)
    return feed


@pytest.fixture(params=["simulator", "external", "replay"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "simulator":
        yield World(MarketSimulator(MASTER, seed=9, now=NOW), lambda i: None)
        return
    if request.param == "external":
        m = ExternalMarket([s.symbol for s in MASTER], MarketHours("always"))
        yield World(m, tape(m))
        return
    sim = MarketSimulator(MASTER, seed=9, now=NOW)  # a recording of the simulator
    out, clock = io.StringIO(), [0.0]
    recorder = Recorder(sim, out, SYMBOLS, "sim", clock=lambda: clock[0])
    feed = MarketFeed(sim, 0.5, [recorder.on_quotes])
    for i in range(80):
        clock[0] = 0.5 * i
        feed.step(NOW + timedelta(seconds=0.5 * i))
    replay = ReplayMarket([s.symbol for s in MASTER], MarketHours("always"),
                          Recording.parse(io.StringIO(out.getvalue())), tick=0.5)
    replay.held = False
    yield World(replay, lambda i: None)


def test_prints_quote_and_book_agree_and_the_book_keeps_its_shape(world: World) -> None:
    m = world.market
    printed = 0
    for i in range(60):
        world.before_step(i)
        for q in m.step(NOW + timedelta(seconds=0.5 * i)):
            if not q.trades:
                continue
            printed += len(q.trades)
            assert q.price == q.trades[-1].price == m.quote(q.symbol).price  # type: ignore
            volumes = [t.volume for t in q.trades]
            assert volumes == sorted(volumes) and q.volume == volumes[-1]
            assert q.last_volume == sum(t.quantity for t in q.trades)
        for s in SYMBOLS:
            book = m.book(s)
            quote = m.quote(s)
            if book is None or quote is None:
                continue
            lower, upper = quote.limits
            asks, bids = [lv.price for lv in book.asks], [lv.price for lv in book.bids]
            assert asks == sorted(set(asks)) and bids == sorted(set(bids), reverse=True)
            assert all(lv.quantity > 0 for lv in (*book.asks, *book.bids))
            assert all(on_grid(p) and lower <= p <= upper for p in asks + bids)
            if asks and bids:
                assert bids[0] < asks[0]
    assert printed > 20


def test_a_paper_take_shows_in_the_book(world: World) -> None:
    m = world.market
    for i in range(10):
        world.before_step(i)
        m.step(NOW + timedelta(seconds=0.5 * i))
    symbol = next(s for s in SYMBOLS if (b := m.book(s)) is not None and b.asks)
    book = m.book(symbol)
    assert book is not None
    best = book.asks[0]
    version = m.book_version(symbol)
    m.take_liquidity(symbol, Side.BUY, [(best.price, best.quantity)])
    after = m.book(symbol)
    assert after is not None and m.book_version(symbol) > version
    assert all(lv.price != best.price for lv in after.asks) or \
        after.asks[0].price != best.price or after.asks[0].quantity != best.quantity
