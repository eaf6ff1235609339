// Connect timings with socket.io-client 4.8 (one fresh socket per sample).
//
// input: {"url","token","topic","second_topic","samples","stagger_ms"}
// Sample i starts at i*stagger_ms (+ jitter) on its own socket:
//   t0           io(url, {auth: {token, topics: [topic]}, transports: ["websocket"]})
//   connect_ms   the socket.io CONNECT ack ("connect" event)
//   connected_ms the server's `connected` event
//   first_price_ms  the first price_update
// then, after a random 0-1000 ms pause, `subscribe` {topic: second_topic}:
//   sub_ack_ms        subscribe emit -> ack
//   sub_first_price_ms ack -> first price_update for second_topic's symbol
import { input, now, once, runOnce, sleep, socketTo } from "./lib.mjs";

const { url, token, topic, second_topic: second, samples = 50, stagger_ms = 120 } = input;
const secondSymbol = second.slice("price:".length);

async function sample(i) {
  await sleep(i * stagger_ms + Math.random() * stagger_ms * 0.5);
  const r = { i };
  const t0 = now();
  const socket = socketTo(url, { token, topics: [topic] });
  try {
    const firstPrice = once(socket, "price_update", 10000);
    const connected = once(socket, "connected", 10000);
    await once(socket, "connect", 10000);
    r.connect_ms = now() - t0;
    await connected;
    r.connected_ms = now() - t0;
    await firstPrice;
    r.first_price_ms = now() - t0;
    const pause = Math.random() * 1000;
    await sleep(pause);
    r.pause_ms = pause;
    const seen = new Promise((resolve) => {
      socket.on("price_update", (m) => { if (m.symbol === secondSymbol) resolve(now()); });
    });
    const t1 = now();
    const ack = await socket.timeout(10000).emitWithAck("subscribe", { topic: second });
    const tAck = now();
    if (!ack?.ok) throw new Error(`subscribe failed: ${JSON.stringify(ack)}`);
    r.sub_ack_ms = tAck - t1;
    const tPrice = await Promise.race([seen, sleep(10000).then(() => NaN)]);
    r.sub_first_price_ms = tPrice - tAck;
  } catch (err) {
    r.error = String(err.message ?? err);
  } finally {
    socket.close();
  }
  return r;
}

runOnce(async () => {
  const results = await Promise.all(Array.from({ length: samples }, (_, i) => sample(i)));
  return { samples: results };
});
