// Shared helpers for the Node scenario scripts run by tests/test_node_client.py.
//
// A scenario gets its inputs as one JSON argument (argv[2]), records what it
// observes and prints ONE JSON object on stdout (the Python test asserts on it).
// Any failure prints the error on stderr and exits 1.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

export const input = JSON.parse(process.argv[2] ?? "{}");
export const t0 = Date.now();
export const now = () => (Date.now() - t0) / 1000; // seconds since the script started
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Connect a fresh socket (never a cached Manager) that records every event.
// Resolves once connected or rejects with the connect_error (err.message, err.data).
export function connect(url, opts = {}, timeoutMs = 10000) {
  const socket = io(url, { forceNew: true, reconnection: false, timeout: timeoutMs, ...opts });
  socket.events = []; // [{event, data, t}] in arrival order
  const engine = socket.io.engine; // the Manager opens its engine synchronously
  socket.firstTransport = engine.transport.name;
  socket.upgradedTo = null;
  engine.once("upgrade", (transport) => (socket.upgradedTo = transport.name));
  socket.onAny((event, ...args) => {
    socket.events.push({ event, data: args.length > 1 ? args : args[0], t: now() });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connect timed out: ${url}`)), timeoutMs);
    socket.once("connect", () => { clearTimeout(timer); resolve(socket); });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      socket.close();
      reject(Object.assign(err, { socket }));
    });
  });
}

// The recorded events of one name.
export const eventsOf = (socket, name) => socket.events.filter((e) => e.event === name);

// Wait until `count` events named `name` were recorded (or `pred` holds); returns them.
export async function waitFor(socket, name, count = 1, timeoutMs = 10000, pred = () => true) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = eventsOf(socket, name).filter((e) => pred(e.data));
    if (got.length >= count) return got;
    if (Date.now() > deadline) {
      const seen = socket.events.slice(-20).map((e) => e.event);
      throw new Error(`waited ${timeoutMs} ms for ${count} '${name}', got ${got.length}; saw ${seen}`);
    }
    await sleep(20);
  }
}

// emitWithAck with a timeout; `args` are the event's arguments (usually one payload).
export async function call(socket, event, ...args) {
  return socket.timeout(10000).emitWithAck(event, ...args);
}

// Lines from stdin, one at a time (for scenarios the Python side steers).
const lines = createInterface({ input: process.stdin });
const queued = [];
const waiting = [];
lines.on("line", (l) => (waiting.length ? waiting.shift()(l) : queued.push(l)));
lines.on("close", () => { while (waiting.length) waiting.shift()(null); });
export function readLine() {
  if (queued.length) return Promise.resolve(queued.shift());
  return new Promise((r) => waiting.push(r));
}

// Print a progress line for the Python side (one JSON object per line).
export const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// Run a scenario: print its result as the final JSON line and exit 0; any error exits 1.
export function run(main) {
  main()
    .then((result) => {
      say(result);
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`${err?.stack ?? err}\n`);
      if (err?.data !== undefined) process.stderr.write(`data: ${JSON.stringify(err.data)}\n`);
      process.exit(1);
    });
}

// A loopback TCP proxy: the scenario's "mobile network" (like tests/support.py's TcpProxy).
//   cut()       reset every open connection (no WebSocket close frame)
//   blackhole() stop forwarding on every open connection, silently (a dead radio)
//   down/up()   while down, new connections are reset at once (no network at all)
import net from "node:net";

export function tcpProxy(targetPort) {
  const links = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.resetAndDestroy();
    const upstream = net.connect(targetPort, "127.0.0.1");
    const link = { client, upstream, dead: false };
    links.add(link);
    const pipe = (from, to) => from.on("data", (d) => { if (!link.dead) to.write(d); });
    pipe(client, upstream);
    pipe(upstream, client);
    const end = () => { links.delete(link); if (!link.dead) { client.destroy(); upstream.destroy(); } };
    for (const s of [client, upstream]) { s.on("error", end); s.on("close", end); }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() { for (const l of links) { l.client.resetAndDestroy(); l.upstream.resetAndDestroy(); } links.clear(); },
    blackhole() { for (const l of links) l.dead = true; links.clear(); },
    down() { down = true; },
    up() { down = false; },
    close() { this.cut(); server.close(); },
  })));
}
