// The Socket.IO Admin UI's side: what an admin on namespace /admin sees of a client.
// Input: {"url", "token", "auth": {"username", "password"}, "symbol"}
// Output: what the admin received (config, sockets, rooms, events received and sent,
// server stats), what refused admins were told, and what the ordinary client got.
import { call, connect, eventsOf, input, run, waitFor } from "./harness.mjs";

const { url, token, auth, symbol } = input;

async function refused(opts, at = `${url}/admin`) {
  try {
    const s = await connect(at, { transports: ["websocket"], ...opts }, 5000);
    s.close();
    return { connected: true };
  } catch (err) {
    if (!err.socket) throw err;
    return { connected: false, message: err.message };
  }
}

run(async () => {
  const admin = await connect(`${url}/admin`, { auth, transports: ["websocket"] });
  await waitFor(admin, "config");
  // a client refused (a bad token) is not shown as a socket
  const refusedClient = await refused({ auth: { token: "not-a-token" } }, url);
  // an ordinary client, its token in the query (the handshake the admin is shown)
  const client = await connect(url, { query: { token }, transports: ["websocket"] });
  await waitFor(client, "connected");
  const clientId = client.id;
  const ack = await call(client, "subscribe", { topic: `price:${symbol}` });
  await waitFor(client, "price_update", 2, 15000);
  const ping = await call(client, "ping", { timestamp: 7 });
  await waitFor(admin, "socket_connected", 1, 10000, (d) => d[0].id === clientId);
  await waitFor(admin, "room_joined", 1, 10000, (d) => d[2] === clientId);
  await waitFor(admin, "event_sent", 1, 10000,
    (d) => d[1] === clientId && d[2][0] === "price_update");
  await waitFor(admin, "event_received", 1, 10000,
    (d) => d[1] === clientId && d[2][0] === "ping");
  await waitFor(admin, "server_stats", 1, 10000);
  // and one on long-polling (the library patches the polling handler of its socket class)
  const polling = await connect(url, { auth: { token }, transports: ["polling"] });
  await waitFor(polling, "connected");
  const pollingPing = await call(polling, "ping", { timestamp: 8 });
  const pollingId = polling.id;
  await waitFor(admin, "socket_connected", 1, 10000, (d) => d[0].id === pollingId);
  polling.close();
  client.close();
  await waitFor(admin, "socket_disconnected", 1, 10000, (d) => d[1] === clientId);
  const pick = (name) => eventsOf(admin, name).map((e) => e.data);
  const wrong = await refused({ auth: { username: auth.username, password: "not-the-password" } });
  const none = await refused({});
  admin.close();
  return {
    client_id: clientId,
    subscribe_ack: ack,
    ping_ack: ping,
    polling_ping_ack: pollingPing,
    client_prices: eventsOf(client, "price_update").length,
    config: pick("config"),
    socket_connected: pick("socket_connected").filter((d) => d[0].id === clientId),
    sockets_shown: pick("socket_connected").filter((d) => d[0].nsp === "/").map((d) => d[0].id),
    polling_id: pollingId,
    refused_client: refusedClient,
    room_joined: pick("room_joined").filter((d) => d[2] === clientId),
    event_sent: pick("event_sent").filter((d) => d[1] === clientId),
    event_received: pick("event_received").filter((d) => d[1] === clientId),
    socket_disconnected: pick("socket_disconnected").filter((d) => d[1] === clientId),
    server_stats: pick("server_stats"),
    wrong,
    none,
  };
});
