// hts-realtime dashboard: login, the Socket.IO connection, and the wiring
// from server events to the panels (panels.js) and the chart (chart.js).
//
// Resume: every handshake (the first, socket.io-client's automatic
// reconnects, and ours after the browser comes back online) sends
// auth = {token, topics, last_seq}, computed at that moment, so the server
// restores the subscriptions and replays the private events (orders,
// strategies) we missed. Private events are deduplicated by `seq`.

import { ApiError, clock, direction, esc, krw, newKey, num, pct, arrow, request } from "./api.js";
import { LineChart } from "./chart.js";
import { AccountView, BlotterView, StrategiesView, WatchlistView } from "./panels.js";

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const KEYS = { token: "hts.token", user: "hts.username", seq: "hts.last_seq",
  watch: "hts.watchlist", selected: "hts.selected", notice: "hts.notice" };
const DEFAULT_WATCH = ["005930", "035420", "035720"];
const HISTORY = 300; // chart points kept per symbol
const AUTH_CODES = ["auth_required", "auth_failed", "token_expired"];

const state = {
  token: store.getItem(KEYS.token),
  username: store.getItem(KEYS.user) ?? "",
  lastSeq: readInt(store.getItem(KEYS.seq)),
  watch: readJson(KEYS.watch) ?? DEFAULT_WATCH.slice(),
  selected: store.getItem(KEYS.selected),
  symbols: new Map(), // code -> {symbol, name, market, prev_close}
  quotes: new Map(), // code -> latest quote
  history: new Map(), // code -> [{t, price}]
  updates: 0,
  orders: new Map(),
  strategies: new Map(),
  signals: new Map(), // strategy_id -> recent signals, newest first
  kinds: {},
  socket: null,
  sentSeq: null, // the last_seq sent in the current handshake
  needSnapshot: true, // load orders over HTTP on the next `connected`
  attempt: 0,
  refusals: 0,
};

function readInt(s) {
  const n = s === null ? NaN : Number(s);
  return Number.isInteger(n) && n >= 0 ? n : null;
}
function readJson(key) {
  try { return JSON.parse(store.getItem(key)); } catch { return null; }
}
const nameOf = (sym) => state.symbols.get(sym)?.name ?? sym;

// -- panels -------------------------------------------------------------------------

const chart = new LineChart($("price-chart"));
const watchlist = new WatchlistView($("watchlist"), { onSelect: select, onRemove: removeSymbol });
const blotter = new BlotterView($("blotter"), $("blotter-count"), { onCancel: cancelOrder, nameOf });
const account = new AccountView({
  id: $("account-id"), cash: $("account-cash"), available: $("account-available"),
  market: $("account-market"), unrealized: $("account-unrealized"),
  realized: $("account-realized"), total: $("account-total"), positions: $("positions"),
}, nameOf);
const strategiesView = new StrategiesView($("strategy-list"), { onAction: strategyAction, nameOf });

// -- status: connection badge, errors ------------------------------------------------

const CONN = {
  connected: "● 연결됨 connected",
  connecting: "연결 중 connecting…",
  reconnecting: "재연결 중 reconnecting…",
  offline: "○ 오프라인 offline",
};
function setConn(kind) {
  const badge = $("conn-state");
  badge.dataset.state = kind;
  badge.textContent = CONN[kind] + (kind === "reconnecting" && state.attempt ? ` #${state.attempt}` : "");
}

let lastError = null;
function showError(code, message, where) {
  const now = Date.now();
  // a failed request is reported twice by the server (the ack and an `error` event)
  if (lastError && lastError.code === code && lastError.message === message && now - lastError.at < 2000) return;
  lastError = { code, message, at: now };
  $("error-code").textContent = code;
  $("error-text").textContent = `${message}${where ? ` (${where})` : ""} · ${clock()}`;
  const banner = $("error-banner");
  banner.hidden = false;
  banner.classList.remove("pulse");
  void banner.offsetWidth;
  banner.classList.add("pulse");
  console.warn(`[${code}] ${message}`, where ?? "");
}
function report(err, where) {
  if (err instanceof ApiError) {
    showError(err.code, err.message, where);
    if (err.status === 401 && AUTH_CODES.includes(err.code)) logout(`${err.code}: ${err.message}`);
  } else {
    showError("client_error", String(err?.message ?? err), where);
  }
}
$("error-close").addEventListener("click", () => { $("error-banner").hidden = true; });

