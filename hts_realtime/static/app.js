// hts-realtime dashboard: login, the stream (the SDK's Stream: resume, dedupe,
// resync and reconnection live there), honest connection state and the phone tabs.
// Panels: market.js (watchlist, quotes, chart), book.js (호가, 체결),
// trading.js (ticket, blotter, account), strategies.js.

import { AUTH_CODES, HtsError } from "./hts-client.js";
import { age, esc, korean, MARKET_KO } from "./format.js";
import {
  $, api, clear, forgetSession, LOCAL, logout, notify, openStream, report, saveSession, sessionValid, state, stream,
} from "./core.js";
import { onBook, onTrades, refreshBook, setBookSymbol } from "./book.js";
import {
  applyQuote, fetchQuotes, initWatchlist, onSymbolChange, onSymbolStatus, reloadWatchlist, watchTopics,
} from "./market.js";
import {
  loadStrategies, onStrategySignal, onStrategyStatus, setKinds, strategyTopics,
} from "./strategies.js";
import { loadCosts, loadOrders, onOrder, refreshAccount, setTradingEnabled } from "./trading.js";
import { restoreDraft, watchSession } from "./session.js";

// -- login ---------------------------------------------------------------------------

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const button = f.querySelector("button");
  button.disabled = true;
  $("login-notice").hidden = true;
  try {
    saveSession(await api.login(f.username.value, f.password.value));
    f.password.value = "";
    await start();
  } catch (err) {
    const n = $("login-notice");
    n.textContent = korean(err.code ?? "client_error", err.message);
    n.title = `${err.code}: ${err.message}`;
    n.dataset.code = err.code ?? "";
    n.hidden = false;
  } finally {
    button.disabled = false;
  }
});
// revoke the token on the server (its open sockets close), then forget it here and in every tab
$("logout").addEventListener("click", async () => {
  $("logout").disabled = true;
  stream?.close();
  forgetSession();
  await api.logout().catch((err) => console.warn("logout", err));
  logout();
});


async function start() {
  document.body.dataset.view = "dashboard";
  $("login-view").hidden = true;
  $("dashboard").hidden = false;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  $("user-name").textContent = state.session.username;
  watchSession();
  const [symbols, kinds, watch] = await Promise.allSettled([
    api.symbols(), api.strategyKinds(), api.watchlist(),
  ]);
  if (symbols.status === "fulfilled") {
    state.symbols = new Map(symbols.value.map((s) => [s.symbol, s]));
    $("symbol-list").innerHTML = symbols.value
      .map((s) => `<option value="${esc(s.symbol)}">${esc(s.name)}</option>`).join("");
  } else return report(symbols.reason);
  if (kinds.status === "fulfilled") setKinds(kinds.value);
  else report(kinds.reason, "strategy");
  if (watch.status === "rejected") return report(watch.reason);
  initWatchlist(watch.value.symbols);
  restoreDraft(); // what the ticket held when the last session ran out
  await loadStrategies().catch((err) => report(err, "strategy"));
  market();
  loadCosts();
  connect();
}

// -- the connection --------------------------------------------------------------------

function connect() {
  const s = openStream({
    topics: [...watchTopics(), "order:*", ...strategyTopics()],
    onResync: async () => {
      notify("blotter", "resync_required");
      await Promise.all([loadOrders(), loadStrategies(), refreshAccount(true)]);
    },
    // refused over a topic (a strategy deleted in another tab, ...): refresh, try again
    onRefused: async () => {
      await loadStrategies().catch(() => {});
      s.topics = new Set([...watchTopics(), "order:*", ...strategyTopics()]);
    },
  });
  s.on("state", onState);
  s.on("connected", (msg, { resumed }) => {
    clear("banner");
    if (msg.market_status) showMarket(msg.market_status);
    if (!resumed) loadOrders();
    refreshAccount();
    fetchQuotes();
    followBook();
    debug();
  });
  s.on("refused", (err) => {
    notify("banner", err.code, err.message, { ttl: 0 });
    if (AUTH_CODES.includes(err.code)) logout(`${err.code}: ${err.message}`);
  });
  s.on("price_update", (m) => { applyQuote(m.symbol, m.data, true); debug(); });
  s.on("orderbook_update", (m) => onBook(m.symbol, m.data));
  s.on("trade_update", (m) => onTrades(m.symbol, m.data.trades));
  s.on("market_status", (m) => showMarket(m.status));
  s.on("feed_status", (m) => { state.feed[m.symbol] = m.data; staleTick(); });
  s.on("symbol_status", (m) => onSymbolStatus(m.symbol, m.data));
  s.on("order_update", (m) => { onOrder(m.data); debug(); });
  s.on("strategy_status", (m) => { onStrategyStatus(m); debug(); });
  s.on("strategy_signal", (m) => { onStrategySignal(m); debug(); });
  // every failed request is also answered through its ack, and shown near its cause there
  s.on("error", (m) => console.info(`server error event: ${m?.event} ${m?.code}: ${m?.message}`));
  s.connect().catch(() => {}); // refusals are shown by the "refused" handler
}

const bookTopics = () => (state.selected ? [`orderbook:${state.selected}`, `trade:${state.selected}`] : []);

const CONN = {
  connecting: "연결 중…", connected: "● 실시간", reconnecting: "재연결 중…", offline: "○ 연결 끊김",
  closed: "○ 연결 끊김", idle: "○ 연결 끊김",
};

function onState(st, { attempt }) {
  const badge = $("conn-state");
  badge.dataset.state = st === "closed" || st === "idle" ? "offline" : st;
  badge.textContent = CONN[st] + (st === "reconnecting" && attempt ? ` (${attempt})` : "");
  document.body.dataset.conn = st === "connected" ? "connected" : "stale";
  setTradingEnabled(st === "connected", st === "connected" ? "" : reasonFor(st));
  staleTick();
}

