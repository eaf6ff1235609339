// Prices: the watchlist (kept on the server: GET/PUT /api/watchlist), live quotes,
// and the candle chart of the selected symbol (history from /api/candles, the
// live candle from trades).

import { arrow, clock, compact, direction, esc, krw, num, pct, searchSymbols } from "./format.js";
import { CandleChart } from "./chart.js";
import { $, api, call, clear, LOCAL, nameOf, notify, report, resolve, state, stream } from "./core.js";
import { badgesHtml, WatchlistView } from "./panels.js";
import { onPriceForTrading, setTicketSymbol } from "./trading.js";

const INTERVALS = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000 };
let interval = INTERVALS[localStorage.getItem(LOCAL.interval)] ? localStorage.getItem(LOCAL.interval) : "1m";
let updates = 0;
let candlesFor = null; // "symbol/interval" the chart's history belongs to
let lastTradeAt = 0;
const symbolListeners = [];
// The symbol the panels (호가, 체결, ...) were last told about. Not state.selected: that is
// restored from localStorage before anything is drawn (a reload, a second tab, a re-login),
// so "changed since the previous selection" would never fire for the restored symbol.
let announced;

const chart = new CandleChart($("price-chart"));
const watchlist = new WatchlistView($("watchlist"), { onSelect: select, onRemove: removeSymbol });

export const watchTopics = () => state.watch.map((s) => `price:${s}`);
export const onSymbolChange = (fn) => symbolListeners.push(fn);

function render() {
  watchlist.setSymbols(state.watch, nameOf);
  $("watch-count").textContent = `${state.watch.length}종목`;
  for (const s of state.watch) {
    const q = state.quotes.get(s);
    if (q) watchlist.update(s, q, 0, false);
    watchlist.status(s, state.symbolStatus.get(s));
  }
}

/** The server's list at start. */
export function initWatchlist(symbols) {
  state.watch = symbols.filter((s) => state.symbols.has(s));
  render();
  select(state.watch.includes(state.selected) ? state.selected : state.watch[0] ?? null);
}

/** Another tab or device changed the list: take the server's, follow its topics. */
export async function reloadWatchlist() {
  let symbols;
  try {
    ({ symbols } = await api.watchlist());
  } catch (err) {
    if (err.code !== "network_error") report(err, "watch");
    return;
  }
  const before = state.watch;
  state.watch = symbols.filter((s) => state.symbols.has(s));
  if (before.join() === state.watch.join()) return;
  await follow(before, state.watch);
  render();
  if (!state.watch.includes(state.selected)) select(state.watch[0] ?? null);
}

async function follow(before, after) {
  const gone = before.filter((s) => !after.includes(s)).map((s) => `price:${s}`);
  const added = after.filter((s) => !before.includes(s));
  try {
    if (gone.length) await stream?.unsubscribe(gone);
    if (added.length) await stream?.subscribe(added.map((s) => `price:${s}`));
  } catch (err) {
    if (err.code !== "offline") report(err, "watch");
  }
  for (const s of added) fetchQuote(s);
}

/** Save the list on the server (it validates); other tabs hear of it through storage. */
async function save(next) {
  const { symbols } = await api.setWatchlist(next);
  const before = state.watch;
  state.watch = symbols;
  localStorage.setItem(LOCAL.watchRev, String(Date.now()));
  await follow(before, symbols);
  render();
}

/** A quote arrived: `live` for a price_update, false for a get_price snapshot. */
export function applyQuote(symbol, data, live) {
  const prev = state.quotes.get(symbol);
  const q = { ...prev, ...data };
  state.quotes.set(symbol, q);
  state.lastMarketAt = Date.now();
  if (live) $("update-count").textContent = String(++updates);
  watchlist.update(symbol, q, prev && live ? q.price - prev.price : 0, live);
  onPriceForTrading(symbol, q);
  if (symbol === state.selected) {
    // without a trade feed the live candle follows the price
    if (live && Date.now() - lastTradeAt > 3000) chart.live(Date.parse(data.timestamp) || Date.now(), q.price, 0);
    drawHead();
  }
}

/** Trades of the selected symbol (trade_update) update the live candle. */
export function onChartTrades(symbol, trades) {
  if (symbol !== state.selected) return;
  lastTradeAt = Date.now();
  for (const t of trades) chart.live(Date.parse(t.timestamp) || Date.now(), t.price, t.quantity);
}

async function fetchQuote(sym) {
  try {
    applyQuote(sym, (await call("get_price", { symbol: sym })).data, false);
  } catch (err) {
    if (err.code !== "offline") report(err, "watch");
  }
}
export const fetchQuotes = () => state.watch.forEach(fetchQuote);

// -- search as you type: part of a name, a code, or 초성 ------------------------------------

const suggest = $("symbol-suggest");
let matches = [];
let active = 0;

