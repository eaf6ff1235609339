// A candle chart on a <canvas>, drawn by hand: no chart library, nothing to bundle.
//
// setSeries(candles, stepMs): OHLCV history ({t, open, high, low, close, volume}, oldest
// first, t = the candle's start in ms); live(t, price, qty) folds a trade into the
// candle it belongs to (a new candle when t passes the last one's end). Candles are
// red when they close above their open and blue below (the Korean convention);
// volume bars under them; MA5 and MA20 of the closes; the last price tagged on the axis.

import { compact, num } from "./format.js";

const UP = "#f04452";
const DOWN = "#3d8bfd";
const GRID = "rgba(255,255,255,0.06)";
const LABEL = "#7d8796";
const MA = { 5: "#f0b429", 20: "#b38cff" };
const MAX_CANDLES = 400;

export class CandleChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.candles = [];
    this.step = 60_000;
    this.baseline = null;
    this.message = "";
    this.pending = false;
    new ResizeObserver(() => this.render()).observe(canvas);
  }

  setSeries(candles, step, message = "") {
    this.candles = candles.slice(-MAX_CANDLES);
    this.step = step;
    this.message = message;
    this.draw();
  }

  /** A trade (or a price without volume): update the live candle or open the next one. */
  live(t, price, qty) {
    const c = this.candles;
    const start = this.step >= 86_400_000 ? kstDay(t) : Math.floor(t / this.step) * this.step;
    const last = c[c.length - 1];
    if (last && start < last.t) return; // older than what we show
    if (last && start === last.t) {
      last.high = Math.max(last.high, price);
      last.low = Math.min(last.low, price);
      last.close = price;
      last.volume += qty;
    } else {
      c.push({ t: start, open: price, high: price, low: price, close: price, volume: qty });
      if (c.length > MAX_CANDLES) c.shift();
    }
    this.draw();
  }

  _mark() { // for tests and tools: what the chart holds
    const last = this.candles[this.candles.length - 1];
    this.canvas.dataset.candles = String(this.candles.length);
    this.canvas.dataset.lastClose = last ? String(last.close) : "";
  }

  draw() { // at most once a frame
    this._mark();
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  render() {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px ui-monospace, SFMono-Regular, Menlo, monospace";
    const all = this.candles;
    if (!all.length) {
      ctx.fillStyle = LABEL;
      ctx.textAlign = "center";
      ctx.fillText(this.message || "시세 대기 중", w / 2, h / 2);
      return;
    }
    const pad = { l: 6, r: 64, t: 8, b: 18 };
    const plotW = w - pad.l - pad.r;
    const slot = 7; // px per candle at most-readable width
    const n = Math.max(1, Math.min(all.length, Math.floor(plotW / slot)));
    const cs = all.slice(-n);
    const volH = Math.max(24, Math.round((h - pad.t - pad.b) * 0.2));
    const priceBottom = h - pad.b - volH - 6;
    let lo = Math.min(...cs.map((c) => c.low));
    let hi = Math.max(...cs.map((c) => c.high));
    const span = Math.max(hi - lo, hi * 0.002, 1);
    lo -= span * 0.06;
    hi += span * 0.06;
    const cw = Math.min(plotW / n, 12); // few candles stay candle-sized, right-aligned
    const x0 = pad.l + plotW - cw * n;
    const x = (i) => x0 + cw * i + cw / 2;
    const y = (p) => pad.t + ((hi - p) / (hi - lo)) * (priceBottom - pad.t);

    // grid and price labels
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.fillStyle = LABEL;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const last = cs[cs.length - 1].close;
    const yLast = y(last);
    const gstep = niceStep((hi - lo) / 4);
    for (let p = Math.ceil(lo / gstep) * gstep; p <= hi; p += gstep) {
      const yy = Math.round(y(p)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      if (Math.abs(yy - yLast) > 12) ctx.fillText(num(Math.round(p)), w - pad.r + 6, yy);
    }
    if (this.baseline !== null && this.baseline > lo && this.baseline < hi) { // previous close
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.strokeStyle = "rgba(167,176,192,0.4)";
      const yb = Math.round(y(this.baseline)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yb);
      ctx.lineTo(w - pad.r, yb);
      ctx.stroke();
      ctx.restore();
    }

    // volume
    const vmax = Math.max(1, ...cs.map((c) => c.volume));
    const vBase = h - pad.b;
    cs.forEach((c, i) => {
      const vh = (c.volume / vmax) * volH;
      ctx.fillStyle = (c.close >= c.open ? UP : DOWN) + "66";
      ctx.fillRect(x(i) - Math.max(1, cw * 0.35), vBase - vh, Math.max(1, cw * 0.7), vh);
    });
    ctx.fillStyle = LABEL;
    ctx.fillText(compact(vmax), w - pad.r + 6, vBase - volH + 6); // the volume scale

    // candles
    cs.forEach((c, i) => {
      const col = c.close > c.open ? UP : c.close < c.open ? DOWN : LABEL;
      ctx.strokeStyle = col;
      ctx.fillStyle = col;
      const xx = Math.round(x(i)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(xx, y(c.high));
      ctx.lineTo(xx, y(c.low));
      ctx.stroke();
      const top = y(Math.max(c.open, c.close));
      const bh = Math.max(1, y(Math.min(c.open, c.close)) - top);
      const bw = Math.max(1, cw * 0.7);
      ctx.fillRect(x(i) - bw / 2, top, bw, bh);
    });

    // moving averages of the closes (over the whole history, drawn for what is shown)
    const off = all.length - cs.length;
    for (const [period, colour] of Object.entries(MA)) {
      const p = Number(period);
      ctx.beginPath();
      let started = false;
      let sum = 0;
      for (let j = 0; j < all.length; j++) {
        sum += all[j].close;
        if (j >= p) sum -= all[j - p].close;
        if (j < off || j < p - 1) continue;
        const yy = y(sum / p);
        if (started) ctx.lineTo(x(j - off), yy); else { ctx.moveTo(x(j - off), yy); started = true; }
      }
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.2;
      ctx.stroke();
      ctx.lineWidth = 1;
    }

    // time labels (KST, the market's clock) at round times, ~90 px apart at least
    ctx.fillStyle = LABEL;
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "center";
    const marks = timeMarks(cs.map((c) => c.t), this.step, Math.ceil(90 / cw));
    for (const [i, text] of marks) {
      const xx = Math.min(Math.max(x(i), pad.l + 18), w - pad.r - 18);
      ctx.strokeStyle = GRID;
      ctx.beginPath();
      ctx.moveTo(Math.round(x(i)) + 0.5, pad.t);
      ctx.lineTo(Math.round(x(i)) + 0.5, h - pad.b);
      ctx.stroke();
      ctx.fillText(text, xx, h - 4);
    }
    this.canvas.dataset.xLabels = marks.map(([, text]) => text).join(" ");

    // the last price, tagged on the axis
    const ref = this.baseline ?? cs[0].open;
    ctx.fillStyle = last > ref ? UP : last < ref ? DOWN : "#5b6575";
    ctx.fillRect(w - pad.r + 2, yLast - 8, pad.r - 4, 16);
    ctx.fillStyle = "#fff";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(num(last), w - pad.r + 6, yLast);
  }
}

const KST_MS = 9 * 3_600_000;
const kst = (t) => new Date(t + KST_MS); // read with getUTC*: KST whatever the browser's zone
const two = (n) => String(n).padStart(2, "0");
// round label spacings (ms) for intraday candles: 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h
const SPACINGS = [5, 10, 15, 30, 60, 120, 180, 360, 720].map((m) => m * 60_000);

/**
 * [index, text] of the candles that start a round period, at least `gap` candles apart:
 * "HH:MM" inside a day and "M/D" where a new day starts (intraday); "M/D" and "YYYY"/"M월"
 * at month starts for daily candles.
 */
export function timeMarks(ts, step, gap) {
  const out = [];
  if (step >= 86_400_000) {
    const months = Math.max(1, Math.ceil((gap * 1.45) / 30)); // trading days a month ≈ 21
    let last = -Infinity;
    for (let i = 1; i < ts.length; i++) {
      const a = kst(ts[i - 1]);
      const b = kst(ts[i]);
      const m = b.getUTCFullYear() * 12 + b.getUTCMonth();
      if (m === a.getUTCFullYear() * 12 + a.getUTCMonth() || m % months || i - last < gap) continue;
      out.push([i, b.getUTCMonth() === 0 ? String(b.getUTCFullYear()) : `${b.getUTCMonth() + 1}월`]);
      last = i;
    }
    return out;
  }
  const spacing = SPACINGS.find((s) => s >= gap * step) ?? 86_400_000;
  let last = -Infinity;
  for (let i = 0; i < ts.length; i++) {
    const d = kst(ts[i]);
    const prev = i ? kst(ts[i - 1]) : null;
    const newDay = prev && d.getUTCDate() !== prev.getUTCDate();
    const round = (ts[i] + KST_MS) % spacing === 0 || (prev && Math.floor((ts[i] + KST_MS) / spacing) !== Math.floor((ts[i - 1] + KST_MS) / spacing));
    if (!(newDay || (i && round)) || i - last < gap) continue;
    out.push([i, newDay ? `${d.getUTCMonth() + 1}/${d.getUTCDate()}` : `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`]);
    last = i;
  }
  return out;
}

/** The start (ms) of the KST trading day that contains t. */
function kstDay(t) {
  const KST = 9 * 3_600_000;
  return Math.floor((t + KST) / 86_400_000) * 86_400_000 - KST;
}

/** A round step (1, 2, 2.5 or 5 times a power of ten) near `raw`. */
function niceStep(raw) {
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const f = raw / pow;
  return pow * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10);
}
