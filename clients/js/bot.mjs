#!/usr/bin/env node
// hts-realtime example client: live prices and order fills over Socket.IO.
//
//   node clients/js/bot.mjs [--url http://127.0.0.1:8000] [--seconds N] [--order]
//
// It logs in over HTTP, connects with socket.io-client and subscribes to a price
// topic and to its own orders (`order:*`) in the handshake. Private events
// (order_update, strategy_*) carry a per-user `seq`: the bot keeps the highest one
// and resumes with it after a reconnect, so no fill is lost and none is shown twice.
import { io } from "socket.io-client";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8000" },
    username: { type: "string", default: "testuser" },
    password: { type: "string", default: "testpass" },
    symbol: { type: "string", default: "005930" },
    seconds: { type: "string", default: "0" }, // 0: run until Ctrl-C
    order: { type: "boolean", default: false }, // place one market buy of 1 share
  },
});
const won = (n) => `${n.toLocaleString("en-US")}원`;
const pct = (p) => `${p >= 0 ? "+" : ""}${p.toFixed(2)}%`;

async function http(method, path, body, token) {
  const res = await fetch(opt.url + path, {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(token && { Authorization: `Bearer ${token}` }),
      ...(method === "POST" && path === "/api/orders" && { "Idempotency-Key": randomUUID() }),
    },
    body: body && JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data.error)}`);
  return data;
}

const login = async () =>
  (await http("POST", "/api/auth/login", { username: opt.username, password: opt.password }))
    .access_token;

const die = (err) => { console.error(String(err.message ?? err)); process.exit(1); };
let token = await login().catch(die);
const topics = [`price:${opt.symbol}`, "order:*"];
let lastSeq = null; // highest private-stream seq seen; null until the first `connected`
let ticks = 0;
let myOrder = null; // with --order: { id, filled }

const auth = () => ({ token, topics, ...(lastSeq !== null && { last_seq: lastSeq }) });
const socket = io(opt.url, { auth: auth(), transports: ["websocket"] });

// Resume where we left off: socket.io-client sends `socket.auth` on every (re)connect.
socket.io.on("reconnect_attempt", (n) => {
  socket.auth = auth();
  console.log(`reconnecting (attempt ${n}, last_seq ${lastSeq})`);
});

socket.on("connect_error", async (err) => {
  console.error(`connect_error: ${err.data?.code ?? "-"}: ${err.message}`);
  if (socket.active) return; // a network error: socket.io-client retries by itself
  if (err.data?.code !== "token_expired") process.exit(1); // refused for good
  token = await login().catch(die); // a refusal is final for socket.io-client: connect again by hand
  socket.auth = auth();
  socket.connect();
});

socket.on("connected", async (msg) => {
  console.log(`${msg.message} (session ${msg.session_id}, topics ${msg.topics?.join(", ")})`);
  if (lastSeq === null) lastSeq = msg.last_seq; // first connect: only live events from here
  if (opt.order && !myOrder) {
    myOrder = { id: null, filled: false };
    const order = await http("POST", "/api/orders", {
      symbol: opt.symbol, side: "buy", quantity: 1, order_type: "market",
    }, token).catch(die);
    myOrder.id = order.order_id; // its order_updates may already have been printed
    console.log(`placed order ${order.order_id}: buy ${order.symbol} x${order.quantity} market`);
    if (filled.has(order.order_id)) myOrder.filled = true;
  }
});

socket.on("price_update", ({ symbol, data }) => {
  console.log(`[${++ticks}] ${symbol}: ${won(data.price)} (${pct(data.change_percent)})`);
});

const filled = new Set(); // ids of filled orders
function showOrder({ seq, data: o }) {
  const fill = o.filled_price ? ` @ ${won(o.filled_price)}` : "";
  console.log(`order ${o.order_id} ${o.side} ${o.symbol}: ${o.status} ` +
              `${o.filled_quantity}/${o.quantity}${fill} (seq ${seq})`);
  if (o.status === "filled") filled.add(o.order_id);
  if (myOrder && filled.has(myOrder.id)) myOrder.filled = true;
}

// Every update of this user's orders (order:*), each exactly once, in seq order.
socket.on("order_update", (update) => {
  if (lastSeq !== null && update.seq <= lastSeq) return; // already seen: drop the duplicate
  if (lastSeq !== null && update.seq > lastSeq + 1) console.warn(`gap: seq ${lastSeq} -> ${update.seq}`);
  lastSeq = update.seq;
  showOrder(update);
});

socket.on("resync_required", async (msg) => {
  // what we missed is no longer kept: start over from the server's head and refetch
  console.log(`resync required (head seq ${msg.last_seq}): refetching orders over HTTP`);
  lastSeq = msg.last_seq;
  for (const o of await http("GET", "/api/orders", null, token).catch(die)) {
    if (o.status !== "filled" || o.order_id === myOrder?.id) showOrder({ seq: msg.last_seq, data: o });
  }
});

socket.on("error", (e) => console.error(`error: ${e.code}: ${e.message}`));
socket.on("disconnect", (reason) => console.log(`disconnected: ${reason}`));

// Stop after --seconds, but wait (up to 20 s more) for our order to fill.
const seconds = Number(opt.seconds);
const stop = (code) => { socket.close(); process.exit(code); };
process.on("SIGINT", () => stop(0));
if (seconds > 0) {
  setTimeout(async () => {
    for (let i = 0; i < 200 && myOrder && !myOrder.filled; i++) await new Promise((r) => setTimeout(r, 100));
    if (myOrder && !myOrder.filled) console.error(`order ${myOrder.id} was not filled`);
    stop(myOrder && !myOrder.filled ? 1 : 0);
  }, seconds * 1000);
}
