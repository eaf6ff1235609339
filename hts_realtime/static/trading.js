// Trading: the order ticket, the live blotter (order_update) and the account.
//
// The ticket shows what the server would allow: a buy holds cash at its limit
// price, or at the day's upper limit for a market order (README, Paper trading),
// so 주문가능수량 = available cash ÷ that price; a sell, the shares available.

import { cost, holdPerShare, krw, num, onGrid, rate, shortId, stepTick, tickSize } from "./format.js";
import { $, api, call, clear, connected, intOrRaw, nameOf, report, resolve, state } from "./core.js";
import { AccountView, BlotterView, tapForFullName } from "./panels.js";

const orders = new Map(); // order_id -> the newest view of the order
let fee = { num: 0, den: 1 }; // the brokerage fee rate (GET /api/costs)
let taxes = {}; // market -> sell tax rate

/** The server's cost rates: 주문가능수량 and the hold then match the broker to the won. */
export async function loadCosts() {
  try {
    const c = await api.costs();
    fee = rate(c.brokerage_fee_rate);
    taxes = Object.fromEntries(Object.entries(c.sell_tax_rates ?? {}).map(([m, r]) => [m, rate(r)]));
    updateTicket();
  } catch (err) {
    if (err.status !== 404) report(err, "order"); // an older server: no fees to count
  }
}
let strategyName = (id) => id;
export const setStrategyNamer = (fn) => { strategyName = fn; };

const blotter = new BlotterView($("blotter"), $("blotter-count"), {
  onCancel: cancelOrder, onAmend: openAmend, nameOf, strategyName: (id) => strategyName(id),
});
const account = new AccountView({
  id: $("account-id"), cash: $("account-cash"), available: $("account-available"),
  deposit2: $("account-deposit-d2"), purchase: $("account-purchase"),
  market: $("account-market"), unrealized: $("account-unrealized"), ret: $("account-return"),
  realized: $("account-realized"), total: $("account-total"), positions: $("positions"),
  costs: $("account-costs"), positionsEmpty: $("positions-empty"),
}, nameOf);
tapForFullName($("positions"));
tapForFullName($("blotter"));

// -- 주문 내역: 미체결 / 체결 / 전체 views of GET /api/orders, a page at a time -------------------

const PAGE = 100;
// 미체결 of every day (an order can rest overnight); 체결 and 전체 of today (KST)
const VIEWS = { open: { view: "open" }, filled: { view: "filled", day: "today" }, all: { view: "all", day: "today" } };
let view = VIEWS[localStorage.getItem("hts.orders.view")] ? localStorage.getItem("hts.orders.view") : "all";
let cursor = null; // the next (older) page, or null
let loading = 0; // a load in flight: its answer wins over older ones

const kstDay = (iso) => new Date(Date.parse(iso) + 9 * 3_600_000).toISOString().slice(0, 10);
const today = () => kstDay(new Date().toISOString());
const resting = (o) => o.status === "accepted" || o.status === "partially_filled";
function inView(o) {
  if (view === "open") return resting(o);
  if (kstDay(o.created_at) !== today()) return false;
  return view === "all" || o.filled_quantity > 0;
}

/** An order from `order_update`, the replay, or an HTTP answer. */
export function onOrder(o) {
  const cur = orders.get(o.order_id);
  if (cur && cur.updated_at > o.updated_at) return; // an older view of the order
  const next = { ...cur, ...o };
  orders.set(o.order_id, next);
  amendGone(next);
  if (inView(next)) blotter.upsert(next);
  else blotter.remove(o.order_id); // filled or cancelled while 미체결 is shown
  refreshAccountSoon();
}

/** The view's newest page (at start, after a resync, on a view change). */
export async function loadOrders() {
  const mine = ++loading;
  try {
    const page = await api.ordersPage({ ...VIEWS[view], limit: PAGE });
    if (mine !== loading) return;
    blotter.clear();
    for (const o of [...page.orders].reverse()) onOrder(o);
    cursor = page.next_cursor;
    showMore();
    clear("blotter");
  } catch (err) {
    if (mine === loading) report(err, "blotter");
  }
}

