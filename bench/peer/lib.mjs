// Helpers shared by the Node load generators (they run on the load core).
//
// Protocol with the Python side (bench/common.py NodeLoad): input is one JSON
// argument (argv[2]); a steered script reads one JSON command per stdin line
// and answers each with one JSON line on stdout. A one-shot script prints its
// result as one JSON line. Errors are printed as {"error": "..."} and exit 1.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";

export const input = JSON.parse(process.argv[2] ?? "{}");
export const now = () => performance.now(); // ms, monotonic
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// A fresh socket.io-client socket (own Manager, websocket only, no reconnection).
export function socketTo(url, auth, extra = {}) {
  return io(url, {
    forceNew: true,
    transports: ["websocket"],
    reconnection: false,
    timeout: 20000,
    auth,
    ...extra,
  });
}

// Resolve when `socket` emits `event` (with a timeout), reject on connect_error.
export function once(socket, event, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    socket.once(event, (data) => { clearTimeout(timer); resolve(data); });
    if (event !== "connect_error") {
      socket.once("connect_error", (err) => {
        clearTimeout(timer);
        reject(new Error(`connect_error: ${JSON.stringify(err.data ?? err.message)}`));
      });
    }
  });
}

const lines = createInterface({ input: process.stdin });
const queued = [];
const waiting = [];
lines.on("line", (l) => (waiting.length ? waiting.shift()(l) : queued.push(l)));
lines.on("close", () => { while (waiting.length) waiting.shift()(null); });
export function readCommand() {
  if (queued.length) return Promise.resolve(JSON.parse(queued.shift()));
  return new Promise((r) => waiting.push((l) => r(l === null ? null : JSON.parse(l))));
}

// Run a steered script: `handlers[cmd.cmd](cmd)` answers each command.
export async function serve(handlers) {
  try {
    for (;;) {
      const cmd = await readCommand();
      if (cmd === null || cmd.cmd === "exit") break;
      const handler = handlers[cmd.cmd];
      if (!handler) throw new Error(`unknown command ${cmd.cmd}`);
      say(await handler(cmd));
    }
    process.exit(0);
  } catch (err) {
    say({ error: String(err?.stack ?? err) });
    process.exit(1);
  }
}

// Run a one-shot script: print its result and exit.
export function runOnce(main) {
  main().then((r) => { say(r); process.exit(0); })
    .catch((err) => { say({ error: String(err?.stack ?? err) }); process.exit(1); });
}
