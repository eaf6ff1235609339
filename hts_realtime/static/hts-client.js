// hts-client: the hts-realtime client SDK, one ES module for the browser and Node.
//
// The dashboard loads this file from /static/; Node imports it through
// clients/js/index.mjs (which supplies socket.io-client's `io`). Types are in
// clients/js/index.d.mts. No imports, no build step: the one copy of resume.
//
//   HttpClient  every REST route, errors thrown as HtsError(code, message, status)
//   Stream      owns one Socket.IO connection: the topics, last_seq (in a
//               pluggable store), dedupe of the private stream, resync_required
//               (refetch, then carry on) and reconnection after any drop
//
// The resume contract it implements (README, "The private stream and resume"):
// every handshake sends auth = {token, topics, last_seq} as they are at that
// moment; a private event (one with a `seq`) is handled once, in order, and
// stored as the new last_seq only after its handler ran; resync_required means
// "what you missed is gone": refetch over HTTP, then continue from its last_seq.

export const PRIVATE_EVENTS = Object.freeze(["order_update", "strategy_signal", "strategy_status"]);
/** The token does not count (any more): reconnecting with it is pointless. */
export const AUTH_CODES = Object.freeze(["auth_required", "auth_failed", "token_expired", "auth_revoked"]);
/** Server events a Stream forwards to `on(...)` handlers. */
export const SERVER_EVENTS = Object.freeze([
  "price_update", "orderbook_update", "trade_update", "market_status", "feed_status", "account",
  "token_expiring", "renewed", ...PRIVATE_EVENTS,
]);
/** Refresh this long before the access token's exp (a request takes time to arrive). */
const REFRESH_AHEAD_MS = 30_000;

/** An error the server answered (or the SDK's own: `offline`, `timeout`, `network_error`). */
export class HtsError extends Error {
  constructor(code, message, status = 0) {
    super(message || code);
    this.name = "HtsError";
    this.code = code;
    this.status = status;
  }
}

// -- where last_seq lives ------------------------------------------------------------

/** last_seq in memory: lost when the process ends (a new run starts from the head). */
export class MemoryStore {
  constructor(initial = null) { this.value = initial; }
  get() { return this.value; }
  set(seq) { this.value = seq; }
  clear() { this.value = null; }
}

/**
 * last_seq in Web Storage under `key`: `localStorage` by default (survives a
 * restart of the app), or pass `sessionStorage` for a per-tab cursor.
 */
export class LocalStorageStore {
  constructor(key = "hts.last_seq", storage = globalThis.localStorage) {
    if (!storage) throw new HtsError("client_error", "no Web Storage here: use MemoryStore");
    this.key = key;
    this.storage = storage;
  }
  get() {
    const raw = this.storage.getItem(this.key);
    const n = raw === null ? NaN : Number(raw);
    return Number.isInteger(n) && n >= 0 ? n : null;
  }
  set(seq) { this.storage.setItem(this.key, String(seq)); }
  clear() { this.storage.removeItem(this.key); }
}

// -- HTTP ----------------------------------------------------------------------------

