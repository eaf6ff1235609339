// Prices through the JS SDK, one message per symbol or batched (auth.batch):
// either way the app's price_update handler sees each symbol's updates.
// Input: {"url", "token", "symbols": [...], "batch": bool, "ms": 3500}
import { Stream } from "../../clients/js/index.mjs";
import { input, run, sleep } from "./harness.mjs";

const { url, token, symbols, batch, ms = 3500 } = input;

run(async () => {
  const stream = new Stream({ url, token, topics: symbols.map((s) => `price:${s}`), batchPrices: batch,
    socket: { transports: ["websocket"] } });
  const updates = [];
  const wire = [];
  stream.on("price_update", (m) => updates.push({ symbol: m.symbol, type: m.type, price: m.data.price }));
  await stream.connect();
  stream.socket.onAny((event) => wire.push(event));
  await sleep(ms);
  stream.close();
  return { updates, wire };
});
