// The dashboard's tables: the watchlist, the order blotter and the account.
// Each owns its DOM and draws the data it is given; no connection logic here.

import {
  arrow, clock, direction, esc, krw, num, ORDER_TYPE_KO, pct, shortId, SIDE_KO, signedKrw, STATUS_KO, symbolBadges,
} from "./format.js";

function flash(el, dir) {
  if (!el || dir === "flat") return;
  el.classList.remove("flash-up", "flash-down");
  void el.offsetWidth; // restart the animation
  el.classList.add(dir === "up" ? "flash-up" : "flash-down");
}

function setDir(el, n) {
  el.classList.remove("up", "down", "flat");
  el.classList.add(direction(n));
}

// -- watchlist --------------------------------------------------------------------

export class WatchlistView {
  constructor(tbody, { onSelect, onRemove }) {
    this.tbody = tbody;
    this.rows = new Map();
    tbody.addEventListener("click", (e) => {
      const row = e.target.closest("tr[data-symbol]");
      if (!row) return;
      if (e.target.closest("[data-testid=watch-remove]")) onRemove(row.dataset.symbol);
      else onSelect(row.dataset.symbol);
    });
  }

  /** Rebuild the row order from `symbols`, keeping rows that stay. */
  setSymbols(symbols, nameOf) {
    for (const [sym, row] of this.rows) {
      if (!symbols.includes(sym)) {
        row.remove();
        this.rows.delete(sym);
      }
    }
    for (const sym of symbols) {
      let row = this.rows.get(sym);
      if (!row) {
        row = document.createElement("tr");
        row.setAttribute("data-testid", "watch-row");
        row.dataset.symbol = sym;
        row.dataset.updates = "0";
        row.innerHTML = `
          <td class="sym-cell"><div class="sym-name" title="${esc(nameOf(sym))}">${esc(nameOf(sym))}</div><div class="sym-code">${esc(sym)}<span class="badges" data-testid="watch-badges"></span></div>
            <button type="button" class="x" data-testid="watch-remove" title="관심종목에서 삭제" aria-label="관심종목에서 삭제">×</button></td>
          <td class="r num price" data-testid="watch-price">–</td>
          <td class="r num chg" data-testid="watch-change"><div class="p">–</div><div class="d small">&nbsp;</div></td>`;
        this.rows.set(sym, row);
      }
      this.tbody.appendChild(row);
    }
  }

  /** Show a quote; `tick` is the move since the previous update (for the flash). */
  update(symbol, q, tick, live) {
    const row = this.rows.get(symbol);
    if (!row) return;
    const price = row.querySelector(".price");
    const chg = row.querySelector(".chg");
    price.textContent = num(q.price);
    chg.querySelector(".p").textContent = pct(q.change_percent);
    chg.querySelector(".d").textContent = arrow(q.change);
    setDir(price, q.change);
    setDir(chg, q.change);
    if (live) {
      row.dataset.updates = String(Number(row.dataset.updates) + 1);
      flash(price, direction(tick));
    }
  }

  /** The symbol's own state (상한가, VI, ...) as small badges under its name. */
  status(symbol, st) {
    const el = this.rows.get(symbol)?.querySelector(".badges");
    if (el) el.innerHTML = badgesHtml(st);
  }

  select(symbol) {
    for (const [sym, row] of this.rows) row.classList.toggle("selected", sym === symbol);
  }
}

export const badgesHtml = (st) => symbolBadges(st).map(([cls, text, title]) =>
  `<span class="sbadge ${cls}" data-testid="symbol-badge" data-kind="${cls}" title="${esc(title)}">${esc(text)}</span>`).join("");

// -- order blotter ------------------------------------------------------------------

const isOpen = (s) => s === "accepted" || s === "partially_filled";
const EMPTY = { open: "미체결 주문이 없습니다", filled: "오늘 체결된 주문이 없습니다", all: "오늘 주문 내역이 없습니다" };

export class BlotterView {
  constructor(tbody, countEl, { onCancel, onAmend, nameOf, strategyName }) {
    this.tbody = tbody;
    this.countEl = countEl;
    this.nameOf = nameOf;
    this.strategyName = strategyName;
    this.rows = new Map();
    this.enabled = true;
    this.clear();
    tbody.addEventListener("click", (e) => {
      const btn = e.target.closest("[data-testid=order-cancel]");
      if (btn) onCancel(btn.closest("tr").dataset.orderId, btn);
      const amend = e.target.closest("[data-testid=order-amend]");
      if (amend) onAmend(amend.closest("tr").dataset.orderId, amend);
    });
  }

  clear() {
    this.rows.clear();
    this.tbody.replaceChildren();
    this.countEl.textContent = "";
    this.empty(true);
  }

  // a message outside the table: a colspan row would add columns the narrow layouts hide
  empty(on) {
    const table = this.tbody.closest("table");
    let p = table.nextElementSibling;
    if (!p?.matches(".empty")) {
      p = document.createElement("p");
      p.className = "empty";
      p.textContent = EMPTY[this.view] ?? EMPTY.all;
      table.after(p);
    }
    p.hidden = !on;
  }

