// A small hand-drawn line chart on a <canvas>: no chart library.
//
// draw(points, baseline): points are {t: ms, price} in time order; baseline
// (the previous close) is drawn dashed, and the line is red above it and blue
// below it, as Korean trading screens colour a rise and a fall.

import { clock, num } from "./api.js";

const UP = "#f04452";
const DOWN = "#3d8bfd";
const FLAT = "#a7b0c0";
const GRID = "rgba(255,255,255,0.06)";
const LABEL = "#7d8796";

export class LineChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.points = [];
    this.baseline = null;
    this.message = "시세 대기 중 (waiting for prices)";
    new ResizeObserver(() => this.render()).observe(canvas);
  }

  draw(points, baseline, message) {
    this.points = points;
    this.baseline = baseline ?? null;
    if (message) this.message = message;
    this.render();
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
    ctx.font = "11px ui-monospace, SFMono-Regular, Menlo, NanumGothicCoding, monospace";

    const pts = this.points;
    if (pts.length < 2) {
      ctx.fillStyle = LABEL;
      ctx.textAlign = "center";
      ctx.fillText(this.message, w / 2, h / 2);
      return;
    }

    const pad = { l: 8, r: 68, t: 10, b: 20 };
    const prices = pts.map((p) => p.price);
    if (this.baseline !== null) prices.push(this.baseline);
    let lo = Math.min(...prices);
    let hi = Math.max(...prices);
    const span = Math.max(hi - lo, hi * 0.002, 1);
    lo -= span * 0.08;
    hi += span * 0.08;
    const t0 = pts[0].t;
    const t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
    const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (w - pad.l - pad.r);
    const y = (p) => pad.t + ((hi - p) / (hi - lo)) * (h - pad.t - pad.b);

    // grid and price labels, at round prices
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.fillStyle = LABEL;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const step = niceStep((hi - lo) / 4);
    const yLast = y(pts[pts.length - 1].price);
    for (let p = Math.ceil(lo / step) * step; p <= hi; p += step) {
      const yy = Math.round(y(p)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      if (Math.abs(yy - yLast) > 12) ctx.fillText(num(Math.round(p)), w - pad.r + 6, yy); // not under the tag
    }
    // time labels: first and last point
    ctx.textBaseline = "alphabetic";
    const hhmmss = (t) => clock(new Date(t).toISOString());
    ctx.fillText(hhmmss(t0), pad.l, h - 5);
    ctx.textAlign = "right";
    ctx.fillText(hhmmss(t1), w - pad.r, h - 5);

    const last = pts[pts.length - 1].price;
    const ref = this.baseline ?? pts[0].price;
    const colour = last > ref ? UP : last < ref ? DOWN : FLAT;

    // previous close, dashed
    if (this.baseline !== null) {
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.strokeStyle = "rgba(167,176,192,0.45)";
      const yb = Math.round(y(this.baseline)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yb);
      ctx.lineTo(w - pad.r, yb);
      ctx.stroke();
      ctx.restore();
    }

    // area under the line, then the line
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.price)) : ctx.moveTo(x(p.t), y(p.price))));
    ctx.lineTo(x(pts[pts.length - 1].t), h - pad.b);
    ctx.lineTo(x(t0), h - pad.b);
    ctx.closePath();
    const grad = ctx.createLinearGradient(0, pad.t, 0, h - pad.b);
    grad.addColorStop(0, colour + "55");
    grad.addColorStop(1, colour + "00");
    ctx.fillStyle = grad;
    ctx.fill();

    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.price)) : ctx.moveTo(x(p.t), y(p.price))));
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.6;
    ctx.lineJoin = "round";
    ctx.stroke();

    // the last price, tagged on the axis
    const yl = y(last);
    ctx.beginPath();
    ctx.arc(x(pts[pts.length - 1].t), yl, 3, 0, Math.PI * 2);
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.fillRect(w - pad.r + 2, yl - 8, pad.r - 4, 16);
    ctx.fillStyle = "#fff";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(num(last), w - pad.r + 6, yl);
  }
}

/** A round step (1, 2, 2.5 or 5 times a power of ten) near `raw`. */
function niceStep(raw) {
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const f = raw / pow;
  return pow * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10);
}
