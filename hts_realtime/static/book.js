// 호가창 (10-level order book) and 체결 tape of the selected symbol.
//
// orderbook_update / get_orderbook (CONTRACT.md: asks best-first ascending, bids
// best-first descending) draws 매도잔량 | 호가 | 매수잔량 with quantity bars; the row at
// the last trade price is marked. Clicking a level puts its price in the ticket.
// trade_update appends to the tape (newest on top) and feeds the live candle.

import { clock, compact, direction, esc, num, pct } from "./format.js";
import { $, api, call, state, stream } from "./core.js";
import { onChartTrades } from "./market.js";
import { setTicketPrice } from "./trading.js";

const TAPE_ROWS = 60;
let symbol = null;
let book = null;
const tape = [];

export function setBookSymbol(sym) {
  if (sym === symbol) return;
  symbol = sym;
  book = null;
  tape.length = 0;
  $("orderbook").dataset.updates = "0";
  $("orderbook").dataset.symbol = sym ?? "";
  renderBook();
  renderTape();
  if (sym) loadTape(sym);
}

// The tape the moment a symbol opens: its last trades (GET /api/trades), then trade_update
// from there; a trade that arrived while the snapshot was on its way is kept on top.
async function loadTape(sym) {
  let snap;
  try {
    snap = await api.trades(sym, { limit: TAPE_ROWS });
  } catch (err) {
    if (err.status !== 404) console.warn("trades", err.code ?? err); // an older server: live only
    return;
  }
  if (sym !== symbol) return;
  const newest = snap.trades.length ? Date.parse(snap.trades[snap.trades.length - 1].timestamp) : 0;
  const live = tape.filter((t) => Date.parse(t.timestamp) > newest);
  tape.splice(0, tape.length, ...live, ...[...snap.trades].reverse());
  tape.length = Math.min(tape.length, TAPE_ROWS);
  renderTape();
}

/** A snapshot over the socket (after connect, after the symbol changed). */
export async function refreshBook() {
  const sym = symbol;
  if (!sym) return;
  // only where the server took the orderbook topic (a server without the market-depth
  // feeds refuses it, and would count get_orderbook as bad input)
  if (!stream?.topics.has(`orderbook:${sym}`)) {
    if (!book) renderBook(stream?.connected ? "호가 정보 없음" : "호가 대기 중");
    return;
  }
  try {
    const ack = await call("get_orderbook", { symbol: sym });
    if (sym === symbol) onBook(sym, ack.data);
  } catch (err) {
    // a server without the market-depth feed answers unknown_event: say so in the panel
    if (sym === symbol && !book) renderBook(err.code === "offline" ? "호가 대기 중" : "호가 정보 없음");
  }
}

export function onBook(sym, data) {
  if (sym !== symbol) return;
  book = data;
  state.lastMarketAt = Date.now();
  renderBook();
  const el = $("orderbook"); // for tests and tools: how many snapshots this symbol's book had
  el.dataset.updates = String(Number(el.dataset.updates ?? 0) + 1);
}

export function onTrades(sym, trades) {
  onChartTrades(sym, trades);
  if (sym !== symbol) return;
  state.lastMarketAt = Date.now();
  for (const t of trades) tape.unshift(t);
  tape.length = Math.min(tape.length, TAPE_ROWS);
  renderTape();
}

function prevClose() {
  return state.quotes.get(symbol)?.prev_close ?? state.symbols.get(symbol)?.prev_close ?? null;
}

