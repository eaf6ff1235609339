// Market depth from socket.io-client: the order book and trade topics, get_orderbook.
// Input: {"url", "token", "symbol", "watch_ms"?: 2500}
// Output: the connected event, acks, and every orderbook_update / trade_update / orderbook.
import { call, connect, eventsOf, input, run, sleep } from "./harness.mjs";

const { url, token, symbol, watch_ms = 2500 } = input;

run(async () => {
  const socket = await connect(url, { auth: { token }, transports: ["websocket"] });
  const acks = {};
  acks.subscribe = await call(socket, "subscribe", {
    topics: [`orderbook:${symbol}`, `trade:${symbol}`],
  });
  await sleep(watch_ms);
  acks.get_orderbook = await call(socket, "get_orderbook", { symbol });
  await sleep(200);
  socket.close();
  const pick = (name) => eventsOf(socket, name).map((e) => e.data);
  return {
    acks,
    connected: pick("connected"),
    orderbook_update: pick("orderbook_update"),
    trade_update: pick("trade_update"),
    orderbook: pick("orderbook"),
  };
});