// -- HTTP and socket requests --------------------------------------------------------

const http = (method, path, body, headers) =>
  request(method, path, { token: state.token, body, headers });

/** emit with an acknowledgement; a failed ack ({ok:false}) throws its error code. */
async function call(event, payload = {}) {
  const socket = state.socket;
  if (!socket?.connected) throw new ApiError("offline", `not connected (${event})`);
  let ack;
  try {
    ack = await socket.timeout(8000).emitWithAck(event, payload);
  } catch {
    throw new ApiError("timeout", `no answer to ${event} within 8 s`);
  }
  if (!ack?.ok) throw new ApiError(ack?.error?.code ?? "internal_error", ack?.error?.message ?? `${event} failed`);
  return ack;
}

// -- login / logout ------------------------------------------------------------------

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const button = f.querySelector("button");
  button.disabled = true;
  try {
    const res = await request("POST", "/api/auth/login",
      { body: { username: f.username.value, password: f.password.value } });
    state.token = res.access_token;
    state.username = res.username ?? f.username.value;
    store.setItem(KEYS.token, state.token);
    store.setItem(KEYS.user, state.username);
    store.removeItem(KEYS.seq); // a new login starts from the server's state
    state.lastSeq = null;
    f.password.value = "";
    $("error-banner").hidden = true;
    await start();
  } catch (err) {
    report(err, "login");
  } finally {
    button.disabled = false;
  }
});

function logout(notice) {
  for (const k of [KEYS.token, KEYS.user, KEYS.seq]) store.removeItem(k);
  if (notice) store.setItem(KEYS.notice, notice);
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  location.reload(); // a clean slate
}
$("logout").addEventListener("click", () => logout());

async function start() {
  $("login-view").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = false;
  $("user-name").textContent = state.username;
  const [symbols, kinds, strategies] = await Promise.allSettled([
    http("GET", "/api/symbols"), http("GET", "/api/strategy-kinds"), http("GET", "/api/strategies"),
  ]);
  if (symbols.status === "fulfilled") {
    state.symbols = new Map(symbols.value.map((s) => [s.symbol, s]));
    $("symbol-list").innerHTML = symbols.value
      .map((s) => `<option value="${esc(s.symbol)}">${esc(s.name)}</option>`).join("");
    state.watch = state.watch.filter((s) => state.symbols.has(s)); // unknown ones would refuse the handshake
  } else report(symbols.reason, "symbols");
  if (kinds.status === "fulfilled") setKinds(kinds.value); else report(kinds.reason, "strategy kinds");
  if (strategies.status === "fulfilled") setStrategies(strategies.value);
  else report(strategies.reason, "strategies");
  saveWatch();
  watchlist.setSymbols(state.watch, nameOf);
  select(state.watch.includes(state.selected) ? state.selected : state.watch[0] ?? null);
  connect();
}

// -- the connection --------------------------------------------------------------------

function topics() {
  return [
    ...state.watch.map((s) => `price:${s}`),
    "order:*",
    ...[...state.strategies.keys()].map((id) => `strategy:${id}`),
  ];
}

function saveSeq(seq) {
  state.lastSeq = seq;
  store.setItem(KEYS.seq, String(seq));
  $("last-seq").textContent = String(seq);
}

function connect() {
  setConn("connecting");
  const socket = io({
    // a function: socket.io-client calls it before every (re)connection attempt,
    // so each handshake carries the current token, topics and last_seq
    auth: (cb) => {
      state.sentSeq = state.lastSeq;
      const auth = { token: state.token, topics: topics() };
      if (state.lastSeq !== null) auth.last_seq = state.lastSeq;
      cb(auth);
    },
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
    timeout: 6000,
  });
  state.socket = socket;

  socket.on("connect", () => { state.attempt = 0; setConn("connected"); });
  socket.on("connected", onConnected);
  socket.on("disconnect", (reason) => {
    if (!navigator.onLine || reason === "io client disconnect") return setConn("offline");
    setConn("reconnecting");
    if (reason === "io server disconnect") {
      // the server closed us on purpose (e.g. it is restarting): socket.io-client
      // leaves that to us, so dial again after a pause
      setTimeout(() => { if (state.socket === socket && !socket.connected) socket.connect(); }, 1000);
    }
  });
  socket.io.on("reconnect_attempt", (n) => {
    state.attempt = n;
    setConn(navigator.onLine ? "reconnecting" : "offline");
  });
  socket.on("connect_error", onConnectError);

  socket.on("price_update", (m) => applyQuote(m.symbol, m.data, true));
  socket.on("order_update", privately((m) => onOrder(m.data)));
  socket.on("strategy_status", privately(onStrategyStatus));
  socket.on("strategy_signal", privately(onStrategySignal));
  socket.on("resync_required", onResync);
  socket.on("error", (m) => showError(m?.code ?? "error", m?.message ?? "server error", m?.event));
}