function renderBook(message) {
  const el = $("orderbook");
  if (!book) {
    el.innerHTML = `<p class="empty">${esc(message ?? (symbol ? "호가 대기 중" : "종목을 선택하세요"))}</p>`;
    el.dataset.levels = "0";
    return;
  }
  const n = depth(el);
  const levels = [...book.asks.slice(0, n).reverse().map((l) => [l, "ask"]), ...book.bids.slice(0, n).map((l) => [l, "bid"])];
  // rows are made once and updated in place: a click never lands on a row being replaced
  let rows = el.querySelector(".levels");
  if (!rows || rows.children.length !== levels.length) {
    el.innerHTML = `<div class="levels">${levels.map(() => `<div class="lvl" data-testid="book-level"
        role="button" tabindex="0"><span class="q ask-q"><span class="bar"></span><b></b></span>
        <span class="p"><span class="pv"></span><small></small></span>
        <span class="q bid-q"><span class="bar"></span><b></b></span></div>`).join("")}</div>
      <div class="lvl total"><span class="q ask-q"></span><span class="p dim">잔량 합계</span><span class="q bid-q"></span></div>`;
    rows = el.querySelector(".levels");
  }
  const base = prevClose();
  const max = Math.max(1, ...levels.map(([l]) => l.quantity));
  const last = book.last_price;
  levels.forEach(([l, side], i) => {
    const row = rows.children[i];
    const chg = base ? ((l.price - base) / base) * 100 : null;
    row.className = `lvl ${side}${l.price === last ? " last" : ""}`;
    row.dataset.side = side;
    row.dataset.price = String(l.price);
    row.title = `${num(l.price)}원 주문가격으로`;
    const p = row.querySelector(".p");
    p.className = `p ${direction(chg ?? 0)}`;
    p.querySelector(".pv").textContent = num(l.price);
    p.querySelector("small").textContent = chg === null ? "" : pct(chg);
    row.setAttribute("aria-label", `${side === "ask" ? "매도" : "매수"} ${num(l.price)}원 ${num(l.quantity)}주`);
    for (const q of ["ask", "bid"]) {
      const cell = row.querySelector(`.${q}-q`);
      const mine = q === side;
      cell.querySelector("b").textContent = mine ? num(l.quantity) : "";
      // bar widths through the CSSOM (no inline style attributes: the page's CSP forbids them)
      const bar = cell.querySelector(".bar");
      bar.hidden = !mine;
      if (mine) bar.style.width = `${Math.round((l.quantity / max) * 100)}%`;
    }
  });
  const [ta, , tb] = el.querySelector(".lvl.total").children;
  ta.textContent = num(book.total_ask_quantity);
  tb.textContent = num(book.total_bid_quantity);
  el.dataset.levels = String(levels.length);
  el.dataset.depth = String(n);
  drawnDepth = n;
  el.dataset.lastPrice = String(last);
}

// How many levels a side fit the panel at ROW_MIN px a row, with the 잔량 합계 row under
// them: ten when there is room (1440×900, a phone), fewer on a short screen (1280×720)
// rather than a box that scrolls away the best ask or bid. At least MIN_DEPTH (then the
// panel scrolls). The totals are always the whole book's.
const ROW_MIN = 17;
const TOTAL_ROW = 23;
const MIN_DEPTH = 5;
function depth(el) {
  const h = el.clientHeight;
  if (!h) return 10; // not laid out (a hidden phone tab): take the full book
  return Math.max(MIN_DEPTH, Math.min(10, Math.floor((h - TOTAL_ROW) / ROW_MIN / 2)));
}
let drawnDepth = 0;
new ResizeObserver(() => {
  const el = $("orderbook");
  if (book && el.clientHeight && depth(el) !== drawnDepth) renderBook();
}).observe($("orderbook"));

function pick(e) {
  const lvl = e.target.closest("[data-testid=book-level]");
  if (!lvl) return;
  setTicketPrice(symbol, Number(lvl.dataset.price));
  if (matchMedia("(max-width: 760px)").matches) window.dispatchEvent(new CustomEvent("hts:tab", { detail: "order" }));
}
$("orderbook").addEventListener("click", pick);
$("orderbook").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") pick(e); });

// As a Korean HTS prints it: 체결가 red above 전일 종가 and blue below (a +4.8 % stock is red
// whoever hit whom); only 체결량 by the aggressor (매수 체결 red, 매도 체결 blue).
function renderTape() {
  const base = prevClose();
  $("tape").innerHTML = tape.map((t) => `<tr data-testid="tape-row" data-ts="${esc(t.timestamp)}">
      <td class="num dim">${esc(clock(t.timestamp))}</td>
      <td class="r num ${base ? direction(t.price - base) : "flat"}" data-testid="tape-price">${num(t.price)}</td>
      <td class="r num ${t.side === "buy" ? "up" : "down"}" data-testid="tape-qty"
        title="${t.side === "buy" ? "매수 체결" : "매도 체결"}">${num(t.quantity)}</td></tr>`).join("")
    || `<tr><td colspan="3" class="empty">${symbol ? "체결 대기 중" : ""}</td></tr>`;
  $("tape-volume").textContent = tape.length ? `거래량 ${compact(tape[0].volume)}` : "";
}