function reasonFor(st) {
  if (!navigator.onLine) return "인터넷 연결이 끊겼습니다 · 연결되면 주문 가능";
  if (st === "offline" && stream?.refusal) return "서버가 연결을 거부했습니다";
  return "서버와 연결이 끊겼습니다 · 재연결되면 주문 가능";
}

// the age of the newest market data, shown while the connection is not live — or while the
// server's own feed of the selected symbol is down (feed_status "stale": the same honest
// grey), and the refresh interval while the broker's registrations are used up ("limited")
function staleTick() {
  const feed = (state.selected && state.feed[state.selected]) || { feed: "live" };
  document.body.dataset.feed = feed.feed;
  const stale = document.body.dataset.conn !== "connected" || feed.feed === "stale";
  let text = stale && state.lastMarketAt ? `${age((Date.now() - state.lastMarketAt) / 1000)} 전 시세` : stale ? "시세 없음" : "";
  if (!stale && feed.feed === "limited") text = `${feed.snapshot_interval_seconds}초 간격 시세 (실시간 등록 한도)`;
  for (const el of document.querySelectorAll("[data-stale-age]")) el.textContent = text;
}
setInterval(staleTick, 1000);

// -- market session ----------------------------------------------------------------------

// HTS_MARKET_HOURS=always (the demo): the market never closes, so "정규장" at 00:50 would be
// a lie; say what it is
let marketMode = null;
function showMarket(status) {
  const el = $("market-status");
  el.hidden = !status;
  el.dataset.status = status ?? "";
  el.dataset.mode = marketMode ?? "";
  const always = marketMode === "always" && status === "open";
  el.textContent = always ? "상시 개장" : MARKET_KO[status] ?? status ?? "";
  el.title = always ? "데모: 장 시간 없이 24시간 거래합니다 (HTS_MARKET_HOURS=always)" : status ?? "";
}

async function market() {
  try {
    const m = await api.market();
    marketMode = m.mode ?? null;
    showMarket(m.status);
    for (const [sym, st] of Object.entries(m.symbols ?? {})) onSymbolStatus(sym, st);
  } catch (err) {
    if (!(err instanceof HtsError) || err.status !== 404) console.warn("market status", err);
  }
}

// -- the symbol in focus follows the book/tape topics -------------------------------------

// Book and tape topics join the handshake's topics only once the server accepted them.
async function followBook() {
  if (!stream?.connected) return;
  const want = new Set(bookTopics());
  const stale = [...stream.topics].filter((t) => /^(orderbook|trade):/.test(t) && !want.has(t));
  try {
    if (stale.length) await stream.unsubscribe(stale);
    await stream.subscribe([...want]);
  } catch (err) {
    // a server without the market-depth feeds refuses these topics: the panels say so
    if (!["offline", "invalid_topic"].includes(err.code)) report(err);
  }
  refreshBook();
}

onSymbolChange((sym) => {
  setBookSymbol(sym);
  followBook();
});

// -- support counters: behind the connection badge, out of the trader's way -----------------

$("conn-state").addEventListener("click", () => {
  const info = $("conn-info");
  info.hidden = !info.hidden || document.body.dataset.view !== "dashboard";
  $("conn-state").setAttribute("aria-expanded", String(!info.hidden));
});

function debug() {
  $("last-seq").textContent = stream?.lastSeq ?? "–";
  $("resumes").textContent = String(stream?.stats.resumes ?? 0);
}

// -- phone tabs -----------------------------------------------------------------------------

$("tabs").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-tab]");
  if (b) showTab(b.dataset.tab);
});
function showTab(tab) {
  document.body.dataset.tab = tab;
  for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("on", b.dataset.tab === tab);
}
window.addEventListener("hts:tab", (e) => showTab(e.detail));
showTab("quotes");

// wide screens: 주문 내역 and 전략 share the lower left; the switch sits in both titles
function showLower(which) {
  document.body.dataset.lower = which;
  for (const b of document.querySelectorAll(".lower-switch button")) b.classList.toggle("on", b.dataset.lower === which);
}
for (const b of document.querySelectorAll(".lower-switch button")) b.addEventListener("click", () => showLower(b.dataset.lower));
showLower("orders");

// the watchlist changed in another tab: take the server's list
window.addEventListener("storage", (e) => { if (e.key === LOCAL.watchRev) reloadWatchlist(); });
// back to a tab that slept: the list may have changed on another device
document.addEventListener("visibilitychange", () => { if (!document.hidden && sessionValid()) reloadWatchlist(); });

// -- boot ------------------------------------------------------------------------------

const notice = sessionStorage.getItem(LOCAL.notice);
if (notice) {
  sessionStorage.removeItem(LOCAL.notice);
  const [code, ...rest] = notice.split(": ");
  const n = $("login-notice");
  n.textContent = korean(code, rest.join(": "));
  n.title = notice;
  n.dataset.code = code;
  n.hidden = false;
}
if (typeof io !== "function") {
  notify("banner", "client_error", "socket.io client missing: static/vendor/socket.io.min.js", { ttl: 0 });
}
if (sessionValid()) {
  start().catch((err) => report(err));
} else {
  if (state.session) { // expired while away
    localStorage.removeItem("hts.session");
    const n = $("login-notice");
    n.textContent = "로그인이 만료되었습니다. 다시 로그인하세요";
    n.dataset.code = "token_expired";
    n.title = "token_expired";
    n.hidden = false;
  }
  document.body.dataset.view = "login";
}
