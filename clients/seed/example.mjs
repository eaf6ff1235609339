// The seed's JavaScript example (design doc, section 5 "JavaScript 예제"), as it stands.
// Only the server and the token are configurable: HTS_URL (http://127.0.0.1:8000; or
// HTS_HOST and HTS_PORT), HTS_TOKEN.
// In a browser `WebSocket` is built in; under Node it is the `ws` package:
//     HTS_TOKEN=... node clients/seed/example.mjs
import WebSocket from "ws";

const accessToken = process.env.HTS_TOKEN;
const HOST = process.env.HTS_HOST ?? "localhost";
const PORT = process.env.HTS_PORT ?? "8000";
const BASE = (process.env.HTS_URL ?? `http://${HOST}:${PORT}`).replace(/\/+$/, "");

// ---- the seed, unchanged but for the host and port in the URL ----
const ws = new WebSocket(`${BASE.replace(/^http/, "ws")}/api/ws?token=${accessToken}`);

ws.onopen = () => {
  // 시세 구독
  ws.send(JSON.stringify({
    type: 'subscribe',
    topic: 'price:005930'
  }));
};

ws.onmessage = (event) => {
  const data = JSON.parse(event.data);
  console.log(data);
};
