// Connect with auth objects the server must refuse; report each connect_error.
// Input: {"url", "cases": {name: {"auth": {...}, "transports"?: [...]}}}
import { connect, input, run, sleep } from "./harness.mjs";

async function attempt({ auth, transports = ["websocket"] }) {
  try {
    const socket = await connect(input.url, { auth, transports });
    await sleep(200);
    socket.close();
    return { connected: true, events: socket.events };
  } catch (err) {
    if (!err.socket) throw err; // a timeout, not a refusal
    await sleep(100); // anything the server (wrongly) sends after refusing
    return {
      connected: false,
      message: err.message,
      data: err.data ?? null,
      events: err.socket.events,
    };
  }
}

run(async () => {
  const out = {};
  for (const [name, c] of Object.entries(input.cases)) out[name] = await attempt(c);
  return out;
});