function showSuggestions() {
  matches = searchSymbols($("add-symbol-input").value, state.symbols.values());
  active = 0;
  drawSuggestions();
}
function drawSuggestions() {
  suggest.hidden = !matches.length;
  $("add-symbol-input").setAttribute("aria-expanded", String(!suggest.hidden));
  suggest.innerHTML = matches.map((s, i) => `<li role="option" data-testid="symbol-option" data-symbol="${esc(s.symbol)}"
      aria-selected="${i === active}" class="${i === active ? "on" : ""}">
      <span class="nm">${esc(s.name)}</span><span class="code">${esc(s.symbol)}</span>
      ${state.watch.includes(s.symbol) ? `<span class="dim small">관심</span>` : ""}</li>`).join("");
}
function hideSuggestions() {
  matches = [];
  drawSuggestions();
}
$("add-symbol-input").addEventListener("input", showSuggestions);
$("add-symbol-input").addEventListener("keydown", (e) => {
  if (!matches.length) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    active = (active + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
    drawSuggestions();
  } else if (e.key === "Escape") {
    hideSuggestions();
  }
});
// pointerdown, not click: the input keeps its focus and the form submits the pick
suggest.addEventListener("pointerdown", (e) => {
  const li = e.target.closest("li[data-symbol]");
  if (!li) return;
  e.preventDefault();
  $("add-symbol-input").value = li.dataset.symbol;
  hideSuggestions();
  $("add-symbol-form").requestSubmit();
});
// focus gone elsewhere: close the list (unless the focus came back meanwhile)
$("add-symbol-input").addEventListener("blur", () => setTimeout(() => {
  if (document.activeElement !== $("add-symbol-input")) hideSuggestions();
}, 150));

$("add-symbol-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("add-symbol-input");
  const raw = input.value.trim();
  if (!raw) return;
  // the highlighted suggestion, else the code or exact name, else as typed (the server judges)
  const picked = matches.length ? matches[active] : searchSymbols(raw, state.symbols.values(), 1)[0];
  const sym = picked?.symbol ?? resolve(raw) ?? raw.toUpperCase();
  hideSuggestions();
  if (!state.watch.includes(sym)) {
    try {
      await save([...state.watch, sym]);
    } catch (err) {
      return report(err, "watch");
    }
  }
  clear("watch");
  input.value = "";
  select(sym);
});
$("add-symbol-input").addEventListener("input", () => clear("watch"));

async function removeSymbol(sym) {
  try {
    await save(state.watch.filter((s) => s !== sym));
  } catch (err) {
    return report(err, "watch");
  }
  if (state.selected === sym) select(state.watch[0] ?? null);
}

function select(sym) {
  state.selected = sym;
  if (sym) localStorage.setItem(LOCAL.selected, sym);
  watchlist.select(sym);
  if (sym) setTicketSymbol(sym);
  drawHead();
  loadCandles();
  if (sym !== announced) {
    const prev = announced ?? null;
    announced = sym;
    for (const fn of symbolListeners) fn(sym, prev);
  }
}

// -- the chart --------------------------------------------------------------------------

for (const b of $("chart-intervals").querySelectorAll("button")) {
  b.classList.toggle("on", b.dataset.interval === interval);
  b.addEventListener("click", () => {
    interval = b.dataset.interval;
    localStorage.setItem(LOCAL.interval, interval);
    for (const o of $("chart-intervals").querySelectorAll("button")) o.classList.toggle("on", o === b);
    loadCandles();
  });
}

export async function loadCandles() {
  const sym = state.selected;
  const key = `${sym}/${interval}`;
  candlesFor = key;
  chart.setSeries([], INTERVALS[interval], sym ? "차트 불러오는 중…" : "관심종목을 선택하세요");
  if (!sym) return;
  try {
    const { candles } = await api.candles(sym, { interval, limit: interval === "1d" ? 120 : 200 });
    if (candlesFor !== key) return; // the user moved on meanwhile
    chart.setSeries(candles.map((c) => ({ ...c, t: Date.parse(c.time) })), INTERVALS[interval]);
  } catch (err) {
    if (candlesFor !== key) return;
    // no candle history on this server (yet): the chart builds from live prices
    chart.setSeries([], INTERVALS[interval], "과거 차트 없음 · 실시간 시세로 그립니다");
    if (err.status !== 404) report(err);
  }
  const q = state.quotes.get(sym);
  if (q && !chart.candles.length) chart.live(Date.now(), q.price, 0);
}

/** symbol_status (or GET /api/market's `symbols` at start): 상한가/하한가, VI, 단일가. */
export function onSymbolStatus(symbol, st) {
  if (st && (st.phase === "continuous" || st.phase === "closed") && !st.limit) state.symbolStatus.delete(symbol);
  else state.symbolStatus.set(symbol, st);
  watchlist.status(symbol, state.symbolStatus.get(symbol));
  if (symbol === state.selected) drawHead();
}

function drawHead() {
  const sym = state.selected;
  const q = sym ? state.quotes.get(sym) : null;
  const prevClose = q?.prev_close ?? state.symbols.get(sym)?.prev_close ?? null;
  $("chart-title").innerHTML = sym ? `${esc(nameOf(sym))} <small>${esc(sym)}</small>` : "–";
  $("chart-sub").textContent = sym
    ? `전일 ${krw(prevClose)} · 거래량 ${compact(q?.volume)}${q?.timestamp ? ` · ${clock(q.timestamp)}` : ""}`
    : "";
  const dir = direction(q?.change ?? 0);
  $("chart-price").textContent = q ? num(q.price) : "–";
  $("chart-price").className = `big ${dir}`;
  $("chart-change").textContent = q ? `${arrow(q.change)} (${pct(q.change_percent)})` : "";
  $("chart-change").className = dir;
  $("chart-badges").innerHTML = badgesHtml(sym ? state.symbolStatus.get(sym) : null);
  chart.baseline = prevClose;
}

export const notifyWatch = (code, msg) => notify("watch", code, msg);
