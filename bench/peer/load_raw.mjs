// Many Engine.IO v4 / Socket.IO v5 websocket clients on the `ws` package, with no
// socket.io-client on top: a frame is counted, not parsed, so one load core can
// take the market-day rates (up to 160,000 messages a second) that socket.io-client
// could not. It speaks the protocol exactly: OPEN, CONNECT with auth, answers pings.
//
// input: {"url", "symbols": [...40], "per_client": 20, "seed": 1, "batch": false,
//         "deflate": true}
// commands (one JSON line each, one JSON answer each):
//   {"cmd":"open","n":N,"batch":B,"tokens":[...]}  open N more clients, B at a time;
//        client i subscribes to `per_client` symbols picked by a seeded RNG
//   {"cmd":"record","seconds":S}   count every price message for S seconds:
//        answers per-client counts (sum), a 10 ms histogram of receipt times, CPU
//   {"cmd":"close"}
import WebSocket from "ws";
import { input, now, serve, sleep } from "./lib.mjs";

const { url, symbols = [], per_client = 20, seed = 1, batch = false, deflate = true } = input;
const wsUrl = url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket";
const clients = [];
let rng = seed >>> 0;
function rand() { // xorshift32
  rng ^= rng << 13; rng >>>= 0; rng ^= rng >>> 17; rng ^= rng << 5; rng >>>= 0;
  return rng / 4294967296;
}
function pick(k) {
  const pool = symbols.slice();
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, Math.min(k, pool.length));
}

let recording = null; // {hist: Map(bucket -> count), t0}
let received = 0;
let disconnects = 0;
const BUCKET_MS = 10;

function openOne(token, topics) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: deflate });
    const c = { ws, n: 0, connected: false };
    let settled = false;
    const done = (ok) => { if (!settled) { settled = true; resolve(ok ? c : null); } };
    const timer = setTimeout(() => { done(false); ws.terminate(); }, 30000);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const s = data.toString();
      const kind = s.charCodeAt(0);
      if (kind === 50) { ws.send("3"); return; } // "2" ping -> "3" pong
      if (kind === 48) { // "0" OPEN -> CONNECT with auth
        ws.send("40" + JSON.stringify({ token, topics, batch }));
        return;
      }
      if (s.startsWith("42")) {
        if (!c.connected) {
          if (s.startsWith('42["connected"')) {
            c.connected = true;
            clearTimeout(timer);
            done(true);
          }
          return;
        }
        if (s.startsWith('42["price_update"') || s.startsWith('42["price_batch"')) {
          received += 1;
          c.n += 1;
          if (recording !== null) {
            const b = Math.floor((now() - recording.t0) / BUCKET_MS);
            recording.hist.set(b, (recording.hist.get(b) ?? 0) + 1);
          }
        }
        return;
      }
      if (s.startsWith("44")) { clearTimeout(timer); done(false); ws.close(); }
    });
    ws.on("close", () => { if (c.connected) disconnects += 1; clearTimeout(timer); done(false); });
    ws.on("error", () => { clearTimeout(timer); done(false); });
  });
}

async function open({ n, batch: wave = 50, tokens }) {
  const t0 = now();
  let failed = 0;
  for (let done = 0; done < n; done += wave) {
    const group = [];
    for (let i = 0; i < Math.min(wave, n - done); i++) {
      const token = tokens[(clients.length + group.length) % tokens.length];
      const topics = pick(per_client).map((s) => `price:${s}`);
      group.push(openOne(token, topics));
    }
    for (const c of await Promise.all(group)) {
      if (c === null) failed += 1; else clients.push(c);
    }
  }
  return { opened: n, total: clients.length, failed, ms: now() - t0 };
}

async function record({ seconds }) {
  const before = clients.map((c) => c.n);
  const d0 = disconnects;
  const r0 = received;
  const cpu0 = process.cpuUsage();
  recording = { hist: new Map(), t0: now() };
  const t0 = recording.t0;
  await sleep(seconds * 1000);
  const wall = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const hist = [...recording.hist.entries()].sort((a, b) => a[0] - b[0]);
  recording = null;
  const per = clients.map((c, i) => c.n - before[i]);
  return {
    window_ms: wall,
    bucket_ms: BUCKET_MS,
    received: received - r0,
    per_client_min: per.length ? Math.min(...per) : 0,
    per_client_max: per.length ? Math.max(...per) : 0,
    clients: clients.length,
    hist,
    disconnects: disconnects - d0,
    load_cpu_percent: (100 * (cpu.user + cpu.system) / 1000) / wall,
  };
}

async function close() {
  const n = clients.length;
  for (const c of clients) c.ws.terminate();
  clients.length = 0;
  await sleep(200);
  return { closed: n };
}

serve({ open, record, close });
