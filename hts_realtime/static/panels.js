// The dashboard's tables: the watchlist, the order blotter and the account.
// Each owns its DOM and draws the data it is given; no connection logic here.

import { arrow, clock, direction, esc, krw, num, pct, signedKrw } from "./api.js";

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
          <td><div class="sym-name">${esc(nameOf(sym))}</div><div class="sym-code">${esc(sym)}</div></td>
          <td class="r num price" data-testid="watch-price">–</td>
          <td class="r num chg" data-testid="watch-change"><div class="p">–</div><div class="d small">&nbsp;</div></td>
          <td class="c"><button type="button" class="x" data-testid="watch-remove" title="삭제 remove">×</button></td>`;
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

  select(symbol) {
    for (const [sym, row] of this.rows) row.classList.toggle("selected", sym === symbol);
  }
}

// -- order blotter ------------------------------------------------------------------

const STATUS_KO = {
  accepted: "접수",
  partially_filled: "부분체결",
  filled: "체결",
  cancelled: "취소",
  rejected: "거부",
};
const isOpen = (s) => s === "accepted" || s === "partially_filled";

export class BlotterView {
  constructor(tbody, countEl, { onCancel, nameOf }) {
    this.tbody = tbody;
    this.countEl = countEl;
    this.nameOf = nameOf;
    this.rows = new Map();
    tbody.addEventListener("click", (e) => {
      const btn = e.target.closest("[data-testid=order-cancel]");
      if (btn) onCancel(btn.closest("tr").dataset.orderId, btn);
    });
  }

  clear() {
    this.rows.clear();
    this.tbody.replaceChildren();
    this.countEl.textContent = "";
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
      // newest first
      const after = [...this.tbody.children].find((r) => r.dataset.created < o.created_at);
      this.tbody.insertBefore(row, after ?? null);
    }
    const side = o.side === "buy" ? "매수" : "매도";
    const kind = o.order_type === "market" ? "시장가" : `지정가 ${num(o.price)}`;
    const avg = o.filled_quantity ? num(o.filled_price) : "–";
    row.dataset.status = o.status;
    row.innerHTML = `
      <td class="num dim">${esc(clock(o.created_at))}</td>
      <td class="mono small" data-testid="order-id">${esc(o.order_id)}</td>
      <td>${esc(this.nameOf(o.symbol))} <span class="dim small">${esc(o.symbol)}</span></td>
      <td class="${o.side === "buy" ? "up" : "down"}">${side} <span class="dim small">${esc(kind)}</span></td>
      <td class="r num">${num(o.quantity)}</td>
      <td class="r num">${num(o.filled_quantity)}</td>
      <td class="r num">${avg}</td>
      <td><span class="status s-${esc(o.status)}" data-testid="order-status" data-status="${esc(o.status)}"
        title="${esc(o.reason ?? "")}">${esc(STATUS_KO[o.status] ?? "")} ${esc(o.status)}</span></td>
      <td class="c">${isOpen(o.status)
        ? `<button type="button" class="ghost small" data-testid="order-cancel">취소</button>` : ""}</td>`;
    if (!fresh) flash(row, o.side === "buy" ? "up" : "down");
    const open = [...this.rows.values()].filter((r) => isOpen(r.dataset.status)).length;
    this.countEl.textContent = `${this.rows.size}건 · 미체결 ${open}`;
  }
}

// -- account --------------------------------------------------------------------------

export class AccountView {
  constructor(els, nameOf) {
    this.els = els; // {id, cash, available, market, unrealized, realized, total, positions}
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
    const rows = (a.positions ?? []).map((p) => {
      const mark = this.marks.get(p.symbol) ?? p.market_price;
      const delta = p.quantity * (mark - p.market_price);
      dValue += delta;
      const pnl = p.unrealized_pnl + delta;
      return `<tr data-testid="position-row" data-symbol="${esc(p.symbol)}">
        <td title="${esc(p.symbol)}">${esc(p.name ?? this.nameOf(p.symbol))}</td>
        <td class="r num">${num(p.quantity)}</td>
        <td class="r num">${num(p.avg_price)}</td>
        <td class="r num">${num(mark)}</td>
        <td class="r num ${direction(pnl)}">${signedKrw(pnl)}</td></tr>`;
    });
    e.positions.innerHTML = rows.join("") ||
      `<tr><td colspan="5" class="empty">보유 종목 없음 (no positions)</td></tr>`;
    e.id.textContent = a.account_id ?? "";
    e.cash.textContent = krw(a.cash);
    e.available.textContent = krw(a.available_cash ?? a.cash);
    e.market.textContent = krw((a.market_value ?? 0) + dValue);
    const unrealized = (a.unrealized_pnl ?? 0) + dValue;
    e.unrealized.textContent = signedKrw(unrealized);
    e.unrealized.className = direction(unrealized);
    e.realized.textContent = signedKrw(a.realized_pnl ?? 0);
    e.realized.className = direction(a.realized_pnl ?? 0);
    e.total.textContent = krw(a.total_value + dValue);
  }
}