async function loadMore() {
  if (!cursor) return;
  const mine = loading;
  $("orders-more").disabled = true;
  try {
    const page = await api.ordersPage({ ...VIEWS[view], limit: PAGE, cursor });
    if (mine !== loading) return;
    for (const o of page.orders) onOrder(o);
    cursor = page.next_cursor;
  } catch (err) {
    report(err, "blotter");
  } finally {
    $("orders-more").disabled = false;
    showMore();
  }
}

function showMore() {
  $("orders-more").hidden = !cursor;
  blotter.setMore(Boolean(cursor));
}

function showView(next) {
  view = next;
  localStorage.setItem("hts.orders.view", view);
  for (const b of $("order-views").querySelectorAll("button")) b.classList.toggle("on", b.dataset.view === view);
  blotter.setView(view);
}
$("order-views").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-view]");
  if (!b || b.dataset.view === view) return;
  showView(b.dataset.view);
  loadOrders();
});
$("orders-more").addEventListener("click", loadMore);
showView(view);

let accountTimer = null;
function refreshAccountSoon() {
  clearTimeout(accountTimer);
  accountTimer = setTimeout(refreshAccount, 150);
}

/** The account from the `get_account` ack, or over HTTP when `overHttp` or not connected. */
export async function refreshAccount(overHttp = false) {
  try {
    account.set(connected() && !overHttp ? (await call("get_account")).data : await api.account());
    updateTicket();
  } catch (err) {
    if (err.code !== "offline" && err.code !== "network_error") report(err, "blotter");
  }
}

async function cancelOrder(orderId, button) {
  button.disabled = true;
  try {
    onOrder(await api.cancelOrder(orderId));
    clear("blotter");
  } catch (err) {
    button.disabled = false;
    report(err, "blotter");
  }
}

// -- 정정 (amend) from a 미체결 row: cancel-and-replace on the server -------------------------

const amendForm = $("amend-form");
let amending = null; // the order_id being amended

function openAmend(orderId) {
  const o = orders.get(orderId);
  if (!o) return;
  amending = orderId;
  $("amend-what").textContent = `정정 ${shortId(orderId)} · ${nameOf(o.symbol)} ${o.side === "buy" ? "매수" : "매도"} ${num(o.price)}원 · 미체결 ${num(o.remaining_quantity)}주`;
  amendForm.price.value = String(o.price);
  amendForm.quantity.value = String(o.remaining_quantity);
  amendForm.hidden = false;
  clear("blotter");
  amendForm.price.focus();
}
function closeAmend() {
  amending = null;
  amendForm.hidden = true;
}
$("amend-close").addEventListener("click", closeAmend);
amendForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const o = orders.get(amending);
  if (!o || !tradingEnabled) return;
  // only what changed goes: a lower quantity at the same price keeps the queue place
  const change = {};
  const price = intOrRaw(amendForm.price.value);
  const quantity = intOrRaw(amendForm.quantity.value);
  if (price !== o.price) change.price = price;
  if (quantity !== o.remaining_quantity) change.quantity = quantity;
  const submit = amendForm.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    const next = await api.amendOrder(o.order_id, change);
    onOrder(next);
    closeAmend();
    clear("blotter");
  } catch (err) {
    report(err, "blotter");
  } finally {
    submit.disabled = false;
  }
});
// the order stopped resting meanwhile (filled, cancelled elsewhere): nothing left to amend
function amendGone(o) {
  if (amending === o.order_id && !resting(o)) closeAmend();
}

/** A quote: re-mark positions, refresh the ticket. */
export function onPriceForTrading(symbol, q) {
  account.onPrice(symbol, q.price);
  if (symbol === resolve(ticket.symbol.value)) {
    if (ticket.order_type.value === "limit" && !ticket.price.value) ticket.price.value = String(q.price);
    updateTicket();
  }
}

/** Buttons off (with the reason) while the connection is not live. */
export function setTradingEnabled(on, why) {
  tradingEnabled = on;
  connectionWhy = on ? "" : why;
  showSubmit();
  blotter.setEnabled(on, why);
}
let tradingEnabled = false;
let connectionWhy = ""; // why the connection does not allow orders now
let noShares = ""; // why this sell cannot be sent
let busy = false;

// -- the order ticket ------------------------------------------------------------------

const ticket = $("order-form");

