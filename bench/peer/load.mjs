// Many client connections held by one Node process (socket.io-client 4.8,
// `forceNew: true, transports: ['websocket']`), steered from Python.
//
// input: {"url", "token", "topics": [...], "deflate": true}  (the same auth for every
//   socket; deflate: false stops the client offering permessage-deflate, which
//   socket.io-client's `ws` otherwise offers, like browsers do)
// commands (one JSON line each, one JSON answer each):
//   {"cmd":"open","n":N,"batch":B,"tokens":[...]?}  open N more sockets, B at a
//        time (waits for `connected` of each batch); socket i of this command uses
//        tokens[i] when given, else the input token
//   {"cmd":"record","seconds":S}    record every price_update receipt for S seconds:
//        answers {"keys":[payload...], "sockets":[[t_ms, key_index, ...], ...], ...}
//   {"cmd":"close"}                 close every socket
//   {"cmd":"exit"}
import { input, now, once, say, serve, sleep, socketTo } from "./lib.mjs";

const { url, token, topics = [], deflate = true } = input;
const extra = deflate ? {} : { perMessageDeflate: false };
const sockets = [];
let recording = null; // {keys: Map, rec: [[...]]}
let disconnects = 0;
let received = 0;

function keyOf(msg) {
  const d = msg?.data ?? {};
  return `${msg?.symbol}|${d.timestamp}|${d.volume}|${d.price}`;
}

function attach(socket, index) {
  socket.on("price_update", (msg) => {
    received += 1;
    if (recording === null) return;
    const t = now();
    const key = keyOf(msg);
    let k = recording.keys.get(key);
    if (k === undefined) {
      k = recording.keys.size;
      recording.keys.set(key, k);
    }
    const arr = recording.rec[index];
    arr.push(Math.round(t * 1000) / 1000, k);
  });
  socket.on("disconnect", () => { disconnects += 1; });
}

async function open({ n, batch = 50, tokens = null }) {
  const t0 = now();
  let failed = 0;
  for (let done = 0; done < n; done += batch) {
    const wave = [];
    for (let i = 0; i < Math.min(batch, n - done); i++) {
      const t = tokens ? tokens[(done + i) % tokens.length] : token;
      const socket = socketTo(url, { token: t, topics }, extra);
      attach(socket, sockets.length);
      sockets.push(socket);
      wave.push(once(socket, "connected").catch(() => { failed += 1; }));
    }
    await Promise.all(wave);
  }
  return { opened: n, total: sockets.length, failed, ms: now() - t0 };
}

async function record({ seconds }) {
  recording = { keys: new Map(), rec: sockets.map(() => []) };
  const d0 = disconnects;
  const r0 = received;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await sleep(seconds * 1000);
  const wall = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { keys, rec } = recording;
  recording = null;
  return {
    window_ms: wall,
    start_ms: t0,
    keys: [...keys.keys()],
    sockets: rec,
    received: received - r0,
    disconnects: disconnects - d0,
    load_cpu_percent: (100 * (cpu.user + cpu.system) / 1000) / wall,
  };
}

async function close() {
  const n = sockets.length;
  for (const s of sockets) s.close();
  sockets.length = 0;
  await sleep(200);
  return { closed: n };
}

serve({ open, record, close });