/** Handle a private-stream event once: drop any seq we already have. */
function privately(handler) {
  return (msg) => {
    if (Number.isInteger(msg?.seq)) {
      if (state.lastSeq !== null && msg.seq <= state.lastSeq) return;
      saveSeq(msg.seq);
    }
    handler(msg);
  };
}

async function onConnected(msg) {
  state.refusals = 0;
  // first connection: only live events from here on; the snapshot comes over HTTP.
  // A resume (sentSeq set) is followed by the replay, which advances lastSeq.
  if (state.sentSeq === null) saveSeq(msg.last_seq);
  if (state.needSnapshot) {
    state.needSnapshot = false;
    loadOrders();
  }
  refreshAccount();
  for (const sym of state.watch) fetchPrice(sym);
}

async function onConnectError(err) {
  const info = err?.data?.code ? err.data : null;
  if (!info) { // a network error: socket.io-client retries by itself
    if (!state.socket?.active) setConn("offline");
    else setConn(navigator.onLine ? "reconnecting" : "offline");
    return;
  }
  showError(info.code, info.message, "connect");
  if (AUTH_CODES.includes(info.code)) return logout(`${info.code}: ${info.message}`);
  // refused over a topic (e.g. a strategy deleted elsewhere): refresh them and try again
  setConn("offline");
  if (++state.refusals > 3) return;
  await loadStrategies().catch(() => {});
  state.watch = state.watch.filter((s) => state.symbols.has(s));
  setTimeout(() => state.socket?.connect(), 1000 * state.refusals);
}

async function onResync(msg) {
  showError("resync_required", "놓친 이벤트가 만료되어 주문·계좌를 다시 불러옵니다 (missed events expired; reloading over HTTP)");
  saveSeq(msg.last_seq);
  await Promise.all([loadOrders(), loadStrategies().catch((e) => report(e, "strategies"))]);
  refreshAccount();
}

window.addEventListener("offline", () => {
  if (state.socket) state.socket.disconnect();
  setConn("offline");
});
window.addEventListener("online", () => {
  if (state.socket && !state.socket.connected) {
    setConn("reconnecting");
    state.socket.connect();
  }
});

// -- prices, watchlist, chart ---------------------------------------------------------------

function applyQuote(symbol, data, live) {
  const prev = state.quotes.get(symbol);
  const q = { ...prev, ...data };
  state.quotes.set(symbol, q);
  const hist = state.history.get(symbol) ?? [];
  const t = Date.parse(data.timestamp) || Date.now();
  if (!hist.length || t > hist[hist.length - 1].t) hist.push({ t, price: data.price });
  if (hist.length > HISTORY) hist.splice(0, hist.length - HISTORY);
  state.history.set(symbol, hist);
  if (live) $("update-count").textContent = String(++state.updates);
  watchlist.update(symbol, q, prev ? q.price - prev.price : 0, live);
  account.onPrice(symbol, q.price);
  if (symbol === state.selected) drawChart();
  if (symbol === resolve($("order-form").symbol.value)) updateEstimate();
}

async function fetchPrice(sym) {
  try {
    const ack = await call("get_price", { symbol: sym });
    applyQuote(sym, ack.data, false);
  } catch (err) {
    if (err.code !== "offline") report(err, `get_price ${sym}`);
  }
}

function resolve(raw) {
  const s = String(raw ?? "").trim();
  if (state.symbols.has(s.toUpperCase())) return s.toUpperCase();
  for (const m of state.symbols.values()) if (m.name === s) return m.symbol;
  return null;
}