export function setTicketSymbol(sym) {
  if (resolve(ticket.symbol.value) !== sym) ticket.symbol.value = sym;
  updateTicket();
}

// The symbol the ticket's price belongs to. When the ticket moves to another symbol (the
// watchlist, or typed into the field) its limit price starts again from that symbol's
// price: a price left from the previous symbol is likely outside the new one's band.
let ticketSym = null;
function followSymbol(sym) {
  if (!sym || sym === ticketSym) return;
  ticketSym = sym;
  const q = state.quotes.get(sym);
  ticket.price.value = q ? String(q.price) : "";
  if (!q && connected()) { // not in the watchlist: ask for its quote once
    call("get_price", { symbol: sym }).then((ack) => {
      if (!state.quotes.has(sym)) state.quotes.set(sym, ack.data);
      if (ticketSym === sym && !ticket.price.value) ticket.price.value = String(ack.data.price);
      updateTicket();
    }).catch(() => {});
  }
}

/** What the ticket holds, to put back after a forced re-login (session.js). */
export const ticketDraft = () => ({
  symbol: ticket.symbol.value, side: ticket.side.value, order_type: ticket.order_type.value,
  price: ticket.price.value, quantity: ticket.quantity.value,
});

export function restoreTicket(d) {
  ticket.symbol.value = String(d.symbol ?? "");
  ticketSym = resolve(ticket.symbol.value); // keep the typed price: it belongs to this symbol
  for (const r of ticket.querySelectorAll("input[name=side]")) r.checked = r.value === d.side;
  if (d.order_type === "limit" || d.order_type === "market") ticket.order_type.value = d.order_type;
  ticket.price.value = String(d.price ?? "");
  ticket.quantity.value = String(d.quantity ?? "");
  updateTicket();
}

/** A 호가 level was clicked: a limit order at that price. */
export function setTicketPrice(sym, price) {
  if (sym && resolve(ticket.symbol.value) !== sym) ticket.symbol.value = sym;
  if (sym) ticketSym = sym;
  ticket.order_type.value = "limit";
  ticket.price.value = String(price);
  clear("order");
  updateTicket();
}

const priceOf = () => intOrRaw(ticket.price.value);

/** {max, holdPrice, basis}: how many shares the server would accept now. */
function capacity(sym, buy, limit) {
  const a = account.account;
  const q = state.quotes.get(sym);
  if (!a) return { max: null };
  if (!buy) {
    const pos = (a.positions ?? []).find((p) => p.symbol === sym);
    return { max: pos?.available_quantity ?? 0 };
  }
  const holdPrice = limit ? (Number.isInteger(priceOf()) && priceOf() > 0 ? priceOf() : null) : q?.upper_limit ?? null;
  if (!holdPrice) return { max: null };
  const perShare = holdPerShare(holdPrice, fee);
  return { max: Math.floor(a.available_cash / perShare), holdPrice, perShare };
}

