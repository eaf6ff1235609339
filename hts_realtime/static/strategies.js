// Strategies: the user's runs (GET /api/strategies), create / start / stop /
// delete over HTTP, live status and signals from the private stream
// (`strategy_status`, `strategy_signal` on the `strategy:{id}` topics), and each
// card's recent signals from GET /api/strategies/{id}/signals, so they survive a reload.

import {
  clock, direction, esc, num, PARAM_KO, signedKrw, STRATEGY_KIND_KO, STRATEGY_STATE_KO,
} from "./format.js";
import { $, api, clear, intOrRaw, nameOf, notify, report, resolve, stream } from "./core.js";
import { setStrategyNamer } from "./trading.js";

const strategies = new Map(); // strategy_id -> the run, as the wire shows it
const signals = new Map(); // strategy_id -> recent signals, newest first
const SIGNALS_SHOWN = 6;

const kindKo = (k) => STRATEGY_KIND_KO[k] ?? k;
setStrategyNamer((id) => {
  const s = strategies.get(id);
  return s ? `전략 ${kindKo(s.kind)}` : "전략";
});

class StrategiesView {
  constructor(container, { onAction }) {
    this.container = container;
    container.addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-action]");
      if (btn) onAction(btn.dataset.action, btn.closest("[data-strategy-id]").dataset.strategyId, btn);
    });
  }

  // Cards are made once and updated in place (statuses arrive many times a second while a
  // strategy trades): a click never lands on a button that is being replaced.
  render() {
    const list = [...strategies.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
    this.cards ??= new Map();
    for (const [id, card] of this.cards) {
      if (!strategies.has(id)) { card.remove(); this.cards.delete(id); }
    }
    const empty = this.container.querySelector(":scope > p.empty");
    if (!list.length) {
      if (!empty) this.container.insertAdjacentHTML("beforeend", `<p class="empty">전략이 없습니다</p>`);
      return;
    }
    empty?.remove();
    list.forEach((s, i) => {
      let card = this.cards.get(s.strategy_id);
      if (!card) {
        card = document.createElement("div");
        card.className = "strat";
        card.setAttribute("data-testid", "strategy-row");
        card.dataset.strategyId = s.strategy_id;
        card.innerHTML = `<div class="strat-head"></div><div class="strat-meta small"></div>
          <div class="strat-params small dim"></div>
          <div class="strat-signals" data-testid="strategy-signals"></div>
          <div class="strat-actions">
            <button type="button" class="small" data-action="start" data-testid="strategy-start">시작</button>
            <button type="button" class="small" data-action="stop" data-testid="strategy-stop">정지</button>
            <button type="button" class="small ghost danger" data-action="delete" data-testid="strategy-delete">삭제</button>
          </div>`;
        this.cards.set(s.strategy_id, card);
      }
      if (this.container.children[i] !== card) this.container.insertBefore(card, this.container.children[i] ?? null);
      this.fill(card, s);
    });
  }

  fill(card, s) {
    const params = Object.entries(s.params ?? {})
      .map(([k, v]) => `<span title="${esc(k)}">${esc(PARAM_KO[k] ?? k)} ${esc(v)}</span>`).join(" · ");
    const sigs = (signals.get(s.strategy_id) ?? []).map((g) =>
      `<span class="sig ${g.signal === "buy" ? "up" : "down"}" data-testid="strategy-signal" title="${esc(g.reason)}">
        ${g.signal === "buy" ? "매수" : "매도"} ${num(g.quantity)}주 @${num(g.price)}
        <span class="dim">${esc(clock(g.timestamp))}</span></span>`).join("");
    const running = s.state === "running";
    const pnl = (s.realized_pnl ?? 0) + (s.unrealized_pnl ?? 0);
    const set = (sel, html) => {
      const el = card.querySelector(sel);
      if (el.innerHTML !== html) el.innerHTML = html;
    };
    set(".strat-head", `<b title="${esc(s.kind)}">${esc(kindKo(s.kind))}</b>
      <span class="strat-sym">${esc(nameOf(s.symbol))}</span>
      <span class="state st-${esc(s.state)}" data-testid="strategy-state" data-state="${esc(s.state)}"
        title="${esc(s.state)}${s.reason ? ` · ${esc(s.reason)}` : ""}">${esc(STRATEGY_STATE_KO[s.state] ?? s.state)}</span>`);
    set(".strat-meta", `${s.auto_trade ? "자동매매" : "모의 신호"} · 수량 ${num(s.quantity)} · 보유 ${num(s.position)}
      · 신호 ${num(Math.max(s.signals ?? 0, signals.get(s.strategy_id)?.length ?? 0))} · 손익 <span class="${direction(pnl)}">${signedKrw(pnl)}</span>`);
    set(".strat-params", `${params}${s.reason ? ` · ${esc(s.reason)}` : ""}`);
    set(".strat-signals", sigs || `<span class="dim small">신호 대기 중</span>`);
    card.querySelector("[data-action=start]").disabled = running;
    card.querySelector("[data-action=stop]").disabled = !running;
  }
}

