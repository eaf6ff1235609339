// Closed-loop HTTP order load (bench/order_rate.py): C clients, each with its own
// keep-alive connection and token, send one request, wait for the answer, send the
// next. Latency is from the request written to the response body read.
//
// input: {url, tokens: [..], clients, warmupMs, durationMs, method, path, bodies: [..]}
//   each client uses tokens[i % tokens.length] and cycles through `bodies`.
// output: {ok, refused: {status: n}, errors, seconds, latencies_ms: {p50, p95, p99, max}}
import http from "node:http";
import { input, now, say } from "./lib.mjs";

const url = new URL(input.url);
const bodies = (input.bodies ?? [null]).map((b) => (b === null ? null : JSON.stringify(b)));

function request(agent, token, body) {
  return new Promise((resolve) => {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== null) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const req = http.request({
      host: url.hostname, port: url.port, path: input.path, method: input.method,
      agent, headers,
    }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", () => resolve(0));
    if (body !== null) req.write(body);
    req.end();
  });
}

const lat = [];
const refused = {};
let ok = 0;
let errors = 0;
let measuring = false;
let stop = false;

async function client(i) {
  // one connection per client, as a browser or bot session would hold
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const token = input.tokens[i % input.tokens.length];
  let n = i;
  while (!stop) {
    const body = bodies[n++ % bodies.length];
    const t0 = now();
    const status = await request(agent, token, body);
    const dt = now() - t0;
    if (!measuring) continue;
    if (status === 200 || status === 201) { ok += 1; lat.push(dt); }
    else if (status === 0) errors += 1;
    else refused[status] = (refused[status] ?? 0) + 1;
  }
  agent.destroy();
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const k = (sorted.length - 1) * p / 100;
  const lo = Math.floor(k), hi = Math.ceil(k);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo);
}

const runs = Array.from({ length: input.clients }, (_, i) => client(i));
await new Promise((r) => setTimeout(r, input.warmupMs));
measuring = true;
const t0 = now();
await new Promise((r) => setTimeout(r, input.durationMs));
measuring = false;
const seconds = (now() - t0) / 1000;
stop = true;
await Promise.all(runs);
lat.sort((a, b) => a - b);
say({
  ok, refused, errors, seconds, rate: ok / seconds,
  latencies_ms: { p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat.at(-1) ?? null },
});
