// Market-day load over either framing of hts_realtime, from one Node process:
// "socketio" (socket.io-client 4.8, websocket only, no deflate) or "plain"
// (the `ws` package on /api/ws, no deflate). Steered from Python (bench/plain_ws.py).
//
// input: {"url", "kind": "socketio"|"plain", "symbols": [...40], "per_client": 20}
// commands:
//   {"cmd":"open","n":N,"batch":B,"tokens":[...]}  open N more connections; connection i
//       subscribes (in its handshake) to `per_client` consecutive symbols starting at i % 40
//   {"cmd":"record","seconds":S}   count every price_update, and per tick key
//       (symbol|timestamp|volume|price#n) the receipts and their first/last time:
//       answers {"received", "ticks": [[symbol, count, first_ms, last_ms], ...], ...}
//   {"cmd":"close"}
import WebSocket from "ws";
import { input, now, once, serve, sleep, socketTo } from "./lib.mjs";

const { url, kind, symbols, per_client: perClient = 20 } = input;
const conns = [];
let recording = null; // Map key -> [symbol, count, first, last]
let received = 0;
let disconnects = 0;

function onPrice(conn, msg) {
  received += 1;
  if (recording === null) return;
  const t = now();
  const d = msg.data;
  // a quiet market repeats a quote: the n-th receipt of a payload on one connection
  // is the n-th tick that carried it, so every connection names a tick alike
  const payload = `${msg.symbol}|${d.timestamp}|${d.volume}|${d.price}`;
  const seen = conn.seen ?? (conn.seen = new Map());
  const nth = (seen.get(payload) ?? 0) + 1;
  seen.set(payload, nth);
  const key = `${payload}#${nth}`;
  const r = recording.get(key);
  if (r === undefined) recording.set(key, [msg.symbol, 1, t, t]);
  else { r[1] += 1; r[3] = t; }
}

function topicsFor(i) {
  const out = [];
  for (let k = 0; k < perClient; k++) out.push(`price:${symbols[(i + k) % symbols.length]}`);
  return out;
}

function openPlain(token, topics) {
  const q = `?token=${encodeURIComponent(token)}&topics=${encodeURIComponent(topics.join(","))}`;
  const ws = new WebSocket(url.replace("http://", "ws://") + "/api/ws" + q,
                           { perMessageDeflate: false });
  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for connected")), 20000);
    ws.on("message", (raw) => {
      const msg = JSON.parse(raw);
      if (msg.type === "price_update") onPrice(ws, msg);
      else if (msg.type === "connected") { clearTimeout(timer); resolve(msg); }
    });
    ws.on("close", () => { disconnects += 1; clearTimeout(timer); reject(new Error("closed")); });
    ws.on("error", () => {});
  });
  return { conn: ws, connected };
}

function openSocketIO(token, topics) {
  const socket = socketTo(url, { token, topics }, { perMessageDeflate: false });
  socket.on("price_update", (msg) => onPrice(socket, msg));
  socket.on("disconnect", () => { disconnects += 1; });
  return { conn: socket, connected: once(socket, "connected") };
}

async function open({ n, batch = 50, tokens }) {
  const t0 = now();
  let failed = 0;
  for (let done = 0; done < n; done += batch) {
    const wave = [];
    for (let i = 0; i < Math.min(batch, n - done); i++) {
      const index = conns.length;
      const token = tokens[index % tokens.length];
      const { conn, connected } = (kind === "plain" ? openPlain : openSocketIO)(
        token, topicsFor(index));
      conns.push(conn);
      wave.push(connected.catch(() => { failed += 1; }));
    }
    await Promise.all(wave);
  }
  return { opened: n, total: conns.length, failed, ms: now() - t0 };
}

async function record({ seconds }) {
  recording = new Map();
  for (const c of conns) c.seen = new Map();
  const r0 = received;
  const d0 = disconnects;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await sleep(seconds * 1000);
  const wall = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const ticks = [...recording.values()];
  recording = null;
  return {
    window_ms: wall,
    start_ms: t0,
    received: received - r0,
    disconnects: disconnects - d0,
    ticks,
    load_cpu_percent: (100 * (cpu.user + cpu.system) / 1000) / wall,
  };
}

async function close() {
  const n = conns.length;
  for (const c of conns) c.close();
  conns.length = 0;
  await sleep(300);
  return { closed: n };
}

serve({ open, record, close });
