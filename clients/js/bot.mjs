#!/usr/bin/env node
// hts-realtime example client on the JS SDK (index.mjs): live prices and order fills.
//
//   node clients/js/bot.mjs [--url URL] [--seconds N]          prices (N = 0: until Ctrl-C)
//   node clients/js/bot.mjs --order [--side buy|sell] [--quantity Q] [--price P] [--timeout S]
//                                                               place one order, exit when done
//
// Resume, dedupe and resync live in the SDK's Stream: a fill that happens while
// the bot is offline is printed once, after the reconnect ("replayed").
import { parseArgs } from "node:util";
import { HtsError, HttpClient, Stream } from "./index.mjs";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string", default: process.env.HTS_URL ?? "http://127.0.0.1:8000" },
    username: { type: "string", default: "testuser" },
    password: { type: "string", default: "testpass" },
    symbol: { type: "string", default: "005930" },
    seconds: { type: "string", default: "0" },
    order: { type: "boolean", default: false },
    side: { type: "string", default: "buy" },
    quantity: { type: "string", default: "1" },
    price: { type: "string" },
    timeout: { type: "string", default: "60" },
  },
});
const FINAL = new Set(["filled", "cancelled", "rejected"]);
const won = (n) => `${n.toLocaleString("en-US")}원`;
const pct = (p) => `${p >= 0 ? "+" : ""}${p.toFixed(2)}%`;
const describe = (o) => `${o.order_id} ${o.side} ${o.symbol}: ${o.status} ${o.filled_quantity}/${o.quantity}` +
  (o.filled_price ? ` @ ${won(o.filled_price)}` : "");

function fail(err) {
  console.error(`error: ${err instanceof HtsError ? `${err.code}: ${err.message}` : err?.message ?? err}`);
  process.exit(1);
}

const api = new HttpClient({ url: opt.url });
await api.login(opt.username, opt.password).catch(fail);

const final = new Map(); // order_id -> its final view
let waiting = null; // with --order: {id, resolve}
const settle = (o) => {
  if (FINAL.has(o.status)) final.set(o.order_id, o);
  if (waiting && final.has(waiting.id)) waiting.resolve(final.get(waiting.id));
};

const stream = new Stream({
  url: opt.url,
  token: () => api.token,
  topics: opt.order ? ["order:*"] : [`price:${opt.symbol}`, "order:*"],
  socket: { transports: ["websocket"] },
  // what we missed is no longer kept: refetch the order we follow over HTTP
  onResync: async (msg) => {
    console.log(`resync required (head seq ${msg.last_seq}): refetching over HTTP`);
    if (waiting) settle(await api.order(waiting.id));
  },
});
let ticks = 0;
stream.on("state", (state, { reason, attempt }) => {
  if (state !== "connected") console.log(`${state}${attempt ? ` (attempt ${attempt})` : ""}${reason ? `: ${reason}` : ""}`);
});
stream.on("connected", (m, { resumed }) =>
  console.log(`${m.message} (session ${m.session_id}, ${resumed ? "resumed" : "from"} seq ${m.last_seq}, topics ${m.topics.join(", ")})`));
stream.on("refused", (e) => console.error(`refused: ${e.code}: ${e.message}`));
stream.on("error", (e) => console.error(`error: ${e.code}: ${e.message}`));
stream.on("price_update", ({ symbol, data }) =>
  console.log(`[${++ticks}] ${symbol}: ${won(data.price)} (${pct(data.change_percent)})`));
stream.on("order_update", ({ seq, data }, { replayed }) => {
  console.log(`${replayed ? "replayed " : ""}[seq ${seq}] order ${describe(data)}`);
  settle(data);
});

await stream.connect().catch(fail);
const stop = (code) => { stream.close(); process.exit(code); };
process.on("SIGINT", () => stop(0));

if (opt.order) {
  const req = { symbol: opt.symbol, side: opt.side, quantity: Number(opt.quantity), order_type: "market" };
  if (opt.price !== undefined) Object.assign(req, { order_type: "limit", price: Number(opt.price) });
  const order = await api.placeOrder(req).catch(fail);
  console.log(`placed order ${order.order_id}: ${order.side} ${order.symbol} x${order.quantity} ` +
    (order.price ? `limit @ ${won(order.price)}` : "market"));
  const done = await Promise.race([
    new Promise((resolve) => { waiting = { id: order.order_id, resolve }; settle(order); }),
    new Promise((resolve) => setTimeout(resolve, Number(opt.timeout) * 1000, null)),
  ]);
  if (!done) fail(`order ${order.order_id} is still open after ${opt.timeout} s`);
  if (done.status === "rejected") fail(`order ${order.order_id} was rejected: ${done.reason ?? "no reason"}`);
  const a = await api.account().catch(fail);
  console.log(`done: ${describe(done)}; cash ${won(a.cash)}`);
  stop(done.status === "filled" ? 0 : 1);
} else if (Number(opt.seconds) > 0) {
  setTimeout(() => stop(0), Number(opt.seconds) * 1000);
}