const view = new StrategiesView($("strategy-list"), { onAction: strategyAction });
const form = $("strategy-form");

export const strategyTopics = () => [...strategies.keys()].map((id) => `strategy:${id}`);

export function setKinds(kinds) {
  form.kind.innerHTML = Object.keys(kinds)
    .map((k) => `<option value="${esc(k)}">${esc(kindKo(k))}</option>`).join("");
  const hint = () => {
    const d = kinds[form.kind.value] ?? {};
    form.params.placeholder = `파라미터 ${JSON.stringify(d)}`;
    form.kind.title = form.kind.value;
  };
  form.kind.addEventListener("change", hint);
  hint();
}

/** Reload the runs and their recent signals over HTTP; follow each run on this connection. */
export async function loadStrategies() {
  const list = await api.strategies();
  strategies.clear();
  for (const s of list) strategies.set(s.strategy_id, s);
  await Promise.all(list.map(async (s) => {
    try {
      signals.set(s.strategy_id, (await api.strategySignals(s.strategy_id, { limit: SIGNALS_SHOWN })).signals);
    } catch (err) {
      if (err.status !== 404) report(err, "strategy");
    }
  }));
  render();
  if (stream?.connected && strategies.size) {
    stream.subscribe(strategyTopics()).catch((e) => report(e, "strategy"));
  }
}

let pending = false;
function render() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    view.render();
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
  if (list.some((g) => g.seq === m.seq)) return; // already loaded over HTTP
  list.unshift({ seq: m.seq, ...m.data });
  signals.set(m.strategy_id, list.slice(0, SIGNALS_SHOWN));
  const s = strategies.get(m.strategy_id);
  if (s) s.signals = (s.signals ?? 0) + 1;
  render();
}

form.addEventListener("input", () => clear("strategy"));
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  let params = {};
  if (form.params.value.trim()) {
    try {
      params = JSON.parse(form.params.value);
    } catch (err) {
      return notify("strategy", "invalid_params", err.message);
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
    const s = await api.createStrategy(body);
    strategies.set(s.strategy_id, s);
    render();
    clear("strategy");
    if (stream) await stream.subscribe(`strategy:${s.strategy_id}`);
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
  try {
    if (action === "delete") {
      await api.deleteStrategy(id);
      strategies.delete(id);
      signals.delete(id);
      stream?.unsubscribe(`strategy:${id}`).catch((e) => report(e, "strategy"));
    } else {
      strategies.set(id, await (action === "start" ? api.startStrategy(id) : api.stopStrategy(id)));
    }
    clear("strategy");
  } catch (err) {
    report(err, "strategy");
    if (action === "delete") button.disabled = false;
  }
  render();
}