function updateTicket() {
  const sym = resolve(ticket.symbol.value);
  followSymbol(sym);
  const buy = ticket.side.value === "buy";
  const limit = ticket.order_type.value === "limit";
  ticket.price.disabled = !limit;
  for (const b of ticket.querySelectorAll(".step")) b.disabled = !limit;
  if (!limit) ticket.price.placeholder = "시장가";
  else ticket.price.placeholder = "";
  const submit = $("order-submit");
  submit.textContent = `${buy ? "매수" : "매도"} 주문${sym ? ` · ${nameOf(sym)}` : ""}`;
  submit.className = `primary ${buy ? "buy" : "sell"}`;
  $("ticket-name").textContent = sym ? `${nameOf(sym)} ${sym}` : "";
  const q = state.quotes.get(sym);
  const price = priceOf();
  const priced = limit && Number.isInteger(price) && price > 0;
  const outside = priced && q?.upper_limit && (price > q.upper_limit || price < q.lower_limit);
  $("price-hint").textContent = !limit ? (q?.upper_limit ? `상한가 ${num(q.upper_limit)}` : "")
    : outside ? `가격제한폭 밖 (${num(q.lower_limit)}~${num(q.upper_limit)})`
      : priced ? (onGrid(price) ? `호가단위 ${num(tickSize(price))}원` : `호가단위 ${num(tickSize(price))}원에 맞지 않음`)
        : limit && ticket.price.value.trim() ? "숫자로 입력하세요 (예: 75,000)" : "";
  $("price-hint").classList.toggle("bad", Boolean(outside) || (priced && !onGrid(price))
    || (limit && !priced && Boolean(ticket.price.value.trim())));
  const cap = sym ? capacity(sym, buy, limit) : { max: null };
  ticket.dataset.max = cap.max ?? "";
  $("max-qty").textContent = cap.max === null ? "" : `${buy ? "주문가능" : "매도가능"} ${num(cap.max)}주`;
  const qty = intOrRaw(ticket.quantity.value);
  const rows = [];
  const unit = limit ? price : q?.price;
  if (sym && Number.isInteger(qty) && qty > 0) {
    if (Number.isInteger(unit) && unit > 0) rows.push(["주문금액", `≈ ${krw(qty * unit)}`]);
    if (buy && cap.perShare) {
      rows.push([limit ? "예약금액 (수수료 포함)" : "예약금액 (상한가·수수료 기준)", krw(qty * cap.perShare)]);
    } else if (!buy) {
      rows.push(["예약수량", `${num(qty)}주`]);
      const market = state.symbols.get(sym)?.market;
      if (Number.isInteger(unit) && unit > 0) {
        const amount = qty * unit;
        rows.push(["예상 수수료·세금", `≈ ${krw(cost(amount, fee) + cost(amount, taxes[market] ?? { num: 0, den: 1 }))}`]);
      }
    }
  }
  $("ticket-est").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  // a sell of shares that are not there is refused before it is sent, with the reason
  const pos = (account.account?.positions ?? []).find((p) => p.symbol === sym);
  noShares = !buy && Boolean(sym) && cap.max === 0
    ? (pos ? `매도가능 수량이 없습니다 (보유 ${num(pos.quantity)}주 모두 매도 주문 중)` : `매도가능 수량이 없습니다 (${nameOf(sym)} 보유 0주)`)
    : "";
  showSubmit();
}

/** The submit button: off while the connection is down or there is nothing to sell. */
function showSubmit() {
  const why = !tradingEnabled ? connectionWhy || "연결 중…" : noShares;
  $("order-submit").disabled = Boolean(why) || busy;
  $("order-why").hidden = !why;
  $("order-why").textContent = why;
  $("order-submit").title = why;
}

ticket.addEventListener("input", () => { clear("order"); updateTicket(); });
ticket.addEventListener("change", updateTicket);

// price stepping by the KRX tick: the buttons and the arrow keys
function step(dir) {
  const p = priceOf();
  const base = Number.isInteger(p) && p > 0 ? p : state.quotes.get(resolve(ticket.symbol.value))?.price;
  const next = base ? stepTick(base, dir) : null;
  if (next) ticket.price.value = String(next);
  updateTicket();
}
for (const b of ticket.querySelectorAll(".step")) b.addEventListener("click", () => step(Number(b.dataset.step)));
ticket.price.addEventListener("keydown", (e) => {
  if (e.key === "ArrowUp" || e.key === "ArrowDown") {
    e.preventDefault();
    step(e.key === "ArrowUp" ? 1 : -1);
  }
});

// 10 / 25 / 50 / 100% of what the server would allow
for (const b of ticket.querySelectorAll("[data-pct]")) {
  b.addEventListener("click", () => {
    const max = Number(ticket.dataset.max);
    if (!ticket.dataset.max || !max) return;
    ticket.quantity.value = String(Math.max(1, Math.floor((max * Number(b.dataset.pct)) / 100)));
    updateTicket();
  });
}

ticket.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!tradingEnabled || busy || noShares) return;
  const body = {
    symbol: resolve(ticket.symbol.value) ?? ticket.symbol.value.trim(),
    side: ticket.side.value,
    order_type: ticket.order_type.value,
    quantity: intOrRaw(ticket.quantity.value),
  };
  if (body.order_type === "limit") body.price = priceOf();
  const submit = $("order-submit");
  busy = true;
  submit.disabled = true;
  try {
    onOrder(await api.placeOrder(body));
    clear("order");
  } catch (err) {
    report(err, "order");
  } finally {
    busy = false;
    showSubmit();
  }
});
