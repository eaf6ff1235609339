"""The browser dashboard (``/``), end to end in Debian's Chromium via Playwright.

Most tests share one demo server and one browser (module scope) to stay fast;
the test that stops and restarts its server gets its own. What is checked:
the trading walk-through (prices, watchlist, Korean errors near their cause
with the raw code as a tooltip, the ticket's 주문가능수량 / % buttons / KRX tick
stepping / upper-limit hold, a fill, strategies with their signal history after
a reload and tagged strategy orders), the layout at 1440×900, 1280×720 and
390×844 (no panel wider than itself, order entry one tap away on a phone), the
session and the watchlist across tabs and logins, and honest state while the
server is down (stale prices, disabled buttons with the reason) and the resume
replay after the browser was offline.

Chromium comes from Debian (``apt-get install chromium``); the test fails,
never skips, when it is missing. No browser is downloaded. The README's
screenshots are rewritten only on request (they need a Korean font, e.g.
Debian's fonts-nanum): ``HTS_UPDATE_SCREENSHOT=1 make test``.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from tests.support import ROOT, Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DOCS = ROOT / "docs"
UPDATE_DOCS = os.environ.get("HTS_UPDATE_SCREENSHOT") == "1"
PRICE = re.compile(r"^\d{1,3}(,\d{3})+$")  # "75,100"
WAIT_MS = 15_000
RISE_RED = "rgb(240, 68, 82)"  # --up in style.css
FALL_BLUE = "rgb(61, 139, 253)"  # --down
VIEWPORTS = {"desktop": (1440, 900), "laptop": (1280, 720), "phone": (390, 844)}

# the page and every panel (and its scrolling parts) must not be wider than itself
OVERFLOW = """() => {
  const bad = [];
  const check = (el, name) => {
    if (el.offsetParent !== null || el === document.documentElement) {
      if (el.scrollWidth > el.clientWidth) bad.push([name, el.scrollWidth, el.clientWidth]);
    }
  };
  check(document.documentElement, "page");
  check(document.body, "body");
  for (const el of document.querySelectorAll(".card, .card .scroll, .book-body, .topbar, .tabs")) {
    check(el, el.dataset.testid || el.className);
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One demo server for the tests that don't stop it."""
    srv = Server(tmp_path_factory.mktemp("dashboard")).start()
    yield srv
    srv.stop()


class Tab:
    """A page with its console and errors recorded (shown by pytest when a test fails)."""

    def __init__(self, context: BrowserContext) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console",
                     lambda m: print(f"{time.strftime('%X')} console.{m.type}: {m.text}"))

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)


def login(tab: Tab, srv: Server, user: str = "testuser", password: str = "testpass") -> None:
    tab.page.goto(srv.url + "/")
    tab.tid("login-username").fill(user)
    tab.tid("login-password").fill(password)
    tab.tid("login-submit").click()
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)


def watch_row(tab: Tab, symbol: str) -> Any:
    return tab.page.locator(f'[data-testid=watch-row][data-symbol="{symbol}"]')


def expect_live_book(tab: Tab, symbol: str) -> None:
    """The 호가 and 체결 panels show `symbol` and keep moving: the book has its levels (as
    many a side as fit) and is redrawn from a new snapshot, and a fresh trade is drawn on
    the tape."""
    page = tab.page
    book = tab.tid("orderbook")
    expect(book).to_have_attribute("data-symbol", symbol, timeout=WAIT_MS)
    expect(book).to_have_attribute("data-depth", re.compile(r"^([5-9]|10)$"), timeout=WAIT_MS)
    depth = int(book.get_attribute("data-depth") or 0)
    expect(page.locator("[data-testid=book-level]")).to_have_count(2 * depth, timeout=WAIT_MS)
    expect(page.locator("[data-testid=tape-row]").first).to_be_visible(timeout=WAIT_MS)
    seen = int(book.get_attribute("data-updates") or "0")
    page.locator("[data-testid=tape-row]").first.evaluate("r => { r.dataset.seen = '1'; }")
    # every trade redraws the tape: a first row without the mark is a trade that came after
    expect(page.locator("[data-testid=tape-row]:not([data-seen])").first).to_be_visible(
        timeout=WAIT_MS)
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=orderbook]').dataset.updates) > n",
        arg=seen, timeout=WAIT_MS)


def reset_watchlist(srv: Server, token: str) -> None:
    _, symbols, _ = srv.http("GET", "/api/symbols")
    status, body, _ = srv.http("PUT", "/api/watchlist",
                               {"symbols": [s["symbol"] for s in symbols[:8]]}, token=token)
    assert status == 200, body


def krw(n: int) -> str:
    return f"₩{n:,}"


# a number cut is a number hidden: every number cell of a panel (orders, holdings, the
# account, the book, the tape, the ticket) must be whole (its content no wider than its box)
# and inside its panel's box; names may shorten (they show whole on hover or a tap)
CLIPPED = """(testid) => {
  const panel = document.querySelector(`[data-testid=${testid}]`);
  const box = panel.getBoundingClientRect();
  const bad = [];
  const cells = panel.querySelectorAll(
    "td.num, td.c-side, td.c-status, td.c-id, dd, .lvl .p, .lvl .q b, .lvl.total .q");
  for (const el of cells) {
    if (!el.getClientRects().length) continue; // not shown at this width (a folded header cell)
    const r = el.getBoundingClientRect();
    const text = el.textContent.trim();
    if (el.clientWidth && el.scrollWidth > el.clientWidth + 0.5) {
      bad.push(["cut", text, el.scrollWidth, el.clientWidth]);
    }
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
      bad.push(["outside", text, r.left, r.right, box.left, box.right]);
    }
  }
  return bad;
}"""


# -- the walk-through -------------------------------------------------------------------------


