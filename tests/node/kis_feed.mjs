// The KIS feed from socket.io-client: prints arrive with what the fake KIS server sent.
// Input: {"url", "token", "symbol", "prints"}: prints the line {"ready":true} once
// subscribed, then waits for `prints` trades (the test makes the fake send them).
// Output: every trade of trade_update, and the last price_update's data.
import { call, connect, eventsOf, input, run, sleep } from "./harness.mjs";

const { url, token, symbol, prints } = input;

run(async () => {
  const socket = await connect(url, { auth: { token }, transports: ["websocket"] });
  const ack = await call(socket, "subscribe", { topics: [`price:${symbol}`, `trade:${symbol}`] });
  if (!ack.ok) throw new Error(JSON.stringify(ack));
  console.log(JSON.stringify({ ready: true }));
  const trades = () => eventsOf(socket, "trade_update").flatMap((e) => e.data.data.trades);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const seen = trades();
    const prices = eventsOf(socket, "price_update").map((e) => e.data.data);
    if (seen.length >= prints && prices.some((p) => p.price === seen[seen.length - 1].price)) {
      break;
    }
    await sleep(50);
  }
  socket.close();
  const prices = eventsOf(socket, "price_update").map((e) => e.data.data);
  return { trades: trades(), price: prices[prices.length - 1] ?? null };
});