  /** Take a row away (an order that left the view shown: filled or cancelled under 미체결). */
  remove(orderId) {
    const row = this.rows.get(orderId);
    if (!row) return;
    row.remove();
    this.rows.delete(orderId);
    this.count();
  }

  count() {
    this.empty(this.rows.size === 0);
    this.countEl.textContent = this.rows.size ? `${this.rows.size}${this.more ? "+" : ""}건` : "";
  }

  /** The view shown: what the empty list says. */
  setView(view) {
    this.view = view;
    const p = this.tbody.closest("table").nextElementSibling;
    if (p?.matches(".empty")) p.textContent = EMPTY[view] ?? EMPTY.all;
  }

  /** Whether older orders remain on the server (the 더 보기 button). */
  setMore(more) {
    this.more = more;
    this.count();
  }

  setEnabled(on, why) {
    this.enabled = on;
    for (const b of this.tbody.querySelectorAll("[data-testid=order-cancel], [data-testid=order-amend]")) {
      b.disabled = !on;
      b.title = on ? (b.dataset.testid === "order-amend" ? "가격·수량 정정" : "주문 취소") : why;
    }
  }

  upsert(o) {
    let row = this.rows.get(o.order_id);
    const fresh = !row;
    if (fresh) {
      row = document.createElement("tr");
      row.setAttribute("data-testid", "blotter-row");
      row.dataset.orderId = o.order_id;
      row.dataset.created = o.created_at;
      this.rows.set(o.order_id, row);
      // newest first (the creation time, then the id: a page never shifts)
      const key = `${o.created_at}|${o.order_id}`;
      row.dataset.key = key;
      const after = [...this.tbody.children].find((r) => r.dataset.key < key);
      this.tbody.insertBefore(row, after ?? null);
    }
    const open = isOpen(o.status);
    const avg = o.filled_quantity ? num(o.filled_price) : "–";
    const tag = o.strategy_id
      ? `<span class="tag" data-testid="strategy-tag" title="전략 주문 ${esc(o.strategy_id)}">${esc(this.strategyName(o.strategy_id))}</span>` : "";
    row.dataset.status = o.status;
    row.dataset.strategy = o.strategy_id ? "1" : "";
    // 미체결 is what still rests in the market: a cancelled or rejected order's unfilled
    // rest is not (the tooltip says how much was cancelled)
    const rest = open ? o.remaining_quantity : 0;
    const restTitle = o.status === "cancelled" && o.remaining_quantity ? `취소 ${num(o.remaining_quantity)}주` : "";
    // cells updated in place, the buttons kept: a click never lands on a replaced one.
    // Numbers are never cut (no ellipsis on them); only the name shortens, whole on hover.
    const cells = [
      ["num dim c-time", esc(clock(o.created_at)), "", "order-time"],
      ["mono small c-id", `${esc(shortId(o.order_id))}${o.original_order_id
        ? `<span class="orig dim" data-testid="order-original" title="원주문번호 ${esc(o.original_order_id)}">정정 ${esc(shortId(o.original_order_id))}</span>` : ""}`,
      o.original_order_id ? `${o.order_id} · 원주문번호 ${o.original_order_id}` : o.order_id, "order-id"],
      ["sym c-sym", `<span class="nm">${esc(this.nameOf(o.symbol))}</span>${tag}`,
        `${this.nameOf(o.symbol)} ${o.symbol} · 주문번호 ${o.order_id}`, "order-symbol"],
      [`c-side ${o.side === "buy" ? "up" : "down"}`,
        `${SIDE_KO[o.side] ?? esc(o.side)} <span class="dim small">${esc(ORDER_TYPE_KO[o.order_type] ?? o.order_type)}</span>`,
        `${o.side} · ${o.order_type}`, "order-kind"],
      ["r num c-price", o.order_type === "market" ? `<span class="dim">시장가</span>` : num(o.price), "", "order-limit"],
      // 체결/주문 may wrap after the slash in a narrow column rather than be cut
      ["r num c-qty", `${num(o.filled_quantity)}/<wbr>${num(o.quantity)}`, "", "order-qty"],
      ["r num c-rem", num(rest), restTitle, "order-remaining"],
      ["r num c-avg", avg, "", "order-avg"],
      ["c-status", `<span class="status s-${esc(o.status)}" data-testid="order-status" data-status="${esc(o.status)}"
        title="${esc(o.status)}${o.reason ? ` · ${esc(o.reason)}` : ""}">${esc(STATUS_KO[o.status] ?? o.status)}</span>`, "", ""],
    ];
    if (fresh) row.innerHTML = `${cells.map(() => "<td></td>").join("")}<td class="c c-act"></td>`;
    cells.forEach(([cls, html, title, testid], k) => {
      const td = row.children[k];
      td.className = cls;
      if (td.innerHTML !== html) td.innerHTML = html;
      if (title) td.title = title; else td.removeAttribute("title");
      if (testid) td.dataset.testid = testid;
    });
    const last = row.children[cells.length];
    const button = last.querySelector("[data-testid=order-cancel]");
    // 정정 for a resting limit order of the user's own (a market or a strategy's order: cancel)
    const amendable = open && o.order_type === "limit" && !o.strategy_id;
    if (open && !button) {
      last.innerHTML = `${amendable ? `<button type="button" class="ghost small" data-testid="order-amend" ${this.enabled ? "" : "disabled"}>정정</button>` : ""}<button type="button" class="ghost small" data-testid="order-cancel" ${this.enabled ? "" : "disabled"}>취소</button>`;
    } else if (!open && button) {
      last.replaceChildren();
    }
    if (!fresh) flash(row, o.side === "buy" ? "up" : "down");
    this.count();
  }
}