def test_trading_walkthrough(shared: Server, browser: Browser) -> None:
    srv = shared
    token = srv.login()
    reset_watchlist(srv, token)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = Tab(context)
    page = tab.page
    # the login page carries no debug counters
    page.goto(srv.url + "/")
    expect(tab.tid("login-form")).to_be_visible()
    expect(tab.tid("debug")).to_be_hidden()
    login(tab, srv)
    # the support counters are out of the trader's way: behind the connection badge
    expect(tab.tid("debug")).to_be_hidden()
    tab.tid("conn-state").click()
    expect(tab.tid("debug")).to_be_visible()
    expect(tab.tid("last-seq")).to_have_text(re.compile(r"^(\d+|–)$"))
    tab.tid("conn-state").click()
    expect(tab.tid("debug")).to_be_hidden()
    session = page.evaluate("JSON.parse(localStorage.getItem('hts.session'))")
    assert session["token"] and session["username"] == "testuser"
    assert session["expires_at"] > time.time() * 1000 + 3_000_000  # an hour's token

    # -- live prices in the Korean colours ----------------------------------------------
    samsung = watch_row(tab, "005930")
    expect(samsung.get_by_test_id("watch-price")).to_have_text(PRICE, timeout=WAIT_MS)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=update-count]').textContent) > 3",
        timeout=WAIT_MS)
    for cls, colour in page.locator("[data-testid=watch-change]").evaluate_all(
            "cells => cells.map(c => [c.className, getComputedStyle(c).color])"):
        if re.search(r"\bup\b", cls):
            assert colour == RISE_RED, (cls, colour)
        elif re.search(r"\bdown\b", cls):
            assert colour == FALL_BLUE, (cls, colour)

    # -- the watchlist lives on the server -------------------------------------------------
    tab.tid("add-symbol-input").fill("035720")
    tab.tid("add-symbol-submit").click()
    kakao = watch_row(tab, "035720")
    expect(kakao.get_by_test_id("watch-price")).to_have_text(PRICE, timeout=WAIT_MS)
    expect(kakao).to_have_attribute("data-updates", re.compile(r"^[1-9]\d*$"), timeout=WAIT_MS)
    assert "035720" in srv.http("GET", "/api/watchlist", token=token)[1]["symbols"]
    # an unknown symbol: a Korean message beside the form, the raw code in the tooltip
    notice = tab.tid("watch-notice")
    tab.tid("add-symbol-input").fill("999999")
    tab.tid("add-symbol-submit").click()
    expect(notice).to_have_text("없는 종목입니다: 999999")
    expect(notice).to_have_attribute("data-code", "unknown_symbol")
    expect(notice).to_have_attribute("title", re.compile("^unknown_symbol: "))
    tab.tid("add-symbol-input").fill("0")  # typing again: resolved, the notice goes
    expect(notice).to_be_hidden()
    tab.tid("add-symbol-input").fill("")
    # search as you type: part of a name, or its 초성; Enter takes the first match
    options = page.locator("[data-testid=symbol-option]")
    for typed, first_match in (("하이닉", "000660"), ("ㅅㅅㅈㅈ", "005930"), ("naver", "035420")):
        tab.tid("add-symbol-input").fill(typed)
        expect(options.first).to_have_attribute("data-symbol", first_match)
    tab.tid("add-symbol-input").fill("LG화")
    expect(options.first).to_contain_text("LG화학")
    tab.tid("add-symbol-input").press("Enter")
    expect(watch_row(tab, "051910")).to_have_count(1, timeout=WAIT_MS)
    expect(tab.tid("symbol-suggest")).to_be_hidden()
    expect(tab.tid("add-symbol-input")).to_have_value("")

    # -- the ticket: tick stepping, 주문가능수량 with the upper-limit hold, % buttons --------------
    samsung.click()
    ticket_price = tab.tid("order-price")
    tab.tid("order-type").select_option("limit")
    for typed, key, expected in (("49950", "ArrowUp", "50000"), ("50000", "ArrowUp", "50100"),
                                 ("50000", "ArrowDown", "49950"), ("1999", "ArrowUp", "2000"),
                                 ("75050", "ArrowUp", "75100")):
        ticket_price.fill(typed)
        ticket_price.press(key)
        expect(ticket_price).to_have_value(expected)
    ticket_price.fill("75050")
    expect(tab.tid("price-hint")).to_have_text("호가단위 100원에 맞지 않음")
    tab.tid("price-up").click()
    expect(ticket_price).to_have_value("75100")
    expect(tab.tid("price-hint")).to_have_text("호가단위 100원")
    # a market buy holds cash at the day's upper limit: that is what bounds the quantity
    tab.tid("order-type").select_option("market")
    acct = srv.http("GET", "/api/account", token=token)[1]
    upper = page.evaluate("""async () => {
        const m = await import('/static/core.js');
        return (await m.call('get_price', {symbol: '005930'})).data.upper_limit; }""")
    # ... plus its brokerage fee, rounded up (GET /api/costs gives the exact rate)
    fee = Fraction(srv.http("GET", "/api/costs")[1]["brokerage_fee_rate"])
    per_share = upper + math.ceil(upper * fee)
    assert per_share > upper
    most = acct["available_cash"] // per_share
    expect(tab.tid("order-max")).to_have_text(f"주문가능 {most:,}주")
    page.locator("[data-pct='25']").click()
    expect(tab.tid("order-quantity")).to_have_value(str(most * 25 // 100))
    expect(tab.tid("order-estimate")).to_contain_text(krw(most * 25 // 100 * per_share))
    expect(tab.tid("order-estimate")).to_contain_text("예약금액 (상한가·수수료 기준)")
    page.locator("[data-pct='100']").click()
    expect(tab.tid("order-quantity")).to_have_value(str(most))

    # -- the ticket takes thousands separators, follows the symbol, refuses a sell of nothing --
    tab.tid("order-type").select_option("limit")
    ticket_price.fill("75,000")
    expect(tab.tid("price-hint")).to_have_text("호가단위 100원")
    tab.tid("order-quantity").fill("1,000")
    expect(tab.tid("order-estimate")).to_contain_text("≈ ₩75,000,000")
    tab.tid("order-quantity").fill("1")
    band = """async (sym) => {
        const m = await import('/static/core.js');
        const q = (await m.call('get_price', {symbol: sym})).data;
        return [q.lower_limit, q.upper_limit]; }"""
    for switch, sym in ((lambda: kakao.click(), "035720"),  # 75,000 is outside 카카오's band
                        (lambda: tab.tid("order-symbol").fill("000660"), "000660")):
        ticket_price.fill("75,000")
        switch()
        expect(tab.tid("order-symbol")).to_have_value(sym)
        expect(ticket_price).not_to_have_value("75,000")
        lower, upper = page.evaluate(band, sym)
        assert lower <= int(ticket_price.input_value()) <= upper, (sym, ticket_price.input_value())
    ticket_price.fill(str(upper + 1000))
    expect(tab.tid("price-hint")).to_have_text(f"가격제한폭 밖 ({lower:,}~{upper:,})")
    tab.tid("order-side-sell").check(force=True)
    expect(tab.tid("order-submit")).to_be_disabled()
    expect(tab.tid("order-why")).to_have_text("매도가능 수량이 없습니다 (SK하이닉스 보유 0주)")
    tab.tid("order-side-buy").check(force=True)
    expect(tab.tid("order-submit")).to_be_enabled()
    expect(tab.tid("order-why")).to_be_hidden()
    samsung.click()
    expect(tab.tid("order-symbol")).to_have_value("005930")

    # -- a refused order: Korean, numbers formatted, beside the ticket, code in the tooltip --
    order_notice = tab.tid("order-notice")
    tab.tid("order-quantity").fill("0")
    tab.tid("order-submit").click()
    expect(order_notice).to_have_text("수량은 1~1,000,000주 사이여야 합니다", timeout=WAIT_MS)
    expect(order_notice).to_have_attribute("title", re.compile("^invalid_order: quantity"))
    expect(page.locator("[data-testid=blotter-row]")).to_have_count(0)
    tab.tid("order-quantity").fill("3")  # fixing the field resolves it
    expect(order_notice).to_be_hidden()

    # -- a market buy fills in the blotter and moves the cash -----------------------------
    cash = tab.tid("account-cash")
    expect(cash).to_have_text(krw(100_000_000), timeout=WAIT_MS)
    tab.tid("order-submit").click()
    first = page.locator("[data-testid=blotter-row]").first
    expect(first.get_by_test_id("order-status")).to_have_attribute(
        "data-status", "filled", timeout=WAIT_MS)
    expect(first.get_by_test_id("order-status")).to_have_text("체결")
    expect(first.get_by_test_id("order-status")).to_have_attribute("title", "filled")
    order_id = first.get_attribute("data-order-id")
    assert order_id
    # the id is shortened, the whole id on hover
    expect(first.get_by_test_id("order-id")).to_have_text(f"…{order_id[-6:]}")
    expect(first.get_by_test_id("order-id")).to_have_attribute("title", order_id)
    acct = srv.http("GET", "/api/account", token=token)[1]
    assert acct["cash"] < 100_000_000
    # 예수금 is today's settled cash (a buy settles T+2), D+2 예수금 the cash after it
    expect(cash).to_have_text(krw(acct["deposit"]), timeout=WAIT_MS)
    expect(tab.tid("account-deposit-d2")).to_have_text(krw(acct["deposit_d2"]))
    assert acct["deposit_d2"] == acct["cash"] < acct["deposit"]
    expect(page.locator('[data-testid=position-row][data-symbol="005930"]')).to_be_visible()

    # -- strategies: Korean kinds and states with the code as a hint, tagged orders -----------
    # at this width 주문 내역 and 전략 share the lower left: one click apart
    expect(tab.tid("panel-strategies")).to_be_hidden()
    page.locator(".lower-switch [data-lower=strategy]:visible").click()
    expect(tab.tid("panel-blotter")).to_be_hidden()
    form = tab.tid("strategy-form")
    form.get_by_test_id("strategy-kind").select_option("ma_crossover")
    expect(form.get_by_test_id("strategy-kind")).to_contain_text("이동평균 교차")
    form.get_by_test_id("strategy-symbol").fill("005930")
    form.get_by_test_id("strategy-quantity").fill("1")
    form.get_by_test_id("strategy-auto").check()
    form.get_by_test_id("strategy-params").fill('{"short_window": 2, "long_window": 3}')
    form.get_by_test_id("strategy-submit").click()
    card = page.locator("[data-testid=strategy-row]").first
    state = card.get_by_test_id("strategy-state")
    expect(state).to_have_text("대기", timeout=WAIT_MS)
    expect(state).to_have_attribute("title", "created")
    card.get_by_test_id("strategy-start").click()
    expect(state).to_have_text("실행 중", timeout=WAIT_MS)
    expect(state).to_have_attribute("data-state", "running")
    expect(card.get_by_test_id("strategy-signal").first).to_be_visible(timeout=WAIT_MS)
    page.locator(".lower-switch [data-lower=orders]:visible").click()
    tagged = page.locator("[data-testid=blotter-row]:has([data-testid=strategy-tag])")
    expect(tagged.first).to_be_visible(timeout=WAIT_MS)
    expect(tagged.first.get_by_test_id("strategy-tag")).to_contain_text("이동평균 교차")
    manual = page.locator(f'[data-testid=blotter-row][data-order-id="{order_id}"]')
    expect(manual.get_by_test_id("strategy-tag")).to_have_count(0)
    page.locator(".lower-switch [data-lower=strategy]:visible").click()
    card.get_by_test_id("strategy-stop").click()
    expect(state).to_have_text("정지", timeout=WAIT_MS)
    shown = card.get_by_test_id("strategy-signal").count()
    assert shown >= 1

    # -- after a reload the card still shows its signals (loaded from the server) -------------
    page.reload()
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    card = page.locator("[data-testid=strategy-row]").first
    expect(card.get_by_test_id("strategy-signal")).to_have_count(shown, timeout=WAIT_MS)
    sid = card.get_attribute("data-strategy-id")
    srv.http("DELETE", f"/api/strategies/{sid}", token=token)

    # -- 최대 is what the server accepts: a market buy of all of it is not refused ----------
    samsung.click()
    tab.tid("order-side-buy").check(force=True)
    tab.tid("order-type").select_option("market")
    expect(tab.tid("order-max")).to_have_text(re.compile(r"^주문가능 [\d,]+주$"), timeout=WAIT_MS)
    page.locator("[data-pct='100']").click()
    most = int(tab.tid("order-quantity").input_value())
    assert most > 100
    rows_before = page.locator("[data-testid=blotter-row]").count()
    tab.tid("order-submit").click()
    expect(page.locator("[data-testid=blotter-row]")).to_have_count(rows_before + 1,
                                                                    timeout=WAIT_MS)
    expect(tab.tid("order-notice")).to_be_hidden()
    newest = srv.http("GET", "/api/orders", token=token)[1][0]
    assert newest["quantity"] == most and newest["status"] != "rejected", newest
    # with the cash held, one more is refused: in Korean, in won, with thousands separators
    tab.tid("order-quantity").fill(str(most))
    tab.tid("order-submit").click()
    expect(tab.tid("order-notice")).to_have_text(
        re.compile(r"^주문가능금액이 부족합니다: 필요 ₩\d{1,3}(,\d{3})+, 가능 ₩[\d,]+$"),
        timeout=WAIT_MS)
    expect(tab.tid("order-notice")).to_have_attribute("data-code", "insufficient_funds")
    srv.http("DELETE", f"/api/orders/{newest['order_id']}", token=token)
    assert tab.errors == []
    context.close()


# -- the layout at three sizes ----------------------------------------------------------------


def clipped(tab: Tab, panel: str) -> list[Any]:
    """Every money and number cell of a panel that is cut or outside its panel."""
    return list(tab.page.evaluate(CLIPPED, panel))


def wait_filled(srv: Server, token: str, order_id: str) -> None:
    deadline = time.monotonic() + 10
    while srv.http("GET", f"/api/orders/{order_id}", token=token)[1]["status"] != "filled":
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("size", list(VIEWPORTS), ids=list(VIEWPORTS))
def test_layout_every_won_visible_and_order_entry_one_tap_away(
    shared: Server, browser: Browser, size: str, tmp_path: Path,
) -> None:
    srv = shared
    width, height = VIEWPORTS[size]
    user = f"layout_{size}"
    token = srv.add_user(user)
    # a holding worth most of the account (a 0.2 % move is a six-digit 평가손익), and two
    # resting limit orders far below the market: one at a six-digit, one at a seven-char price
    status, bought, _ = srv.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "order_type": "market", "quantity": 800}, token=token)
    assert status == 201, bought
    wait_filled(srv, token, bought["order_id"])
    status, resting, _ = srv.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "order_type": "limit", "quantity": 413, "price": 53_000},
        token=token)
    assert status == 201, resting
    status, dear, _ = srv.http("POST", "/api/orders", {
        "symbol": "207940", "side": "buy", "order_type": "limit", "quantity": 1, "price": 600_000},
        token=token)
    assert status == 201, dear
    if size == "phone":  # a day's trading: the balance must still come first on the 잔고 tab
        for _ in range(110):
            status, body, _ = srv.http("POST", "/api/orders", {
                "symbol": "035720", "side": "buy", "order_type": "limit", "quantity": 1,
                "price": 31_000}, token=token)
            assert status == 201, body
    context = browser.new_context(viewport={"width": width, "height": height},
                                  is_mobile=size == "phone", has_touch=size == "phone")
    tab = Tab(context)
    page = tab.page
    login(tab, srv, user, "password1")
    expect(watch_row(tab, "005930").get_by_test_id("watch-price")).to_have_text(
        PRICE, timeout=WAIT_MS)
    row = page.locator(f'[data-testid=blotter-row][data-order-id="{resting["order_id"]}"]')
    # on the phone the resting order is older than the newest page of 100 (see 더 보기 below)
    expect(row).to_have_count(0 if size == "phone" else 1, timeout=WAIT_MS)
    expect(page.locator("[data-testid=blotter-row]")).to_have_count(
        100 if size == "phone" else 3, timeout=WAIT_MS)
    assert page.evaluate(OVERFLOW) == []
    # the top bar is one line at every size
    assert page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height") <= 45

    # -- candles: history from /api/candles at each interval, the live one from trades --------
    chart = tab.tid("price-chart")
    expect(chart).to_have_attribute("data-candles", re.compile(r"^([2-9]|\d{2,})$"),
                                    timeout=WAIT_MS)
    for label, least in (("5분", 2), ("60분", 1), ("일", 20), ("1분", 2)):
        tab.tid("chart-intervals").get_by_text(label, exact=True).click()
        page.wait_for_function(
            "n => Number(document.querySelector('[data-testid=price-chart]').dataset.candles) >= n",
            arg=least, timeout=WAIT_MS)
    # the x axis: round KST times, more than two of them on a wide chart
    if size == "desktop":
        expect(chart).to_have_attribute("data-x-labels", re.compile(
            r"^(\d\d:\d\d|\d+/\d+)( (\d\d:\d\d|\d+/\d+)){2,}$"), timeout=WAIT_MS)
    # the demo's market never closes: not "정규장" at any hour
    if size != "phone":
        expect(tab.tid("market-status")).to_have_text("상시 개장")
    # the live candle closes at the newest trade of the tape
    if size == "phone":
        tab.tid("tab-book").click()
    page.wait_for_function("""() => {
        const top = document.querySelector('[data-testid=tape-row] td:nth-child(2)');
        const close = document.querySelector('[data-testid=price-chart]').dataset.lastClose;
        return top && close && top.textContent.replace(/,/g, '') === close; }""", timeout=WAIT_MS)

    # -- 호가: the levels and 잔량 합계 fit the panel (ten a side where there is room) -----------
    book = tab.tid("orderbook")
    expect(book).to_have_attribute("data-depth", re.compile(r"^\d+$"), timeout=WAIT_MS)
    depth = int(book.get_attribute("data-depth") or 0)
    assert depth == 10 if size != "laptop" else depth >= 8, (size, depth)
    levels = page.locator("[data-testid=book-level]")
    expect(levels).to_have_count(2 * depth, timeout=WAIT_MS)
    expect(page.locator("[data-testid=book-level][data-side=ask]")).to_have_count(depth)
    expect(page.locator("#orderbook .lvl.last")).to_have_count(1, timeout=WAIT_MS)
    quantities = [q for q in page.locator("[data-testid=book-level] .q b").all_inner_texts() if q]
    assert len(quantities) == 2 * depth, quantities  # one per level, on its side
    for q in quantities:
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", q) and q != "0", q
    prices = [int(p) for p in levels.evaluate_all("ls => ls.map(l => l.dataset.price)")]
    assert prices == sorted(prices, reverse=True), prices  # asks above bids, high to low
    assert clipped(tab, "panel-book") == []
    assert clipped(tab, "panel-tape") == []
    # 체결가 coloured against 전일 종가, only 체결량 by the aggressor
    assert page.evaluate("""async () => {
        const m = await import('/static/core.js');
        const base = (await m.call('get_price', {symbol: '005930'})).data.prev_close;
        const dir = (n) => (n > 0 ? 'up' : n < 0 ? 'down' : 'flat');
        return [...document.querySelectorAll('[data-testid=tape-row]')].flatMap((r) => {
          const p = r.querySelector('[data-testid=tape-price]');
          const q = r.querySelector('[data-testid=tape-qty]');
          const want = dir(Number(p.textContent.replace(/,/g, '')) - base);
          const side = q.title === '매수 체결' ? 'up' : 'down';
          return p.classList.contains(want) && q.classList.contains(side) ? [] : [r.textContent];
        }); }""") == []
    assert page.evaluate(OVERFLOW) == []
    level = page.locator("[data-testid=book-level][data-side=bid]").nth(2)
    picked = level.get_attribute("data-price")
    level.click()
    expect(tab.tid("order-price")).to_have_value(picked)
    expect(tab.tid("order-type")).to_have_value("limit")
    if size == "phone":  # and the ticket opens
        expect(tab.tid("panel-ticket")).to_be_visible()
        tab.tid("tab-quotes").click()
        # one group of panels at a time; the ticket is one tap away
        expect(tab.tid("panel-ticket")).to_be_hidden()
        expect(tab.tid("tabs")).to_be_visible()
        tab.tid("tab-order").click()
        expect(tab.tid("panel-ticket")).to_be_visible()
        expect(tab.tid("order-submit")).to_be_in_viewport()
        assert page.evaluate(OVERFLOW) == []
        tab.tid("tab-account").click()
        # the balance in the first screen, above 100+ orders; the top bar one line
        for money in ("account-cash", "account-available", "account-pnl", "account-total"):
            expect(tab.tid(money)).to_be_in_viewport(ratio=1)
        # today's orders a page (100) at a time, newest first; 더 보기 brings the older ones
        expect(page.locator("[data-testid=blotter-row]")).to_have_count(100, timeout=WAIT_MS)
        expect(tab.tid("blotter-count")).to_have_text("100+건")
        tab.tid("orders-more").click()
        expect(page.locator("[data-testid=blotter-row]")).to_have_count(113, timeout=WAIT_MS)
        expect(tab.tid("orders-more")).to_be_hidden()
        expect(tab.tid("blotter-count")).to_have_text("113건")
        # a shortened name shows whole on a tap
        name = page.locator(f'[data-testid=blotter-row][data-order-id="{dear["order_id"]}"] td.sym')
        whole = "e => { const n = e.querySelector('.nm'); return n.scrollWidth <= n.clientWidth; }"
        assert not name.evaluate(whole)  # 삼성바이오로직스 does not fit a phone's column
        name.tap()
        assert name.evaluate(whole)
        expect(name).to_contain_text("삼성바이오로직스")
        page.evaluate("window.scrollTo(0, 0)")
    else:
        assert clipped(tab, "panel-ticket") == []

    # -- every won of the orders and the holdings: shown, whole, inside the panel -------------
    expect(row).to_be_visible()
    row.scroll_into_view_if_needed()
    for testid, text in (("order-time", re.compile(r"^\d\d:\d\d:\d\d$")),
                         ("order-id", f"…{resting['order_id'][-6:]}"),
                         ("order-kind", "매수 지정가"), ("order-limit", "53,000"),
                         ("order-qty", "0/413"), ("order-remaining", "413"), ("order-avg", "–")):
        expect(row.get_by_test_id(testid)).to_have_text(text)
        expect(row.get_by_test_id(testid)).to_be_in_viewport()
    dear_row = page.locator(f'[data-testid=blotter-row][data-order-id="{dear["order_id"]}"]')
    expect(dear_row.get_by_test_id("order-limit")).to_have_text("600,000")
    bought_row = page.locator(f'[data-testid=blotter-row][data-order-id="{bought["order_id"]}"]')
    expect(bought_row.get_by_test_id("order-avg")).to_have_text(PRICE)
    expect(bought_row.get_by_test_id("order-limit")).to_have_text("시장가")
    holding = page.locator('[data-testid=position-row][data-symbol="005930"]')
    expect(holding.get_by_test_id("position-avg")).to_have_text(PRICE, timeout=WAIT_MS)
    expect(holding.get_by_test_id("position-pnl")).to_have_text(
        re.compile(r"^([+-]₩\d{1,3}(,\d{3})*|₩0)$"))
    expect(holding.get_by_test_id("position-return")).to_have_text(re.compile(r"^[+-]?\d+\.\d\d%$"))
    expect(tab.tid("account-return")).to_have_text(re.compile(r"^[+-]?\d+\.\d\d%$"))
    holding.scroll_into_view_if_needed()
    for cell in ("position-avg", "position-pnl", "position-return"):
        expect(holding.get_by_test_id(cell)).to_be_in_viewport()
    for panel in ("panel-blotter", "panel-account"):
        assert clipped(tab, panel) == [], panel
    assert page.evaluate(OVERFLOW) == []
    rows = page.locator("[data-testid=blotter-row]")
    if size == "desktop":  # 미체결 / 체결 / 전체 (of today), from the server, followed live
        tab.tid("view-open").click()
        expect(rows).to_have_count(2, timeout=WAIT_MS)  # the two resting orders
        # 정정 from the 미체결 row: a new price and a smaller quantity
        row.get_by_test_id("order-amend").click()
        form = tab.tid("amend-form")
        expect(form.get_by_test_id("amend-price")).to_have_value("53000")
        expect(form.get_by_test_id("amend-quantity")).to_have_value("413")
        form.get_by_test_id("amend-price").fill("53,500")
        form.get_by_test_id("amend-quantity").fill("200")
        form.get_by_test_id("amend-submit").click()
        expect(form).to_be_hidden(timeout=WAIT_MS)
        expect(row).to_have_count(0, timeout=WAIT_MS)  # replaced: no longer 미체결
        amended = rows.filter(has=page.get_by_test_id("order-original"))
        expect(amended).to_have_count(1, timeout=WAIT_MS)
        expect(amended.get_by_test_id("order-original")).to_have_text(
            f"정정 …{resting['order_id'][-6:]}")
        expect(amended.get_by_test_id("order-limit")).to_have_text("53,500")
        expect(amended.get_by_test_id("order-remaining")).to_have_text("200")
        new_id = amended.get_attribute("data-order-id")
        server = srv.http("GET", f"/api/orders/{new_id}", token=token)[1]
        assert server["original_order_id"] == resting["order_id"] and server["quantity"] == 200
        assert srv.http("GET", f"/api/orders/{resting['order_id']}", token=token)[1][
            "status"] == "replaced"
        # and 취소 from 미체결: the account reconciles to the won
        amended.get_by_test_id("order-cancel").click()
        expect(amended).to_have_count(0, timeout=WAIT_MS)
        expect(rows).to_have_count(1)
        acct = srv.http("GET", "/api/account", token=token)[1]
        fee = Fraction(srv.http("GET", "/api/costs")[1]["brokerage_fee_rate"])
        dear_hold = 600_000 + math.ceil(600_000 * fee)  # the one order still resting
        assert acct["reserved_cash"] == dear_hold
        assert acct["available_cash"] == acct["deposit_d2"] - dear_hold
        for testid, field in (("account-available", "available_cash"),
                              ("account-cash", "deposit"),
                              ("account-deposit-d2", "deposit_d2"),
                              ("account-purchase", "purchase_amount")):
            expect(tab.tid(testid)).to_have_text(krw(acct[field]), timeout=WAIT_MS)
        tab.tid("view-filled").click()
        expect(rows).to_have_count(1, timeout=WAIT_MS)
        expect(bought_row).to_have_count(1)
        tab.tid("view-all").click()
        expect(rows).to_have_count(4, timeout=WAIT_MS)
        expect(row.get_by_test_id("order-status")).to_have_text("정정됨")
        assert clipped(tab, "panel-blotter") == []  # 원주문번호 too
    else:
        row.get_by_test_id("order-cancel").click()
        expect(row.get_by_test_id("order-status")).to_have_attribute(
            "data-status", "cancelled", timeout=WAIT_MS)
        # a cancelled order rests nowhere: no 미체결 (the cancelled quantity in the tooltip)
        expect(row.get_by_test_id("order-remaining")).to_have_text("0")
        expect(row.get_by_test_id("order-remaining")).to_have_attribute("title", "취소 413주")
    if size == "phone":
        # reconnecting, the badge is longest: the top bar stays one line, nothing wider
        context.set_offline(True)
        expect(tab.tid("conn-state")).to_have_attribute(
            "data-state", re.compile("reconnecting|offline"), timeout=WAIT_MS)
        assert page.evaluate(
            "document.querySelector('.topbar').getBoundingClientRect().height") <= 45
        assert page.evaluate(OVERFLOW) == []
        context.set_offline(False)
        expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected",
                                                        timeout=WAIT_MS)
        tab.tid("tab-quotes").click()
        page.evaluate("window.scrollTo(0, 0)")
    shot = (DOCS if UPDATE_DOCS else tmp_path) / f"dashboard-{size}.png"
    if size != "laptop":
        page.wait_for_timeout(3000 if UPDATE_DOCS else 200)  # some chart to show
        page.screenshot(path=str(shot), animations="disabled")
        assert shot.stat().st_size > 10_000
    assert tab.errors == []
    context.close()


