// Replay timing with socket.io-client 4.8: connect with
// auth {token, topics: ["order:*"], last_seq: 0} and time receiving the backlog.
//
// input: {"url","token","expect","deflate"}  (expect: how many order_update events to
//   wait for; deflate: false stops the client offering permessage-deflate)
import { input, now, once, runOnce, socketTo } from "./lib.mjs";

const { url, token, expect, deflate = true } = input;

runOnce(async () => {
  const t0 = now();
  const socket = socketTo(url, { token, topics: ["order:*"], last_seq: 0 },
                          deflate ? {} : { perMessageDeflate: false });
  let count = 0;
  let last = 0;
  let outOfOrder = 0;
  let tFirst = null;
  let resync = false;
  const done = new Promise((resolve) => {
    socket.on("resync_required", () => { resync = true; resolve(); });
    socket.on("order_update", (m) => {
      if (tFirst === null) tFirst = now();
      count += 1;
      if (m.seq !== last + 1) outOfOrder += 1;
      last = m.seq;
      if (count >= expect) resolve();
    });
  });
  const connected = await once(socket, "connected", 20000);
  const tConnected = now() - t0;
  await Promise.race([done, new Promise((r) => setTimeout(r, 120000))]);
  const tAll = now() - t0;
  socket.close();
  return {
    connected_ms: tConnected,
    first_ms: tFirst === null ? null : tFirst - t0,
    all_ms: tAll,
    count,
    last_seq: last,
    head: connected.last_seq,
    out_of_order: outOfOrder,
    resync,
  };
});
