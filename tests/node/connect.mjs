// Connect with every token form and transport; report each `connected` payload.
// Input: {"url", "token"}
import { call, connect, input, run, sleep, waitFor } from "./harness.mjs";

const { url, token } = input;

const cases = {
  auth_websocket: { auth: { token }, transports: ["websocket"] },
  query_websocket: { query: { token }, transports: ["websocket"] },
  header_websocket: { extraHeaders: { Authorization: `Bearer ${token}` }, transports: ["websocket"] },
  auth_polling: { auth: { token }, transports: ["polling"] },
  query_polling: { query: { token }, transports: ["polling"] },
  header_polling: { extraHeaders: { Authorization: `Bearer ${token}` }, transports: ["polling"] },
  auth_polling_upgrade: { auth: { token }, transports: ["polling", "websocket"] },
};

async function attempt(opts) {
  const socket = await connect(url, opts);
  const [connected] = await waitFor(socket, "connected");
  // with ["polling", "websocket"] engine.io probes and upgrades shortly after opening
  for (let i = 0; i < 100 && opts.transports.length > 1 && !socket.upgradedTo; i++) await sleep(50);
  const ping = await call(socket, "ping", { timestamp: "t1" });
  const result = {
    id: socket.id,
    first_transport: socket.firstTransport,
    upgraded_to: socket.upgradedTo,
    transport: socket.io.engine.transport.name,
    connected: connected.data,
    ping,
  };
  socket.close();
  return result;
}

run(async () => {
  const out = {};
  for (const [name, opts] of Object.entries(cases)) out[name] = await attempt(opts);
  return out;
});
