// hts-realtime dashboard: login and the Socket.IO connection. The panels'
// behaviour lives in market.js (watchlist, prices, chart), trading.js (order
// ticket, blotter, account) and strategies.js.
//
// Resume: every handshake (the first, socket.io-client's own reconnects, and
// ours when the browser comes back online) sends auth = {token, topics,
// last_seq}, computed at that moment, so the server restores the
// subscriptions and replays the private events (orders, strategies) we
// missed. Private events are handled once: any seq we already have is dropped.

import { ApiError, esc, request } from "./api.js";
import {
  $, AUTH_CODES, KEYS, http, logout, report, saveSeq, setConn, showError, state, store,
} from "./core.js";
import { applyQuote, fetchPrice, initWatchlist, priceTopics } from "./market.js";
import {
  loadStrategies, onStrategySignal, onStrategyStatus, setKinds, setStrategies, strategyTopics,
} from "./strategies.js";
import { loadOrders, onOrder, refreshAccount } from "./trading.js";

let sentSeq = null; // the last_seq sent in the current handshake
let needSnapshot = true; // load the orders over HTTP on the next `connected`
let refusals = 0; // handshakes refused in a row for a reason other than auth

// -- login ---------------------------------------------------------------------------

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
    // not report(): a refused login is shown here, it is no reason to log out
    if (err instanceof ApiError) showError(err.code, err.message, "login");
    else report(err, "login");
  } finally {
    button.disabled = false;
  }
});
$("logout").addEventListener("click", () => logout());

async function start() {
  $("login-view").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = false;
  $("user-name").textContent = state.username;
  const [symbols, kinds, runs] = await Promise.allSettled([
    http("GET", "/api/symbols"), http("GET", "/api/strategy-kinds"), http("GET", "/api/strategies"),
  ]);
  if (symbols.status === "fulfilled") {
    state.symbols = new Map(symbols.value.map((s) => [s.symbol, s]));
    $("symbol-list").innerHTML = symbols.value
      .map((s) => `<option value="${esc(s.symbol)}">${esc(s.name)}</option>`).join("");
  } else report(symbols.reason, "symbols");
  if (kinds.status === "fulfilled") setKinds(kinds.value);
  else report(kinds.reason, "strategy kinds");
  if (runs.status === "fulfilled") setStrategies(runs.value);
  else report(runs.reason, "strategies");
  initWatchlist();
  connect();
}

// -- the connection --------------------------------------------------------------------

function connect() {
  setConn("connecting");
  const socket = io({
    // a function: socket.io-client calls it before every (re)connection attempt,
    // so each handshake carries the current token, topics and last_seq
    auth: (cb) => {
      sentSeq = state.lastSeq;
      const auth = { token: state.token, topics: [...priceTopics(), "order:*", ...strategyTopics()] };
      if (state.lastSeq !== null) auth.last_seq = state.lastSeq;
      cb(auth);
    },
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
    timeout: 6000,
  });
  state.socket = socket;

  socket.on("connect", () => { console.info(`connected sid=${socket.id}`); setConn("connected"); });
  socket.on("connected", onConnected);
  socket.on("disconnect", (reason) => {
    console.info(`disconnected: ${reason}`);
    if (!navigator.onLine || reason === "io client disconnect") return setConn("offline");
    setConn("reconnecting");
    if (reason === "io server disconnect") {
      // the server closed us on purpose (e.g. it is restarting); socket.io-client
      // leaves that case to us: dial again after a pause
      setTimeout(() => { if (state.socket === socket && !socket.connected) socket.connect(); }, 1000);
    }
  });
  socket.io.on("reconnect_attempt", (n) => setConn(navigator.onLine ? "reconnecting" : "offline", n));
  socket.on("connect_error", onConnectError);

  socket.on("price_update", (m) => applyQuote(m.symbol, m.data, true));
  socket.on("order_update", privately((m) => onOrder(m.data)));
  socket.on("strategy_status", privately(onStrategyStatus));
  socket.on("strategy_signal", privately(onStrategySignal));
  socket.on("resync_required", onResync);
  socket.on("error", (m) => showError(m?.code ?? "error", m?.message ?? "server error", m?.event));
}

/** Wrap a private-stream handler: each seq is handled once, in order. */
function privately(handler) {
  return (msg) => {
    if (Number.isInteger(msg?.seq)) {
      if (state.lastSeq !== null && msg.seq <= state.lastSeq) return;
      saveSeq(msg.seq);
    }
    handler(msg);
  };
}

function onConnected(msg) {
  refusals = 0;
  // A first connection takes the stream from its head (the snapshot comes over
  // HTTP); a resume (last_seq sent) is followed by the replay, which advances it.
  if (sentSeq === null) saveSeq(msg.last_seq);
  if (needSnapshot) {
    needSnapshot = false;
    loadOrders();
  }
  refreshAccount();
  for (const sym of state.watch) fetchPrice(sym);
}

async function onConnectError(err) {
  const refusal = err?.data?.code ? err.data : null; // {code, message} from the server
  if (!refusal) { // a network error: socket.io-client retries by itself
    setConn(navigator.onLine && state.socket?.active ? "reconnecting" : "offline");
    return;
  }
  showError(refusal.code, refusal.message, "connect");
  if (AUTH_CODES.includes(refusal.code)) return logout(`${refusal.code}: ${refusal.message}`);
  // refused over a topic (e.g. a strategy deleted elsewhere): refresh the topics, try again
  setConn("offline");
  if (++refusals > 3) return;
  await loadStrategies().catch(() => {});
  initWatchlist();
  setTimeout(() => state.socket?.connect(), 1000 * refusals);
}

async function onResync(msg) {
  showError("resync_required",
    "놓친 이벤트가 만료되어 주문·계좌를 다시 불러옵니다 (missed events expired; reloading over HTTP)");
  saveSeq(msg.last_seq);
  await Promise.all([loadOrders(), loadStrategies().catch((e) => report(e, "strategies")),
    refreshAccount(true)]);
}

// An open WebSocket can outlive the network for minutes: trust the browser's
// offline signal, close, and resume when it is back.
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

// -- boot ------------------------------------------------------------------------------

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
