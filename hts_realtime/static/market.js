// Prices: the watchlist (add/remove subscribes/unsubscribes), live quotes and
// the chart of the selected symbol.

import { arrow, clock, direction, esc, krw, num, pct } from "./api.js";
import { LineChart } from "./chart.js";
import { $, call, connected, KEYS, nameOf, report, resolve, showError, state, store } from "./core.js";
import { WatchlistView } from "./panels.js";
import { onPriceForTrading, setTicketSymbol } from "./trading.js";

const HISTORY = 300; // chart points kept per symbol
const history = new Map(); // code -> [{t, price}]
let updates = 0;

const chart = new LineChart($("price-chart"));
const watchlist = new WatchlistView($("watchlist"), { onSelect: select, onRemove: removeSymbol });

export const priceTopics = () => state.watch.map((s) => `price:${s}`);

function saveWatch() {
  store.setItem(KEYS.watch, JSON.stringify(state.watch));
  watchlist.setSymbols(state.watch, nameOf);
}

/** After the symbol master is loaded: drop unknown symbols (they would refuse the handshake). */
export function initWatchlist() {
  if (state.symbols.size) state.watch = state.watch.filter((s) => state.symbols.has(s));
  saveWatch();
  select(state.watch.includes(state.selected) ? state.selected : state.watch[0] ?? null);
}

/** A quote arrived: `live` for a price_update, false for a get_price snapshot. */
export function applyQuote(symbol, data, live) {
  const prev = state.quotes.get(symbol);
  const q = { ...prev, ...data };
  state.quotes.set(symbol, q);
  const hist = history.get(symbol) ?? [];
  const t = Date.parse(data.timestamp) || Date.now();
  if (!hist.length || t > hist[hist.length - 1].t) hist.push({ t, price: data.price });
  if (hist.length > HISTORY) hist.splice(0, hist.length - HISTORY);
  history.set(symbol, hist);
  if (live) $("update-count").textContent = String(++updates);
  watchlist.update(symbol, q, prev ? q.price - prev.price : 0, live);
  onPriceForTrading(symbol, q.price);
  if (symbol === state.selected) drawChart();
}

export async function fetchPrice(sym) {
  try {
    const ack = await call("get_price", { symbol: sym });
    applyQuote(sym, ack.data, false);
  } catch (err) {
    if (err.code !== "offline") report(err, `get_price ${sym}`);
  }
}

$("add-symbol-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("add-symbol-input");
  const raw = input.value.trim();
  if (!raw) return;
  const sym = resolve(raw) ?? raw.toUpperCase();
  if (!state.watch.includes(sym)) {
    if (connected()) {
      try {
        await call("subscribe", { topic: `price:${sym}` }); // the server judges the symbol
      } catch (err) {
        return report(err, "subscribe");
      }
    } else if (!state.symbols.has(sym)) {
      return showError("unknown_symbol", `unknown symbol ${JSON.stringify(raw)}`);
    } // offline: the next handshake subscribes it (auth.topics)
    state.watch.push(sym);
    saveWatch();
    fetchPrice(sym);
  }
  input.value = "";
  select(sym);
});

function removeSymbol(sym) {
  state.watch = state.watch.filter((s) => s !== sym);
  saveWatch();
  if (state.selected === sym) select(state.watch[0] ?? null);
  if (connected()) call("unsubscribe", { topic: `price:${sym}` }).catch((e) => report(e, "unsubscribe"));
}

function select(sym) {
  state.selected = sym;
  if (sym) store.setItem(KEYS.selected, sym);
  watchlist.select(sym);
  if (sym) setTicketSymbol(sym);
  drawChart();
}

function drawChart() {
  const sym = state.selected;
  const q = sym ? state.quotes.get(sym) : null;
  const prevClose = q?.prev_close ?? state.symbols.get(sym)?.prev_close ?? null;
  $("chart-title").innerHTML = sym ? `${esc(nameOf(sym))} <small>${esc(sym)}</small>` : "–";
  $("chart-sub").textContent = sym
    ? `전일 ${krw(prevClose)} · 거래량 ${num(q?.volume)}${q?.timestamp ? ` · ${clock(q.timestamp)}` : ""}`
    : "";
  const dir = direction(q?.change ?? 0);
  $("chart-price").textContent = q ? num(q.price) : "–";
  $("chart-price").className = `big ${dir}`;
  $("chart-change").textContent = q ? `${arrow(q.change)} (${pct(q.change_percent)})` : "";
  $("chart-change").className = dir;
  chart.draw(history.get(sym) ?? [], prevClose,
    sym ? "시세 대기 중 (waiting for prices)" : "관심종목을 선택하세요 (select a symbol)");
}