/** A random Idempotency-Key (crypto.randomUUID needs a secure context in browsers). */
export function newKey() {
  const c = globalThis.crypto;
  if (c?.randomUUID) {
    try { return c.randomUUID(); } catch { /* insecure context: fall through */ }
  }
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const enc = encodeURIComponent;

export class HttpClient {
  /** `url` "" means the page's own origin (browser). `token` may be set later. */
  constructor({ url = "", token = null, fetch = null } = {}) {
    this.url = url.replace(/\/+$/, "");
    this.token = token;
    this.refreshToken = null; // from login/refresh: spent by refresh(), once
    this.tokenExpiresAt = null; // Date.now() of the access token's exp
    this._refreshing = null;
    this._fetch = fetch ?? ((...args) => globalThis.fetch(...args));
  }

  /**
   * fetch() a JSON route; resolves to the decoded body (null for 204), throws HtsError.
   * With a refresh token, an access token about to expire (or refused as expired) is
   * refreshed first and the request sent again once.
   */
  async request(method, path, opts = {}) {
    const auth = !path.startsWith("/api/auth/login") && !path.startsWith("/api/auth/refresh");
    if (auth && this.refreshToken && this.tokenExpiresAt && Date.now() >= this.tokenExpiresAt - REFRESH_AHEAD_MS) {
      await this.refresh();
    }
    try {
      return await this._send(method, path, opts);
    } catch (err) {
      if (!auth || err.code !== "token_expired" || !this.refreshToken) throw err;
    }
    await this.refresh();
    return this._send(method, path, opts);
  }

  async _send(method, path, { body, headers, query, withHeaders = false } = {}) {
    const h = { Accept: "application/json", ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    let qs = "";
    if (query) {
      const p = Object.entries(query).filter(([, v]) => v !== undefined && v !== null);
      if (p.length) qs = "?" + p.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
    }
    let res;
    try {
      res = await this._fetch(this.url + path + qs, {
        method, headers: h, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new HtsError("network_error", `${method} ${path}: ${err?.message ?? err}`);
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const e = data?.error;
      throw new HtsError(e?.code ?? `http_${res.status}`, e?.message ?? res.statusText, res.status);
    }
    return withHeaders ? { data, headers: res.headers } : data;
  }

  /** Revoke this token on the server (or every token of the user with `everywhere`). */
  async logout({ everywhere = false } = {}) {
    await this.request("POST", "/api/auth/logout", { body: { everywhere } });
    this.token = this.refreshToken = this.tokenExpiresAt = null;
  }

  /**
   * Log in; keeps the tokens. Resolves to {access_token, expires_in, refresh_token,
   * refresh_expires_in, user_id, username}.
   */
  async login(username, password) {
    const session = await this.request("POST", "/api/auth/login", { body: { username, password } });
    this._keep(session);
    return session;
  }

  _keep(session) {
    this.token = session.access_token;
    this.refreshToken = session.refresh_token ?? null;
    this.tokenExpiresAt = Date.now() + session.expires_in * 1000;
  }

  /**
   * POST /api/auth/refresh: a new access token (and the next refresh token); resolves to
   * the access token. One at a time: a refresh token works once, and presenting it twice
   * revokes the whole login, so concurrent callers share one refresh.
   */
  refresh() {
    if (!this._refreshing) {
      this._refreshing = (async () => {
        if (!this.refreshToken) throw new HtsError("auth_required", "no refresh token: log in");
        const session = await this._send("POST", "/api/auth/refresh", { body: { refresh_token: this.refreshToken } });
        this._keep(session);
        return this.token;
      })().finally(() => { this._refreshing = null; });
    }
    return this._refreshing;
  }

  symbols() { return this.request("GET", "/api/symbols"); }
  market() { return this.request("GET", "/api/market"); }
  /** {brokerage_fee_rate, sell_tax_rates: {KOSPI, KOSDAQ}} as decimal strings. */
  costs() { return this.request("GET", "/api/costs"); }
  candles(symbol, { interval = "1m", limit } = {}) {
    return this.request("GET", "/api/candles", { query: { symbol, interval, limit } });
  }
  /** A symbol's last trades (체결), oldest first, with prev_close: {symbol, prev_close, trades}. */
  trades(symbol, { limit } = {}) { return this.request("GET", "/api/trades", { query: { symbol, limit } }); }
  account() { return this.request("GET", "/api/account"); }
  /** GET /api/orders, newest first (the newest 500 of every day unless asked otherwise). */
  async orders(opts = {}) { return (await this.ordersPage(opts)).orders; }
  /** One page: {orders, next_cursor}; pass next_cursor back as `cursor` (null: the last). */
  async ordersPage({ view, day, status, cursor, limit } = {}) {
    const { data, headers } = await this.request("GET", "/api/orders",
      { query: { view, day, status, cursor, limit }, withHeaders: true });
    return { orders: data, next_cursor: headers.get("X-Next-Cursor") };
  }
  order(id) { return this.request("GET", `/api/orders/${enc(id)}`); }
  fills(id) { return this.request("GET", `/api/orders/${enc(id)}/fills`); }
  /** POST /api/orders with an Idempotency-Key (a fresh one unless given): safe to retry. */
  placeOrder(order, { idempotencyKey = newKey() } = {}) {
    return this.request("POST", "/api/orders", { body: order, headers: { "Idempotency-Key": idempotencyKey } });
  }
  cancelOrder(id) { return this.request("DELETE", `/api/orders/${enc(id)}`); }
  /** 정정: {price?, quantity?} for the unfilled rest; resolves to the new order. Safe to retry. */
  amendOrder(id, change, { idempotencyKey = newKey() } = {}) {
    return this.request("POST", `/api/orders/${enc(id)}/amend`, { body: change, headers: { "Idempotency-Key": idempotencyKey } });
  }
  strategyKinds() { return this.request("GET", "/api/strategy-kinds"); }
  strategies() { return this.request("GET", "/api/strategies"); }
  strategy(id) { return this.request("GET", `/api/strategies/${enc(id)}`); }
  createStrategy(spec) { return this.request("POST", "/api/strategies", { body: spec }); }
  startStrategy(id) { return this.request("POST", `/api/strategies/${enc(id)}/start`); }
  stopStrategy(id) { return this.request("POST", `/api/strategies/${enc(id)}/stop`); }
  deleteStrategy(id) { return this.request("DELETE", `/api/strategies/${enc(id)}`); }
  strategySignals(id, { limit } = {}) {
    return this.request("GET", `/api/strategies/${enc(id)}/signals`, { query: { limit } });
  }
  watchlist() { return this.request("GET", "/api/watchlist"); }
  setWatchlist(symbols) { return this.request("PUT", "/api/watchlist", { body: { symbols } }); }
}

// -- the stream ----------------------------------------------------------------------

const DEFAULT_SOCKET = {
  transports: ["websocket", "polling"],
  reconnectionDelay: 500,
  reconnectionDelayMax: 5000,
  timeout: 8000,
};

/**
 * One Socket.IO connection that keeps itself caught up.
 *
 * Options: `url` (default: the page's origin), `token` (a string, or a
 * function returning one or a promise of one, asked before every handshake),
 * `topics`, `store` (last_seq: MemoryStore by default), `onResync(msg)` (refetch
 * over HTTP; private events wait until it settles), `onRefused(err)` (a handshake
 * refused over a topic: fix the topics, the stream retries), `io` (socket.io-client's
 * `io`; the browser global by default), `socket` (extra socket.io-client options),
 * `watchNetwork` (browser online/offline events; default true where they exist),
 * `batchPrices` (ask for one price_batch per tick; handlers still get price_updates),
 * `maxRefusals` (consecutive refused handshakes before giving up; 3), `refreshToken`
 * (an async function giving a fresh access token, e.g. `() => api.refresh()`: on the
 * server's `token_expiring` the stream sends `renew` with it and stays connected; a
 * handshake refused `token_expired` gets a fresh token before the retry).
 *
 * States: idle → connecting → connected ⇄ reconnecting; offline (refused for good,
 * or the browser is offline); closed (close()).
 */
export class Stream {
  constructor(opts = {}) {
    this.url = opts.url;
    this.token = opts.token ?? null;
    this.topics = new Set(opts.topics ?? []);
    this.store = opts.store ?? new MemoryStore();
    this.onResync = opts.onResync ?? null;
    this.onRefused = opts.onRefused ?? null;
    this.refreshToken = opts.refreshToken ?? null;
    this.tokenExpiresAt = null; // after a renew: the connection's new exp (epoch seconds)
    this.batchPrices = opts.batchPrices ?? false;
    this.maxRefusals = opts.maxRefusals ?? 3;
    this.state = "idle";
    this.session = null; // the latest `connected` payload
    this.lastMessageAt = null; // Date.now() of the latest server message
    this.stats = { connects: 0, resumes: 0, replayed: 0, duplicates: 0, resyncs: 0 };
    this._io = opts.io ?? globalThis.io;
    this._socketOpts = { ...DEFAULT_SOCKET, ...opts.socket };
    this._watchNetwork = opts.watchNetwork ?? typeof globalThis.addEventListener === "function";
    this._handlers = new Map();
    this._chain = Promise.resolve(); // private events and resyncs, one at a time, in order
    this._sentSeq = null; // last_seq sent in the current handshake
    this._replayUntil = 0; // resumed: events up to the head in `connected` are the replay
    this._refusals = 0;
    this._timer = null;
    this._forwarded = new Set();
    this.refusal = null; // the refusal that stopped the stream, if any
    this.socket = null;
  }

  get lastSeq() { return this.store.get(); }
  get connected() { return this.state === "connected" && Boolean(this.socket?.connected); }

  /** Listen to a server event or a stream event (state, connected, resync, error, refused). */
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    if (this.socket && !this._forwarded.has(event) && !STREAM_EVENTS.has(event)) this._forward(event);
    return () => this._handlers.get(event)?.delete(handler);
  }

  _emit(event, ...args) {
    for (const h of [...(this._handlers.get(event) ?? [])]) {
      try { h(...args); } catch (err) { console.error(`hts-client: a '${event}' handler threw`, err); }
    }
  }

  _setState(state, detail = {}) {
    if (this.state === state && !detail.attempt) return;
    this.state = state;
    this._emit("state", state, detail);
  }

  /** Open the connection (once); resolves when the server's `connected` arrives. */
  connect() {
    if (this.socket) return this._whenConnected();
    if (typeof this._io !== "function") {
      throw new HtsError("client_error", "socket.io-client's io() is missing (pass opts.io)");
    }
    const opts = { ...this._socketOpts, autoConnect: false, forceNew: true, auth: (cb) => this._auth(cb) };
    this.socket = this.url ? this._io(this.url, opts) : this._io(opts);
    const s = this.socket;
    s.on("connected", (msg) => this._onConnected(msg));
    s.on("disconnect", (reason) => this._onDisconnect(reason));
    s.on("connect_error", (err) => this._onConnectError(err));
    s.io.on("reconnect_attempt", (n) => this._setState(this._online() ? "reconnecting" : "offline", { attempt: n }));
    s.on("resync_required", (msg) => this._touch() && this._serial(() => this._resync(msg)));
    s.on("token_expiring", () => { if (this.refreshToken) this._renew(); });
    s.on("error", (msg) => {
      this._touch();
      // the server closes a connection whose token stopped counting (logged out elsewhere,
      // password changed, user disabled): it says why first, and we must not dial again
      if (msg?.event == null && AUTH_CODES.includes(msg?.code)) this.refusal = new HtsError(msg.code, msg.message);
      this._emit("error", msg);
    });
    for (const ev of SERVER_EVENTS) this._forward(ev);
    // with batchPrices the server sends one price_batch per tick: handed on as price_updates
    s.on("price_batch", (msg) => {
      this._touch();
      for (const u of msg?.updates ?? []) this._emit("price_update", u);
    });
    for (const ev of this._handlers.keys()) if (!STREAM_EVENTS.has(ev)) this._forward(ev);
    if (this._watchNetwork) this._listenNetwork();
    this._setState("connecting");
    s.connect();
    return this._whenConnected();
  }

  _whenConnected() {
    if (this.connected) return Promise.resolve(this.session);
    return new Promise((resolve, reject) => {
      const offs = [
        this.on("connected", (m) => { offs.forEach((f) => f()); resolve(m); }),
        this.on("state", (st) => {
          if (st === "closed" || st === "offline") {
            offs.forEach((f) => f());
            reject(this.refusal ?? new HtsError("offline", `stream ${st}`));
          }
        }),
      ];
    });
  }

  _forward(event) {
    if (this._forwarded.has(event)) return;
    this._forwarded.add(event);
    const priv = PRIVATE_EVENTS.includes(event);
    this.socket.on(event, (msg) => {
      this._touch();
      if (priv && Number.isInteger(msg?.seq)) this._serial(() => this._private(event, msg));
      else this._emit(event, msg);
    });
  }

  _touch() { this.lastMessageAt = Date.now(); return true; }

  /** A fresh token for the open connection (`renew`), before the server closes it at exp. */
  async _renew() {
    try {
      const token = await this._freshToken();
      const ack = await this.call("renew", { token });
      this.tokenExpiresAt = ack.expires_at;
    } catch (err) {
      // the server closes the connection at exp (token_expired); the stream redials
      console.warn("hts-client: renewing the token failed", err?.code ?? err);
    }
  }

  async _freshToken() {
    const token = await this.refreshToken();
    if (typeof this.token !== "function") this.token = token; // the next handshake too
    return token;
  }

  _expiredAndRefreshable() { return this.refusal?.code === "token_expired" && Boolean(this.refreshToken); }

  _serial(fn) {
    this._chain = this._chain.then(fn).catch((err) => console.error("hts-client:", err));
  }

  async _auth(cb) {
    const auth = { topics: [...this.topics] };
    if (this.batchPrices) auth.batch = true;
    try {
      auth.token = typeof this.token === "function" ? await this.token() : this.token;
    } catch (err) {
      console.error("hts-client: the token function failed", err);
    }
    const seq = this.store.get();
    this._sentSeq = seq;
    if (seq !== null) auth.last_seq = seq;
    cb(auth);
  }

  _onConnected(msg) {
    this._touch();
    this._refusals = 0;
    this.refusal = null;
    this.session = msg;
    this.stats.connects += 1;
    const resumed = this._sentSeq !== null;
    if (resumed) {
      this.stats.resumes += 1;
      this._replayUntil = msg.last_seq; // events up to here are the replay
    } else {
      // the first connection: take the stream from its head (the app loads state over HTTP)
      this._serial(() => { if (this.store.get() === null) this.store.set(msg.last_seq); });
    }
    this._setState("connected");
    this._emit("connected", msg, { resumed });
  }

  _private(event, msg) {
    const last = this.store.get();
    if (last !== null && msg.seq <= last) {
      this.stats.duplicates += 1;
      return;
    }
    const replayed = msg.seq <= this._replayUntil;
    if (replayed) this.stats.replayed += 1;
    this._emit(event, msg, { replayed });
    this.store.set(msg.seq);
  }

  async _resync(msg) {
    this.stats.resyncs += 1;
    this.store.set(msg.last_seq);
    this._replayUntil = 0;
    try {
      if (this.onResync) await this.onResync(msg);
    } finally {
      this._emit("resync", msg);
    }
  }

  _onDisconnect(reason) {
    if (this.state === "closed") return;
    if (this.refusal && AUTH_CODES.includes(this.refusal.code) && typeof this.token !== "function"
        && !this._expiredAndRefreshable()) {
      this._emit("refused", this.refusal);
      this._setState("offline", { reason: this.refusal.code });
      return;
    }
    const online = this._online();
    if (reason === "io client disconnect") {
      this._setState(online ? "reconnecting" : "offline", { reason });
      return;
    }
    this._setState(online ? "reconnecting" : "offline", { reason });
    if (reason === "io server disconnect") {
      // socket.io-client leaves a server-side close to us: dial again after a pause
      this._later(1000, async () => {
        if (this._expiredAndRefreshable()) {
          try { await this._freshToken(); } catch (e) { console.warn("hts-client: refresh failed", e?.code ?? e); }
        }
        this.socket.connect();
      });
    }
  }

  _onConnectError(err) {
    if (this.state === "closed") return;
    const refusal = err?.data?.code ? err.data : null; // {code, message} from the server
    if (!refusal) { // a network error: socket.io-client retries by itself
      this._setState(this._online() && this.socket.active ? "reconnecting" : "offline", { reason: err?.message });
      return;
    }
    this.refusal = new HtsError(refusal.code, refusal.message);
    this._emit("refused", this.refusal);
    const retryable = typeof this.token === "function" || !AUTH_CODES.includes(refusal.code)
      || this._expiredAndRefreshable();
    if (!retryable || ++this._refusals > this.maxRefusals) {
      this._setState("offline", { reason: refusal.code });
      return;
    }
    this._setState("reconnecting", { reason: refusal.code });
    const retry = async () => {
      if (!AUTH_CODES.includes(refusal.code) && this.onRefused) {
        try { await this.onRefused(this.refusal); } catch (e) { console.error("hts-client: onRefused", e); }
      }
      if (this._expiredAndRefreshable()) {
        try { await this._freshToken(); } catch (e) { console.warn("hts-client: refresh failed", e?.code ?? e); }
      }
      if (this.state !== "closed") this.socket.connect();
    };
    this._later(500 * this._refusals, retry);
  }

  _later(ms, fn) {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => { if (this.state !== "closed" && !this.socket?.connected) fn(); }, ms);
  }

  _online() { return globalThis.navigator?.onLine ?? true; }

  _listenNetwork() {
    // An open WebSocket can outlive the network for minutes: trust the browser's
    // offline signal, drop the connection, and resume when it is back.
    this._offline = () => { this.socket?.disconnect(); this._setState("offline", { reason: "browser offline" }); };
    this._onlineAgain = () => { if (this.state === "offline" && !this.refusal) this.reconnect(); };
    globalThis.addEventListener("offline", this._offline);
    globalThis.addEventListener("online", this._onlineAgain);
  }

  /** Drop the current connection (if any) and resume on a fresh one now. */
  reconnect() {
    if (!this.socket || this.state === "closed") return;
    this._refusals = 0;
    this.refusal = null;
    this.socket.disconnect();
    this._setState("reconnecting", { reason: "reconnect()" });
    this.socket.connect();
  }

  /** Close for good (no reconnection). */
  close() {
    clearTimeout(this._timer);
    if (this._offline) {
      globalThis.removeEventListener("offline", this._offline);
      globalThis.removeEventListener("online", this._onlineAgain);
    }
    this._setState("closed");
    this.socket?.disconnect();
  }

  /** A request with an acknowledgement: resolves to the ack, or throws its error code. */
  async call(event, payload = {}, { timeout = 8000 } = {}) {
    const s = this.socket;
    if (!s?.connected) throw new HtsError("offline", `not connected (${event})`);
    const sid = s.id;
    let ack;
    try {
      ack = await s.timeout(timeout).emitWithAck(event, payload);
    } catch {
      if (!s.connected || s.id !== sid) {
        throw new HtsError("offline", `the connection was lost before the answer to ${event}`);
      }
      throw new HtsError("timeout", `no answer to ${event} within ${timeout} ms`);
    }
    if (!ack?.ok) throw new HtsError(ack?.error?.code ?? "internal_error", ack?.error?.message ?? `${event} failed`);
    return ack;
  }

  /** Follow more topics: now (all or nothing) if connected, and in every later handshake. */
  async subscribe(topics) {
    const add = [].concat(topics).filter((t) => !this.topics.has(t));
    if (!add.length) return [];
    if (this.connected) await this.call("subscribe", { topics: add });
    add.forEach((t) => this.topics.add(t));
    return add;
  }

  /** Stop following topics (and leave them out of later handshakes). */
  async unsubscribe(topics) {
    const drop = [].concat(topics).filter((t) => this.topics.has(t));
    if (!drop.length) return [];
    drop.forEach((t) => this.topics.delete(t));
    if (this.connected) await this.call("unsubscribe", { topics: drop });
    return drop;
  }
}

const STREAM_EVENTS = new Set(["state", "connected", "resync", "error", "refused"]);
