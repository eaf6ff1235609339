// The Node peer: a minimal socket.io 4.8 server doing what hts_realtime does
// for the benchmarks, "in spirit", so the numbers have something to stand next to.
//
//   node bench/peer/server.mjs --port P [--interval SECONDS]
//        [--redis URL [--ticker --symbols A,B,...]]
//
// With --redis the servers share rooms through @socket.io/redis-adapter (the Node
// side of the scale-out bench): only the one started with --ticker emits, every
// interval, a price_update to every symbol's room, and the adapter carries each
// emit to the other servers' members through Redis.
//
// * auth: `io.use` HMAC-SHA256-verifies the JWT in `auth.token` with node:crypto
//   (BENCH_JWT_SECRET), checking alg HS256, signature, exp, iss and aud, like the
//   Python server's PyJWT check; a refused handshake gets connect_error {code, message}.
// * topics: joins one room per topic in `auth.topics` (`price:XXXXXX`, `order:*`
//   as a per-user room), answers `subscribe` with an ack, like the Python server.
// * prices: every `interval` seconds emits `price_update` (same payload shape,
//   a fake random-walk price) to each `price:` room that has members.
// * emits `connected` on connect, answers GET /healthz.
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const port = Number(arg("port", "8100"));
const interval = Number(arg("interval", "1"));
const redisUrl = arg("redis", null);
const ticker = process.argv.includes("--ticker");
const tickerSymbols = (arg("symbols", "") || "").split(",").filter(Boolean);
const secret = process.env.BENCH_JWT_SECRET ?? "";
const ISSUER = "hts-realtime";
const AUDIENCE = "hts-clients";
const LEEWAY = 5;
const SYMBOL = /^[0-9A-Z]{6}$/;

class AuthError extends Error {
  constructor(code, message) {
    super(message);
    this.data = { code, message };
  }
}

function b64json(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

// HS256 JWT verification with node:crypto.
function verify(token) {
  if (typeof token !== "string" || !token) throw new AuthError("auth_required", "send a token");
  const parts = token.split(".");
  if (parts.length !== 3) throw new AuthError("auth_failed", "malformed token");
  let header, claims;
  try {
    header = b64json(parts[0]);
    claims = b64json(parts[1]);
  } catch {
    throw new AuthError("auth_failed", "malformed token");
  }
  if (header.alg !== "HS256") throw new AuthError("auth_failed", "wrong algorithm");
  const expected = createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AuthError("auth_failed", "bad signature");
  }
  for (const c of ["sub", "name", "roles", "iss", "aud", "iat", "exp", "jti"]) {
    if (!(c in claims)) throw new AuthError("auth_failed", `missing claim ${c}`);
  }
  if (claims.iss !== ISSUER || claims.aud !== AUDIENCE) {
    throw new AuthError("auth_failed", "wrong issuer or audience");
  }
  if (claims.exp + LEEWAY < Date.now() / 1000) throw new AuthError("token_expired", "expired");
  return { userId: String(claims.sub), username: String(claims.name) };
}

function rooms(topics, userId) {
  if (!Array.isArray(topics)) throw new AuthError("invalid_message", "topics must be a list");
  return topics.map((t) => {
    if (t === "order:*") return `order:*:${userId}`;
    if (typeof t === "string" && t.startsWith("price:") && SYMBOL.test(t.slice(6))) return t;
    throw new AuthError("invalid_topic", `bad topic ${String(t).slice(0, 64)}`);
  });
}

const http = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(http, {
  serveClient: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 64 * 1024,
});

io.use((socket, next) => {
  try {
    const auth = socket.handshake.auth ?? {};
    const who = verify(auth.token);
    socket.data.user = who;
    socket.data.rooms = rooms(auth.topics ?? [], who.userId);
    next();
  } catch (err) {
    next(err instanceof AuthError ? err : new AuthError("internal_error", "failed"));
  }
});

io.on("connection", (socket) => {
  const { userId, username } = socket.data.user;
  socket.join(socket.data.rooms);
  socket.emit("connected", {
    type: "connected",
    message: `Welcome ${username}!`,
    user_id: userId,
    session_id: socket.id,
    last_seq: 0,
    topics: auth_topics(socket),
  });
  socket.on("subscribe", (data, ack) => {
    try {
      const raw = data?.topic !== undefined ? [data.topic] : data?.topics;
      const joined = rooms(raw, userId);
      socket.join(joined);
      for (const t of raw) {
        socket.emit("subscribed", { type: "subscribed", topic: t,
                                    message: `Successfully subscribed to ${t}` });
      }
      if (typeof ack === "function") ack({ ok: true, topics: raw });
    } catch (err) {
      if (typeof ack === "function") ack({ ok: false, error: err.data ?? { code: "internal_error" } });
    }
  });
});

function auth_topics(socket) {
  return socket.handshake.auth?.topics ?? [];
}

// one fake market: a random walk per symbol, integer KRW
const prices = new Map();
let volume = 0;
function quote(symbol) {
  const prev = prices.get(symbol) ?? 75000;
  const price = Math.max(100, prev + (Math.random() < 0.5 ? -100 : 100));
  prices.set(symbol, price);
  volume += 1 + Math.floor(Math.random() * 500);
  return {
    price,
    change: price - 75000,
    change_percent: Math.round(((price - 75000) / 75000) * 10000) / 100,
    volume,
    timestamp: new Date().toISOString().replace("Z", "+00:00"),
  };
}

if (redisUrl) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

if (redisUrl && ticker) {
  setInterval(() => {
    for (const symbol of tickerSymbols) {
      io.to(`price:${symbol}`).emit("price_update", { type: "price_update", symbol,
                                                      data: quote(symbol) });
    }
  }, interval * 1000);
}

if (!redisUrl) setInterval(() => {
  for (const [room, members] of io.of("/").adapter.rooms) {
    if (members.size && room.startsWith("price:")) {
      const symbol = room.slice(6);
      io.to(room).emit("price_update", { type: "price_update", symbol, data: quote(symbol) });
    }
  }
}, interval * 1000);

http.listen(port, "127.0.0.1", () => {
  console.log(`peer listening on http://127.0.0.1:${port} interval=${interval}s`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