# -- the session and the watchlist across tabs and logins -----------------------------------------


def test_session_and_watchlist_follow_the_user(shared: Server, browser: Browser) -> None:
    srv = shared
    srv.add_user("tabs_user", "password1")
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    one = Tab(context)
    login(one, srv, "tabs_user", "password1")
    # the SDK's Web Storage store for last_seq (the dashboard itself keeps it in memory)
    assert one.page.evaluate("""async () => {
        const { LocalStorageStore } = await import('/static/hts-client.js');
        const s = new LocalStorageStore('test.seq'), got = [s.get()];
        s.set(41); got.push(s.get(), localStorage.getItem('test.seq'));
        localStorage.setItem('test.seq', 'x'); got.push(s.get());
        s.clear(); got.push(s.get(), localStorage.getItem('test.seq'));
        return got; }""") == [None, 41, "41", None, None, None]
    # a new tab is logged in already (the session is in localStorage)
    two = Tab(context)
    two.page.goto(srv.url + "/")
    expect(two.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(two.tid("user-name")).to_have_text("tabs_user")
    expect(watch_row(two, "035720")).to_have_count(0)
    # the symbol in focus is restored in a second tab and after a reload, and its 호가 and
    # 체결 are live at once (not "호가 대기 중" until another symbol is clicked)
    expect_live_book(two, "005930")
    # a symbol switch fills the tape at once with the trades before it (GET /api/trades);
    # trade_update could only bring trades after the switch
    switched = two.page.evaluate("Date.now()")
    watch_row(two, "005380").click()
    two.page.wait_for_function("""t => [...document.querySelectorAll('[data-testid=tape-row]')]
        .some(r => Date.parse(r.dataset.ts) < t - 1000)""", arg=switched, timeout=WAIT_MS)
    expect_live_book(two, "005380")
    three_tab = Tab(context)
    three_tab.page.goto(srv.url + "/")
    expect_live_book(three_tab, "005380")
    three_tab.page.close()
    one.page.reload()
    expect_live_book(one, "005380")
    # added in one tab: the other shows it, with live prices
    one.tid("add-symbol-input").fill("035720")
    one.tid("add-symbol-submit").click()
    expect(watch_row(one, "035720")).to_have_count(1, timeout=WAIT_MS)
    expect(watch_row(two, "035720").get_by_test_id("watch-price")).to_have_text(
        PRICE, timeout=WAIT_MS)
    # removed in the other: gone from the first
    watch_row(two, "000660").hover()
    watch_row(two, "000660").get_by_test_id("watch-remove").click()
    expect(watch_row(one, "000660")).to_have_count(0, timeout=WAIT_MS)
    # a fresh login elsewhere (another browser profile) shows the same list
    other = browser.new_context(viewport={"width": 1280, "height": 720})
    three = Tab(other)
    login(three, srv, "tabs_user", "password1")
    expect(watch_row(three, "035720")).to_have_count(1)
    expect(watch_row(three, "000660")).to_have_count(0)
    symbols = three.page.locator("[data-testid=watch-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.symbol)")
    assert symbols == srv.http("GET", "/api/watchlist", token=srv.login("tabs_user", "password1"))[
        1]["symbols"]
    # logging out in one tab logs out the other, and revokes the token on the server
    token = one.page.evaluate("JSON.parse(localStorage.getItem('hts.session')).token")
    assert srv.http("GET", "/api/account", token=token)[0] == 200
    one.tid("logout").click()
    expect(one.tid("login-form")).to_be_visible(timeout=WAIT_MS)
    expect(two.tid("login-form")).to_be_visible(timeout=WAIT_MS)
    expect(two.tid("login-notice")).to_have_text("다른 탭에서 로그아웃했습니다")
    status, body, _ = srv.http("GET", "/api/account", token=token)
    assert status == 401 and body["error"]["code"] == "auth_revoked", body
    # logging in again (same browser): the restored symbol (the one added last, which
    # selected it) has its 호가 and 체결 live, here and in the other tab
    one.tid("login-username").fill("tabs_user")
    one.tid("login-password").fill("password1")
    one.tid("login-submit").click()
    expect(one.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect_live_book(one, "035720")
    expect(two.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect_live_book(two, "035720")
    # an expired session is not used: the login form says why
    three.page.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('hts.session'));
        s.expires_at = Date.now() - 1000;
        localStorage.setItem('hts.session', JSON.stringify(s)); }""")
    three.page.reload()
    expect(three.tid("login-form")).to_be_visible()
    expect(three.tid("login-notice")).to_have_text("로그인이 만료되었습니다. 다시 로그인하세요")
    expect(three.tid("debug")).to_be_hidden()
    for t in (one, two, three):
        assert t.errors == []
    context.close()
    other.close()


# -- honest state: the server goes away and comes back; the browser goes offline ------------


def test_stale_state_and_resume(make_server: Any, browser: Browser) -> None:
    srv = make_server().start()
    token = srv.login()
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = Tab(context)
    page = tab.page
    login(tab, srv)
    samsung = watch_row(tab, "005930")
    expect(samsung.get_by_test_id("watch-price")).to_have_text(PRICE, timeout=WAIT_MS)
    submit = tab.tid("order-submit")
    expect(submit).to_be_enabled()
    expect(page.locator("body")).to_have_attribute("data-conn", "connected")

    def greyed() -> float:
        return float(page.evaluate(
            "getComputedStyle(document.querySelector('[data-testid=watch-price]')).opacity"))

    assert greyed() == 1.0

    # -- the server stops: prices stale (greyed, with their age), buttons off with the reason --
    srv.stop()
    expect(tab.tid("conn-state")).to_have_attribute(
        "data-state", re.compile("reconnecting|offline"), timeout=WAIT_MS)
    expect(page.locator("body")).to_have_attribute("data-conn", "stale")
    expect(submit).to_be_disabled()
    expect(tab.tid("order-why")).to_have_text(re.compile("연결이 끊겼습니다"))
    expect(submit).to_have_attribute("title", re.compile("연결이 끊겼습니다"))
    expect(page.locator("[data-stale-age]").first).to_have_text(re.compile(r"^\d+초 전 시세$"),
                                                                timeout=WAIT_MS)
    assert greyed() < 0.5
    # the account's market values are as stale as the prices (cash is not)
    assert float(page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=account-pnl]')).opacity")) < 0.5
    assert float(page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=account-cash]')).opacity")) == 1.0

    # -- it comes back: live again, buttons on --------------------------------------------------
    srv.start()
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(page.locator("body")).to_have_attribute("data-conn", "connected")
    expect(submit).to_be_enabled()
    expect(tab.tid("order-why")).to_be_hidden()
    expect(page.locator("[data-stale-age]").first).to_be_hidden()
    assert greyed() == 1.0

    # -- a fill while the browser is offline arrives through the resume replay ------------------
    seq_before = int(tab.tid("last-seq").inner_text())
    log_mark = len(srv.log())
    context.set_offline(True)
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    expect(submit).to_be_disabled()
    expect(tab.tid("order-why")).to_have_text(re.compile("인터넷 연결이 끊겼습니다"))
    status, missed, _ = srv.http(
        "POST", "/api/orders",
        {"symbol": "005930", "side": "buy", "quantity": 2, "order_type": "market"}, token=token)
    assert status == 201, missed
    deadline = time.monotonic() + 10
    order_path = f"/api/orders/{missed['order_id']}"
    while srv.http("GET", order_path, token=token)[1]["status"] != "filled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    missed_row = page.locator(f'[data-testid=blotter-row][data-order-id="{missed["order_id"]}"]')
    expect(missed_row).to_have_count(0)  # nothing reached the page while it was offline
    context.set_offline(False)
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(missed_row.get_by_test_id("order-status")).to_have_attribute(
        "data-status", "filled", timeout=WAIT_MS)
    assert int(tab.tid("last-seq").inner_text()) > seq_before
    deadline = time.monotonic() + 5
    while not re.search(r"replayed [1-9]\d* events after seq \d+", srv.log()[log_mark:]):
        assert time.monotonic() < deadline, srv.log()[log_mark:]
        time.sleep(0.05)
    expect(tab.tid("resumes")).not_to_have_text("0")
    ids = page.locator("[data-testid=blotter-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.orderId)")
    assert len(ids) == len(set(ids)) == 1, ids
    assert tab.errors == []
    context.close()


# -- the session's clock: renewed while in use, 연장 when idle, nothing typed lost ---------------


def test_session_extension_keeps_the_page_and_what_was_typed(
    make_server: Any, browser: Browser,
) -> None:
    # 9 s tokens: renewed 4.5 s before exp when in use, the warning 3 s before when idle
    srv = make_server({"HTS_ACCESS_TOKEN_TTL_SECONDS": "9",
                       "HTS_TOKEN_EXPIRY_WARNING_SECONDS": "2"}).start()
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = Tab(context)
    page = tab.page
    login(tab, srv)
    session = "() => JSON.parse(localStorage.getItem('hts.session'))"
    first = page.evaluate(session)
    assert first["refresh_token"], first
    warning = tab.tid("session-warning")

    # -- in use (typing in the ticket): renewed quietly, the socket carries on -----------------
    qty = tab.tid("order-quantity")
    for n in range(40):
        qty.fill(str(n + 1))
        if page.evaluate(session)["token"] != first["token"]:
            break
        page.wait_for_timeout(500)
    renewed = page.evaluate(session)
    assert renewed["token"] != first["token"] and renewed["expires_at"] > first["expires_at"]
    expect(warning).to_be_hidden()
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected")
    # a second tab of the same browser takes the renewed session (one refresh for both)
    two = Tab(context)
    two.page.goto(srv.url + "/")
    expect(two.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)

    # -- idle: the warning with its countdown, then 연장 keeps the page live ---------------------
    expect(warning).to_be_visible(timeout=WAIT_MS)
    expect(tab.tid("session-left")).to_have_text(re.compile(r"^\d초$"))
    expect(tab.tid("session-extend")).to_be_visible()
    before = page.evaluate(session)
    socket_id = "() => import('/static/core.js').then((m) => m.stream.socket.id)"
    sid = page.evaluate(socket_id)
    tab.tid("session-extend").click()
    expect(warning).to_be_hidden(timeout=WAIT_MS)
    extended = page.evaluate(session)
    assert extended["expires_at"] > before["expires_at"]
    # the other tab follows without a refresh of its own (a refresh token works once)
    two.page.wait_for_function(f"() => JSON.parse(localStorage.getItem('hts.session')).token"
                               f" === {extended['token']!r}")
    # past the old token's exp the connection is the same one, still live
    page.wait_for_timeout(max(0, before["expires_at"] - int(time.time() * 1000)) + 500)
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected")
    expect(two.tid("conn-state")).to_have_attribute("data-state", "connected")
    assert page.evaluate(socket_id) == sid  # renewed in place (renew), not redialled
    count = int(tab.tid("update-count").text_content() or "0")
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=update-count]').textContent) > n",
        arg=count, timeout=WAIT_MS)

    # -- idle to the end: logged out, and the ticket as it was after the next login ----------------
    tab.tid("order-type").select_option("limit")
    tab.tid("order-price").fill("70,100")
    qty.fill("7")
    expect(tab.tid("login-form")).to_be_visible(timeout=30_000)
    expect(tab.tid("login-notice")).to_have_text("로그인이 만료되었습니다. 다시 로그인하세요")
    tab.tid("login-username").fill("testuser")
    tab.tid("login-password").fill("testpass")
    tab.tid("login-submit").click()
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(tab.tid("order-price")).to_have_value("70,100")
    expect(tab.tid("order-quantity")).to_have_value("7")
    expect(tab.tid("order-type")).to_have_value("limit")
    for t in (tab, two):
        assert t.errors == []
    context.close()


# -- a symbol's own state: VI, then held at 상한가 (scripted news on the simulator) -------------


def test_vi_and_upper_limit_badges(make_server: Any, browser: Browser) -> None:
    # +35 % news on a KOSDAQ name 10 s after start: a VI (a 2 s single-price auction here),
    # then the price runs to the upper limit and is held there (tests/test_market_rules.py)
    sym = "086520"
    srv = make_server({"HTS_MARKET_NEWS": f"{sym}:+0.35@10", "HTS_MARKET_VI_SECONDS": "2"}).start()
    status, body, _ = srv.http("PUT", "/api/watchlist", {"symbols": [sym, "005930"]},
                               token=srv.login())
    assert status == 200, body
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = Tab(context)
    page = tab.page
    login(tab, srv)
    badges = watch_row(tab, sym).get_by_test_id("symbol-badge")
    head = tab.tid("chart-badges").get_by_test_id("symbol-badge")
    vi = badges.and_(page.locator("[data-kind=vi]"))
    expect(vi).to_have_text(re.compile(r"^VI (정적|동적)$"), timeout=30_000)
    expect(vi).to_have_attribute(
        "title", re.compile(r"단일가 매매 · \d\d:\d\d:\d\d까지 · 기준가 [\d,]+"))
    expected = badges.and_(page.locator("[data-kind=expected]"))
    expect(expected).to_have_text(re.compile(r"^예상 [\d,]+"))
    expect(head.and_(page.locator("[data-kind=vi]"))).to_be_visible()
    expect(badges.and_(page.locator("[data-kind=limit-up]"))).to_have_text("상한가", timeout=30_000)
    expect(vi).to_have_count(0)
    # a page opened while it is held learns it from GET /api/market (no event comes)
    page.reload()
    expect(tab.tid("conn-state")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(badges).to_have_text(["상한가"])
    expect(head).to_have_text(["상한가"])
    assert tab.errors == []
    context.close()
