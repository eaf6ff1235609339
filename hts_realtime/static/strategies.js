// Strategies: the user's runs (GET /api/strategies), create / start / stop /
// delete over HTTP, live status and signals from the private stream
// (`strategy_status`, `strategy_signal` on the `strategy:{id}` topics).

import { clock, direction, esc, num, signedKrw } from "./api.js";
import { $, call, connected, http, intOrRaw, nameOf, report, resolve, showError } from "./core.js";

const strategies = new Map(); // strategy_id -> the run, as the wire shows it
const signals = new Map(); // strategy_id -> recent signals, newest first
const SIGNALS_SHOWN = 4;

class StrategiesView {
  constructor(container, { onAction, nameOf }) {
    this.container = container;
    this.nameOf = nameOf;
    container.addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-action]");
      if (btn) onAction(btn.dataset.action, btn.closest("[data-strategy-id]").dataset.strategyId, btn);
    });
  }

  render(strategies, signals) {
    const list = [...strategies.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (!list.length) {
      this.container.innerHTML = `<p class="empty">전략 없음 (no strategies yet)</p>`;
      return;
    }
    this.container.innerHTML = list.map((s) => {
      const params = Object.entries(s.params ?? {}).map(([k, v]) => `${k}=${v}`).join(", ");
      const sigs = (signals.get(s.strategy_id) ?? []).map((g) =>
        `<span class="sig ${g.signal === "buy" ? "up" : "down"}" title="${esc(g.reason)}">
          ${g.signal === "buy" ? "매수" : "매도"} ${num(g.quantity)}@${num(g.price)}
          <span class="dim">${esc(clock(g.timestamp))}</span></span>`).join("");
      const running = s.state === "running";
      const pnl = (s.realized_pnl ?? 0) + (s.unrealized_pnl ?? 0);
      return `<div class="strat" data-testid="strategy-row" data-strategy-id="${esc(s.strategy_id)}">
        <div class="strat-head">
          <b>${esc(s.kind)}</b> ${esc(this.nameOf(s.symbol))} <span class="dim small">${esc(s.symbol)}</span>
          <span class="state st-${esc(s.state)}" data-testid="strategy-state"
            title="${esc(s.reason ?? "")}">${esc(s.state)}</span>
        </div>
        <div class="strat-meta small">
          ${s.auto_trade ? "자동매매" : "모의"} · 수량 ${num(s.quantity)} · 보유 ${num(s.position)}
          · 신호 ${num(s.signals ?? 0)} · 손익 <span class="${direction(pnl)}">${signedKrw(pnl)}</span>
        </div>
        <div class="strat-params mono small dim">${esc(params)}${s.reason ? ` · ${esc(s.reason)}` : ""}</div>
        <div class="strat-signals" data-testid="strategy-signals">${sigs || `<span class="dim small">신호 대기 (no signals yet)</span>`}</div>
        <div class="strat-actions">
          <button type="button" class="small" data-action="start" data-testid="strategy-start" ${running ? "disabled" : ""}>시작 start</button>
          <button type="button" class="small" data-action="stop" data-testid="strategy-stop" ${running ? "" : "disabled"}>정지 stop</button>
          <button type="button" class="small ghost danger" data-action="delete" data-testid="strategy-delete">삭제</button>
        </div>
      </div>`;
    }).join("");
  }
}

const view = new StrategiesView($("strategy-list"), { onAction: strategyAction, nameOf });
const form = $("strategy-form");

export const strategyTopics = () => [...strategies.keys()].map((id) => `strategy:${id}`);

export function setKinds(kinds) {
  form.kind.innerHTML = Object.keys(kinds)
    .map((k) => `<option value="${esc(k)}">${esc(k)}</option>`).join("");
  const hint = () => { form.params.placeholder = `params ${JSON.stringify(kinds[form.kind.value] ?? {})}`; };
  form.kind.addEventListener("change", hint);
  hint();
}

export function setStrategies(list) {
  strategies.clear();
  for (const s of list) strategies.set(s.strategy_id, s);
  render();
}

/** Reload the list over HTTP and make sure this connection follows each run. */
export async function loadStrategies() {
  setStrategies(await http("GET", "/api/strategies"));
  if (connected() && strategies.size) {
    call("subscribe", { topics: strategyTopics() }).catch((e) => report(e, "subscribe"));
  }
}

let pending = false;
function render() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    view.render(strategies, signals);
  });
}

export function onStrategyStatus(m) {
  const s = strategies.get(m.strategy_id);
  if (!s) return;
  if (m.data.state === "deleted") strategies.delete(m.strategy_id);
  else Object.assign(s, m.data);
  render();
}

export function onStrategySignal(m) {
  const list = signals.get(m.strategy_id) ?? [];
  list.unshift(m.data);
  signals.set(m.strategy_id, list.slice(0, SIGNALS_SHOWN));
  const s = strategies.get(m.strategy_id);
  if (s) s.signals = (s.signals ?? 0) + 1;
  render();
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  let params = {};
  if (form.params.value.trim()) {
    try {
      params = JSON.parse(form.params.value);
    } catch (err) {
      return showError("invalid_params", `params must be JSON: ${err.message}`);
    }
  }
  const body = {
    kind: form.kind.value,
    symbol: resolve(form.symbol.value) ?? form.symbol.value.trim(),
    quantity: intOrRaw(form.quantity.value),
    auto_trade: form.auto_trade.checked,
    params,
  };
  try {
    const s = await http("POST", "/api/strategies", body);
    strategies.set(s.strategy_id, s);
    render();
    if (connected()) await call("subscribe", { topic: `strategy:${s.strategy_id}` });
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
      strategies.delete(id);
      signals.delete(id);
      if (connected()) call("unsubscribe", { topic: `strategy:${id}` }).catch((e) => report(e, "unsubscribe"));
    } else {
      strategies.set(id, await http("POST", `${path}/${action}`));
    }
  } catch (err) {
    report(err, `strategy ${action}`);
  }
  render();
}
