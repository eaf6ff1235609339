// "No lost fill": a mobile client loses its connection and resumes with last_seq.
// Input: {"url", "token", "mode": "destroy" | "freeze"}
//   destroy: kill the TCP socket under the websocket (no close frame, the server sees EOF)
//   freeze:  stop reading the socket (a dead radio: the server still thinks it is connected)
// The Python side steers with JSON lines on stdin; progress goes to stdout as JSON lines:
//   -> {"phase":"connected", connected}
//   <- {"cmd":"drop", "wait_filled":[order ids]}   (drop once these fills were seen)
//   -> {"phase":"away", "last_seq", ...}
//   <- {"cmd":"resume"}                             (reconnect with auth.last_seq)
//   -> {"phase":"resumed", connected}
//   <- {"cmd":"finish", "wait_filled":[order ids]}
//   -> final result: the seqs received before the drop and after the resume, and the
//      stream's head at the end (from a third connection's `connected.last_seq`)
import { connect, eventsOf, input, readLine, run, say, sleep, waitFor } from "./harness.mjs";

const { url, token, mode = "destroy" } = input;
const topics = ["order:*"];

const updates = (socket) =>
  eventsOf(socket, "order_update").map(({ t, data }) => ({
    t, seq: data.seq, order_id: data.data.order_id, status: data.data.status,
  }));
const maxSeq = (list) => list.reduce((m, u) => Math.max(m, u.seq), 0);

async function command(name) {
  const line = await readLine();
  const cmd = line && JSON.parse(line);
  if (cmd?.cmd !== name) throw new Error(`expected command ${name}, got ${line}`);
  return cmd;
}

function waitFilled(socket, ids) {
  return Promise.all(ids.map((id) =>
    waitFor(socket, "order_update", 1, 20000, (d) => d.data.order_id === id && d.data.status === "filled")));
}

run(async () => {
  const first = await connect(url, { auth: { token, topics }, transports: ["websocket"] });
  const hello = (await waitFor(first, "connected"))[0].data;
  say({ phase: "connected", connected: hello });

  const drop = await command("drop");
  await waitFilled(first, drop.wait_filled);
  const before = updates(first);
  const last_seq = maxSeq(before);
  const before_away = first.events.length;
  const ws = first.io.engine.transport.ws; // engine.io-client's Node transport: a `ws` WebSocket
  let reason = null;
  first.on("disconnect", (r) => (reason = r));
  if (mode === "destroy") {
    ws._socket.destroy(); // TCP gone, no close frame
    for (let i = 0; i < 100 && reason === null; i++) await sleep(20);
  } else {
    ws.pause(); // stop reading: whatever the server sends now is lost to us
  }
  say({ phase: "away", last_seq, mode, disconnect_reason: reason });

  await command("resume");
  const second = await connect(url, { auth: { token, topics, last_seq }, transports: ["websocket"] });
  const resumed = (await waitFor(second, "connected"))[0].data;
  say({ phase: "resumed", connected: resumed });

  const finish = await command("finish");
  await waitFilled(second, finish.wait_filled);
  await sleep(500); // anything sent twice would arrive now
  second.close();
  const read_while_away = first.events.length - before_away; // 0: the old socket was dead to us
  if (mode === "freeze") ws._socket?.destroy();
  // a third connection tells the stream's head now: the resumed socket must have reached it
  const third = await connect(url, { auth: { token }, transports: ["websocket"] });
  const head = (await waitFor(third, "connected"))[0].data.last_seq;
  third.close();
  return {
    head,
    mode,
    connected: hello,
    resumed,
    last_seq,
    disconnect_reason: reason,
    before,
    after: updates(second),
    after_events: second.events.map((e) => e.event),
    read_while_away,
  };
});