// A name shortened to fit ("삼성바이…") shows whole on a tap (a title shows only on hover).
export function tapForFullName(root) {
  root.addEventListener("click", (e) => {
    const cell = e.target.closest("td.sym");
    if (cell) cell.classList.toggle("full");
  });
}

// -- account --------------------------------------------------------------------------

export class AccountView {
  constructor(els, nameOf) {
    this.els = els; // {id, cash, available, market, unrealized, ret, realized, total, positions}
    this.nameOf = nameOf;
    this.account = null;
    this.marks = new Map(); // symbol -> live price, newer than the snapshot's market_price
  }

  set(account) {
    this.account = account;
    this.marks.clear();
    this.render();
  }

  /** Re-mark a position at a live price (exact integer arithmetic from the snapshot). */
  onPrice(symbol, price) {
    if (!this.account?.positions?.some((p) => p.symbol === symbol)) return;
    this.marks.set(symbol, price);
    this.render();
  }

  render() {
    const a = this.account;
    const e = this.els;
    if (!a) return;
    let dValue = 0;
    let basis = 0;
    const rows = (a.positions ?? []).map((p) => {
      const mark = this.marks.get(p.symbol) ?? p.market_price;
      const delta = p.quantity * (mark - p.market_price);
      dValue += delta;
      const pnl = p.unrealized_pnl + delta;
      const cost = p.cost ?? p.avg_price * p.quantity;
      basis += cost;
      const name = p.name ?? this.nameOf(p.symbol);
      // the name may shorten; a tap (or hover) shows it whole
      return `<tr data-testid="position-row" data-symbol="${esc(p.symbol)}">
        <td class="sym c-sym" title="${esc(name)} ${esc(p.symbol)}" tabindex="0"><span class="nm">${esc(name)}</span></td>
        <td class="r num c-qty" data-testid="position-qty">${num(p.quantity)}</td>
        <td class="r num c-avg" data-testid="position-avg">${num(p.avg_price)}</td>
        <td class="r num c-mark" data-testid="position-mark">${num(mark)}</td>
        <td class="r num c-pnl ${direction(pnl)}" data-testid="position-pnl">${signedKrw(pnl)}</td>
        <td class="r num c-rate ${direction(pnl)}" data-testid="position-return">${cost ? pct((pnl / cost) * 100) : "–"}</td></tr>`;
    });
    e.positions.innerHTML = rows.join("");
    e.positionsEmpty.hidden = rows.length > 0;
    e.id.textContent = a.account_id ?? "";
    // KRX settles T+2: 예수금 is today's settled cash, D+2 after every pending settlement
    // (a server without settlement fields: both are the cash)
    e.cash.textContent = krw(a.deposit ?? a.cash);
    e.deposit2.textContent = krw(a.deposit_d2 ?? a.cash);
    e.deposit2.title = (a.settlements ?? []).map((s) => `${s.date} ${signedKrw(s.amount)}`).join(" · ") || "결제예정 없음";
    e.purchase.textContent = krw(a.purchase_amount ?? basis);
    e.available.textContent = krw(a.available_cash ?? a.cash);
    e.market.textContent = krw((a.market_value ?? 0) + dValue);
    const unrealized = (a.unrealized_pnl ?? 0) + dValue;
    e.unrealized.textContent = signedKrw(unrealized);
    e.unrealized.className = direction(unrealized);
    e.ret.textContent = basis ? pct((unrealized / basis) * 100) : "–";
    e.ret.className = direction(basis ? unrealized : 0);
    e.ret.title = basis ? `평가손익 ÷ 매입금액 ${krw(basis)}` : "";
    e.realized.textContent = signedKrw(a.realized_pnl ?? 0);
    e.realized.className = direction(a.realized_pnl ?? 0);
    e.total.textContent = krw(a.total_value + dValue);
    // costs, where the server reports them: brokerage fees and the sell-side transaction tax
    const costs = (a.fees_paid ?? 0) + (a.taxes_paid ?? 0);
    e.costs.textContent = a.fees_paid === undefined ? "–" : krw(costs);
    e.costs.title = a.fees_paid === undefined ? "" : `수수료 ${krw(a.fees_paid)} · 세금 ${krw(a.taxes_paid ?? 0)}`;
  }
}
