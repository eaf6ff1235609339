// "No lost fill" through the JS SDK's public API (clients/js/index.mjs): a Stream
// behind a TCP proxy loses its network and recovers by itself.
// Input: {"url", "token", "mode": "cut" | "blackhole"}
//   cut:       every connection is reset (RST); the client sees it at once
//   blackhole: packets stop flowing both ways; only the Engine.IO heartbeat notices
//              (the server runs with a short ping interval/timeout for this)
// While "away" the network refuses new connections; `resume` brings it back. The
// Stream is never told anything: it reconnects, sends last_seq, gets the replay.
//   -> {"phase":"connected"}            <- {"cmd":"drop","wait_filled":[ids]}
//   -> {"phase":"away","last_seq"}      <- {"cmd":"resume"}
//   -> {"phase":"resumed"}              <- {"cmd":"finish","wait_filled":[ids]}
//   -> result: every delivered order_update, state changes, stats, the stream's head
import { MemoryStore, Stream } from "../../clients/js/index.mjs";
import { input, now, readLine, run, say, sleep, tcpProxy } from "./harness.mjs";

const { url, token, mode = "cut" } = input;

async function command(name) {
  const line = await readLine();
  const cmd = line && JSON.parse(line);
  if (cmd?.cmd !== name) throw new Error(`expected command ${name}, got ${line}`);
  return cmd;
}

async function until(pred, what, ms = 30000) {
  for (const end = Date.now() + ms; !pred();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

run(async () => {
  const proxy = await tcpProxy(Number(new URL(url).port));
  const delivered = []; // every order_update handed to the app, in order
  const states = [];
  const connects = [];
  const stream = new Stream({
    url: proxy.url, token, topics: ["order:*"], store: new MemoryStore(),
    socket: { transports: ["websocket"], reconnectionDelay: 200, reconnectionDelayMax: 1000 },
  });
  stream.on("state", (s, d) => states.push({ t: now(), state: s, reason: d.reason ?? null }));
  stream.on("connected", (m, { resumed }) => connects.push({ t: now(), last_seq: m.last_seq, resumed }));
  stream.on("order_update", (m, { replayed }) =>
    delivered.push({ t: now(), seq: m.seq, order_id: m.data.order_id, status: m.data.status, replayed }));
  const filled = (ids) => ids.every((id) => delivered.some((u) => u.order_id === id && u.status === "filled"));

  const hello = await stream.connect();
  say({ phase: "connected", connected: hello, last_seq: stream.lastSeq });

  const drop = await command("drop");
  await until(() => filled(drop.wait_filled), "the live fills");
  const last_seq = stream.lastSeq;
  proxy.down();
  const away_at = now();
  if (mode === "cut") proxy.cut(); else proxy.blackhole();
  await until(() => stream.state !== "connected", "the stream to notice the drop");
  const noticed_after = now() - away_at;
  say({ phase: "away", last_seq, mode, state: stream.state, noticed_after });

  await command("resume");
  proxy.up();
  await until(() => connects.length >= 2 && stream.state === "connected", "the resume");
  say({ phase: "resumed", connected: connects[connects.length - 1] });

  const finish = await command("finish");
  await until(() => filled(finish.wait_filled), "every fill");
  await sleep(500); // anything delivered twice would arrive now
  stream.close();
  proxy.close();
  // a fresh Stream straight to the server tells the stream's head now
  const probe = new Stream({ url, token, socket: { transports: ["websocket"] } });
  const head = (await probe.connect()).last_seq;
  probe.close();
  return { head, mode, last_seq, connects, states, delivered, stats: stream.stats, final_seq: stream.lastSeq };
});
