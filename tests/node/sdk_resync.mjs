// resync_required through the JS SDK: a Stream whose stored last_seq the server
// cannot serve (newer than the head, as after a database reset) is told to
// resync; its onResync refetches over HTTP, and private events that arrive
// meanwhile wait until the refetch is done, then flow on, each once.
// Input: {"url", "token"}
//   -> {"phase":"resynced", "head"}     <- {"cmd":"finish","wait_filled":[ids]}
//   -> result
import { HttpClient, MemoryStore, Stream } from "../../clients/js/index.mjs";
import { input, now, readLine, run, say, sleep } from "./harness.mjs";

const { url, token } = input;

run(async () => {
  const api = new HttpClient({ url, token });
  const log = []; // what the app saw, in order
  let refetched = null;
  const stream = new Stream({
    url, token, topics: ["order:*"], store: new MemoryStore(1_000_000_000),
    socket: { transports: ["websocket"] },
    onResync: async (msg) => {
      log.push({ t: now(), what: "resync_start", last_seq: msg.last_seq });
      refetched = (await api.orders()).length;
      await sleep(300);
      log.push({ t: now(), what: "resync_end" });
    },
  });
  stream.on("order_update", (m, info) => log.push({ t: now(), what: "order_update", seq: m.seq,
    order_id: m.data.order_id, status: m.data.status, replayed: info.replayed }));
  stream.on("resync", (m) => log.push({ t: now(), what: "resync_event", last_seq: m.last_seq }));
  const hello = await stream.connect();
  for (let i = 0; i < 500 && !log.some((e) => e.what === "resync_start"); i++) await sleep(10);
  say({ phase: "resynced", head: hello.last_seq, last_seq: stream.lastSeq });
  const line = JSON.parse(await readLine());
  const done = () => line.wait_filled.every((id) =>
    log.some((e) => e.what === "order_update" && e.order_id === id && e.status === "filled"));
  for (let i = 0; i < 1500 && !done(); i++) await sleep(20);
  await sleep(300);
  stream.close();
  return { hello, log, refetched, last_seq: stream.lastSeq, stats: stream.stats };
});
