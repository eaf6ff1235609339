// Subscribe, watch prices, make requests, unsubscribe, and send bad requests.
// Input: {"url", "token", "symbols": [s1, s2, ...], "bad": [{"name", "event", "args"}],
//         "watch_ms"?: 3500, "after_ms"?: 2500}
// Output: every ack, every reply event and every price_update with its arrival time.
import { call, connect, eventsOf, input, now, run, sleep } from "./harness.mjs";

const { url, token, symbols, bad = [], watch_ms = 3500, after_ms = 2500 } = input;
const topics = symbols.map((s) => `price:${s}`);

// Send a request that must fail; return its ack and the `error` events it caused.
async function failing(socket, { name, event, args }) {
  const before = eventsOf(socket, "error").length;
  const ack = await call(socket, event, ...args);
  for (let i = 0; i < 50 && eventsOf(socket, "error").length === before; i++) await sleep(20);
  return { name, event, ack, errors: eventsOf(socket, "error").slice(before).map((e) => e.data) };
}

run(async () => {
  const socket = await connect(url, { auth: { token }, transports: ["websocket"] });
  const acks = {};
  acks.subscribe_one = await call(socket, "subscribe", { topic: topics[0] });
  acks.subscribe_many = await call(socket, "subscribe", { topics: topics.slice(1) });
  const watch_start = now();
  await sleep(watch_ms);
  const watch_end = now();
  acks.get_price = await call(socket, "get_price", { symbol: symbols[0] });
  acks.get_account = await call(socket, "get_account", {});
  acks.ping = await call(socket, "ping", { timestamp: 12345 });
  acks.unsubscribe = await call(socket, "unsubscribe", { topics });
  const unsubscribed_at = now();
  const errors = [];
  for (const c of bad) errors.push(await failing(socket, c));
  acks.ping_after_errors = await call(socket, "ping", {});
  await sleep(after_ms);
  const end = now();
  socket.close();
  const pick = (name) => eventsOf(socket, name).map((e) => e.data);
  return {
    acks,
    errors,
    watch_start,
    watch_end,
    unsubscribed_at,
    end,
    connected: pick("connected"),
    subscribed: pick("subscribed"),
    unsubscribed: pick("unsubscribed"),
    price: pick("price"),
    account: pick("account"),
    pong: pick("pong"),
    price_updates: eventsOf(socket, "price_update").map((e) => ({ t: e.t, ...e.data })),
    event_names: socket.events.map((e) => e.event),
  };
});