function saveWatch() { store.setItem(KEYS.watch, JSON.stringify(state.watch)); }

$("add-symbol-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("add-symbol-input");
  const raw = input.value.trim();
  if (!raw) return;
  const sym = resolve(raw) ?? raw.toUpperCase();
  if (state.watch.includes(sym)) { input.value = ""; return select(sym); }
  if (state.socket?.connected) {
    try { await call("subscribe", { topic: `price:${sym}` }); } catch (err) { return report(err, "subscribe"); }
  } else if (!state.symbols.has(sym)) {
    return showError("unknown_symbol", `unknown symbol ${JSON.stringify(raw)}`);
  } // offline: the next handshake subscribes it
  input.value = "";
  state.watch.push(sym);
  saveWatch();
  watchlist.setSymbols(state.watch, nameOf);
  select(sym);
  fetchPrice(sym);
});

function removeSymbol(sym) {
  state.watch = state.watch.filter((s) => s !== sym);
  saveWatch();
  watchlist.setSymbols(state.watch, nameOf);
  if (state.selected === sym) select(state.watch[0] ?? null);
  if (state.socket?.connected) call("unsubscribe", { topic: `price:${sym}` }).catch((e) => report(e, "unsubscribe"));
}

function select(sym) {
  state.selected = sym;
  if (sym) store.setItem(KEYS.selected, sym);
  watchlist.select(sym);
  if (sym) {
    $("order-form").symbol.value = sym;
    updateEstimate();
  }
  drawChart();
}

function drawChart() {
  const sym = state.selected;
  const q = sym ? state.quotes.get(sym) : null;
  const prevClose = q?.prev_close ?? state.symbols.get(sym)?.prev_close ?? null;
  $("chart-title").innerHTML = sym ? `${esc(nameOf(sym))} <small>${esc(sym)}</small>` : "–";
  $("chart-sub").textContent = sym
    ? `전일 ${krw(prevClose)} · 거래량 ${num(q?.volume)}${q?.timestamp ? ` · ${clock(q.timestamp)}` : ""}` : "";
  const price = $("chart-price");
  const change = $("chart-change");
  price.textContent = q ? num(q.price) : "–";
  change.textContent = q ? `${arrow(q.change)} (${pct(q.change_percent)})` : "";
  price.className = `big ${direction(q?.change ?? 0)}`;
  change.className = direction(q?.change ?? 0);
  chart.draw(state.history.get(sym) ?? [], prevClose,
    sym ? "시세 대기 중 (waiting for prices)" : "관심종목을 선택하세요 (select a symbol)");
}

// -- orders ----------------------------------------------------------------------------------

function onOrder(o) {
  const cur = state.orders.get(o.order_id);
  if (cur && cur.updated_at > o.updated_at) return; // an older view of the order
  state.orders.set(o.order_id, { ...cur, ...o });
  blotter.upsert(state.orders.get(o.order_id));
  refreshAccountSoon();
}

