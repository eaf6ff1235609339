// Trading: the order ticket, the live order blotter (driven by `order_update`)
// and the account (refreshed with `get_account` after each order event).

import { krw, newKey } from "./api.js";
import { $, call, connected, http, intOrRaw, nameOf, report, resolve, state } from "./core.js";
import { AccountView, BlotterView } from "./panels.js";

const orders = new Map(); // order_id -> the newest view of the order

const blotter = new BlotterView($("blotter"), $("blotter-count"), { onCancel: cancelOrder, nameOf });
const account = new AccountView({
  id: $("account-id"), cash: $("account-cash"), available: $("account-available"),
  market: $("account-market"), unrealized: $("account-unrealized"),
  realized: $("account-realized"), total: $("account-total"), positions: $("positions"),
}, nameOf);

/** An order from `order_update`, the replay, or an HTTP answer. */
export function onOrder(o) {
  const cur = orders.get(o.order_id);
  if (cur && cur.updated_at > o.updated_at) return; // an older view of the order
  orders.set(o.order_id, { ...cur, ...o });
  blotter.upsert(orders.get(o.order_id));
  refreshAccountSoon();
}

export async function loadOrders() {
  try {
    const list = await http("GET", "/api/orders");
    list.sort((a, b) => a.created_at.localeCompare(b.created_at)).forEach(onOrder);
  } catch (err) {
    report(err, "orders");
  }
}

let accountTimer = null;
function refreshAccountSoon() {
  clearTimeout(accountTimer);
  accountTimer = setTimeout(refreshAccount, 150);
}

/** The account from the `get_account` ack, or over HTTP when `overHttp` or not connected. */
export async function refreshAccount(overHttp = false) {
  try {
    account.set(connected() && !overHttp
      ? (await call("get_account")).data : await http("GET", "/api/account"));
  } catch (err) {
    if (err.code !== "offline") report(err, "account"); // the next connection refreshes it
  }
}

async function cancelOrder(orderId, button) {
  button.disabled = true;
  try {
    onOrder(await http("DELETE", `/api/orders/${encodeURIComponent(orderId)}`));
  } catch (err) {
    button.disabled = false;
    report(err, "cancel");
  }
}

/** A live price: re-mark positions, refresh the ticket's estimate. */
export function onPriceForTrading(symbol, price) {
  account.onPrice(symbol, price);
  if (symbol === resolve(ticket.symbol.value)) updateEstimate();
}

// -- the order ticket ------------------------------------------------------------------

const ticket = $("order-form");

export function setTicketSymbol(sym) {
  if (ticket.symbol.value !== sym) {
    ticket.symbol.value = sym;
    ticket.price.value = "";
  }
  updateTicket();
}

function updateTicket() {
  const buy = ticket.side.value === "buy";
  const limit = ticket.order_type.value === "limit";
  ticket.price.disabled = !limit;
  if (limit && !ticket.price.value) {
    const q = state.quotes.get(resolve(ticket.symbol.value));
    if (q) ticket.price.value = q.price;
  }
  const submit = $("order-submit");
  submit.textContent = buy ? "매수 주문 Buy" : "매도 주문 Sell";
  submit.className = `primary ${buy ? "buy" : "sell"}`;
  updateEstimate();
}

function updateEstimate() {
  const sym = resolve(ticket.symbol.value);
  const qty = Number(ticket.quantity.value);
  const price = ticket.order_type.value === "limit"
    ? Number(ticket.price.value) : state.quotes.get(sym)?.price;
  $("ticket-est").textContent = sym && Number.isInteger(qty) && qty > 0 && price
    ? `${nameOf(sym)} · 예상 금액 ≈ ${krw(qty * price)}` : "";
}

ticket.addEventListener("input", updateTicket);
ticket.addEventListener("change", updateTicket);
ticket.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    symbol: resolve(ticket.symbol.value) ?? ticket.symbol.value.trim(),
    side: ticket.side.value,
    order_type: ticket.order_type.value,
    quantity: intOrRaw(ticket.quantity.value),
  };
  if (body.order_type === "limit") body.price = intOrRaw(ticket.price.value);
  const submit = $("order-submit");
  submit.disabled = true;
  try {
    onOrder(await http("POST", "/api/orders", body, { "Idempotency-Key": newKey() }));
  } catch (err) {
    report(err, "order");
  } finally {
    submit.disabled = false;
  }
});
