// Token renewal through the JS SDK, against a server whose access tokens live 3 s:
// the Stream renews in place at each `token_expiring` (refreshToken: api.refresh) and
// HttpClient refreshes before a request; nothing reconnects.
// Input: {"url", "username", "password"} -> {first_exp, renewed: [expires_at], states, ...}
import { HttpClient, Stream } from "../../clients/js/index.mjs";
import { input, run, sleep } from "./harness.mjs";

const { url, username, password } = input;

run(async () => {
  const api = new HttpClient({ url });
  const login = await api.login(username, password);
  const firstToken = api.token;
  const firstExp = Math.floor(Date.now() / 1000) + login.expires_in;
  const states = [];
  const renewed = [];
  const stream = new Stream({
    url, token: () => api.token, refreshToken: () => api.refresh(), topics: ["order:*"],
    socket: { transports: ["websocket"] },
  });
  stream.on("state", (st) => states.push(st));
  stream.on("renewed", (m) => renewed.push(m.expires_at));
  await stream.connect();
  // well past the first token's expiry, on the same connection
  for (let i = 0; i < 1500 && !(renewed.length && renewed.at(-1) > firstExp + 4); i++) await sleep(20);
  // a burst of concurrent requests shares one refresh (a refresh token works once)
  api.tokenExpiresAt = Date.now();
  const accounts = await Promise.all([api.account(), api.account(), api.account()]);
  const order = await api.placeOrder({ symbol: "005930", side: "buy", quantity: 1, order_type: "market" });
  const connected = stream.connected;
  stream.close();
  return {
    first_exp: firstExp, renewed, states, connected, accounts: accounts.length,
    order_status: order.status, token_changed: api.token !== firstToken,
    stream_expires_at: stream.tokenExpiresAt, connects: stream.stats.connects,
  };
});