async function loadOrders() {
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
async function refreshAccount() {
  try {
    const data = state.socket?.connected ? (await call("get_account")).data : await http("GET", "/api/account");
    account.set(data);
  } catch (err) {
    report(err, "account");
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

const ticket = $("order-form");
function intOrRaw(v) {
  return /^-?\d+$/.test(String(v).trim()) ? Number(v) : v; // let the server judge anything else
}
function updateTicket() {
  const buy = ticket.side.value === "buy";
  const limit = ticket.order_type.value === "limit";
  ticket.price.disabled = !limit;
  if (limit && !ticket.price.value) {
    const q = state.quotes.get(resolve(ticket.symbol.value));
    if (q) ticket.price.value = q.price;
  }
  $("order-submit").textContent = buy ? "매수 주문 Buy" : "매도 주문 Sell";
  $("order-submit").className = `primary ${buy ? "buy" : "sell"}`;
  updateEstimate();
}
function updateEstimate() {
  const sym = resolve(ticket.symbol.value);
  const qty = Number(ticket.quantity.value);
  const price = ticket.order_type.value === "limit" ? Number(ticket.price.value) : state.quotes.get(sym)?.price;
  $("ticket-est").textContent = sym && Number.isInteger(qty) && qty > 0 && price
    ? `${esc(nameOf(sym))} · 예상 금액 ≈ ${krw(qty * price)}` : "";
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
  const button = $("order-submit");
  button.disabled = true;
  try {
    onOrder(await http("POST", "/api/orders", body, { "Idempotency-Key": newKey() }));
  } catch (err) {
    report(err, "order");
  } finally {
    button.disabled = false;
  }
});

// -- strategies ------------------------------------------------------------------------------

function setKinds(kinds) {
  state.kinds = kinds;
  const sel = $("strategy-form").kind;
  sel.innerHTML = Object.keys(kinds).map((k) => `<option value="${esc(k)}">${esc(k)}</option>`).join("");
  const hint = () => { $("strategy-form").params.placeholder = `params ${JSON.stringify(kinds[sel.value] ?? {})}`; };
  sel.addEventListener("change", hint);
  hint();
}

function setStrategies(list) {
  state.strategies = new Map(list.map((s) => [s.strategy_id, s]));
  renderStrategies();
}
async function loadStrategies() {
  setStrategies(await http("GET", "/api/strategies"));
  if (state.socket?.connected && state.strategies.size) {
    call("subscribe", { topics: [...state.strategies.keys()].map((id) => `strategy:${id}`) })
      .catch((e) => report(e, "subscribe"));
  }
}

let renderPending = false;
function renderStrategies() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    strategiesView.render(state.strategies, state.signals);
  });
}

function onStrategyStatus(m) {
  const s = state.strategies.get(m.strategy_id);
  if (!s) return;
  if (m.data.state === "deleted") {
    state.strategies.delete(m.strategy_id);
  } else {
    Object.assign(s, m.data);
  }
  renderStrategies();
}

function onStrategySignal(m) {
  const list = state.signals.get(m.strategy_id) ?? [];
  list.unshift(m.data);
  state.signals.set(m.strategy_id, list.slice(0, 4));
  const s = state.strategies.get(m.strategy_id);
  if (s) s.signals = (s.signals ?? 0) + 1;
  renderStrategies();
}

$("strategy-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  let params = {};
  if (f.params.value.trim()) {
    try { params = JSON.parse(f.params.value); } catch (err) {
      return showError("invalid_params", `params must be JSON: ${err.message}`);
    }
  }
  const body = {
    kind: f.kind.value,
    symbol: resolve(f.symbol.value) ?? f.symbol.value.trim(),
    quantity: intOrRaw(f.quantity.value),
    auto_trade: f.auto_trade.checked,
    params,
  };
  try {
    const s = await http("POST", "/api/strategies", body);
    state.strategies.set(s.strategy_id, s);
    renderStrategies();
    if (state.socket?.connected) await call("subscribe", { topic: `strategy:${s.strategy_id}` });
  } catch (err) {
    report(err, "strategy");
  }
});

async function strategyAction(action, id, button) {
  if (action === "delete" && button.dataset.confirm !== "1") {
    button.dataset.confirm = "1"; // a second click within 3 s deletes
    button.textContent = "삭제 확인?";
    setTimeout(() => { button.dataset.confirm = ""; button.textContent = "삭제"; }, 3000);
    return;
  }
  button.disabled = true;
  const path = `/api/strategies/${encodeURIComponent(id)}`;
  try {
    if (action === "delete") {
      await http("DELETE", path);
      state.strategies.delete(id);
      state.signals.delete(id);
      if (state.socket?.connected) call("unsubscribe", { topic: `strategy:${id}` }).catch(() => {});
    } else {
      state.strategies.set(id, await http("POST", `${path}/${action}`));
    }
  } catch (err) {
    report(err, `strategy ${action}`);
  }
  renderStrategies();
}

// -- boot ------------------------------------------------------------------------------------

const notice = store.getItem(KEYS.notice);
if (notice) {
  store.removeItem(KEYS.notice);
  const [code, ...rest] = notice.split(": ");
  showError(code, rest.join(": ") || code, "session");
}
if (state.lastSeq !== null) $("last-seq").textContent = String(state.lastSeq);
if (typeof io !== "function") {
  showError("client_error", "socket.io client missing: static/vendor/socket.io.min.js (run `make`)");
}
if (state.token) {
  start().catch((err) => report(err, "start"));
} else {
  $("login-view").hidden = false;
  setConn("offline");
}
