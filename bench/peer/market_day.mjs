// Market-day load across several servers: N socket.io-client connections, spread
// round-robin over `urls`, each subscribed to `per_client` of `symbols` (a window
// rotating with the connection's index), counting `price_update` receipts.
//
// input: {"urls": [...], "token", "symbols": [...], "per_client": 20, "deflate": false}
// commands: {"cmd":"open","n":N,"batch":B} · {"cmd":"record","seconds":S} ·
//           {"cmd":"close"} · {"cmd":"exit"}
// record answers {"window_ms","received","per_socket_min","disconnects","load_cpu_percent"}.
import { input, now, once, serve, sleep, socketTo } from "./lib.mjs";

const { urls, token, symbols, per_client = 20, deflate = false } = input;
const extra = deflate ? {} : { perMessageDeflate: false };
const sockets = [];
let counts = null;
let disconnects = 0;

function topicsFor(i) {
  const out = [];
  for (let k = 0; k < per_client; k++) out.push(`price:${symbols[(i + k) % symbols.length]}`);
  return out;
}

function attach(socket, index) {
  socket.on("price_update", (msg) => {
    if (counts === null) return;
    counts[index] += 1;
  });
  socket.on("disconnect", () => { disconnects += 1; });
}

async function open({ n, batch = 50 }) {
  const t0 = now();
  let failed = 0;
  for (let done = 0; done < n; done += batch) {
    const wave = [];
    for (let i = 0; i < Math.min(batch, n - done); i++) {
      const index = sockets.length;
      const url = urls[index % urls.length];
      const socket = socketTo(url, { token, topics: topicsFor(index) }, extra);
      attach(socket, index);
      sockets.push(socket);
      wave.push(once(socket, "connected").catch(() => { failed += 1; }));
    }
    await Promise.all(wave);
  }
  return { opened: n, total: sockets.length, failed, ms: now() - t0 };
}

async function record({ seconds }) {
  counts = sockets.map(() => 0);
  const d0 = disconnects;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await sleep(seconds * 1000);
  const wall = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const per = counts;
  counts = null;
  return {
    window_ms: wall,
    received: per.reduce((a, b) => a + b, 0),
    per_socket_min: Math.min(...per),
    disconnects: disconnects - d0,
    load_cpu_percent: (100 * (cpu.user + cpu.system) / 1000) / wall,
  };
}

async function close() {
  const n = sockets.length;
  for (const s of sockets) s.close();
  sockets.length = 0;
  await sleep(300);
  return { closed: n };
}

serve({ open, record, close });
