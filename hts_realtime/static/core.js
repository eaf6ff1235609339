// Shared by the dashboard's modules: page state, the session, the SDK clients,
// and errors shown to people (Korean, near what caused them, dismissed when resolved).
//
// The session (token, username, expiry) lives in localStorage, so a new tab is
// logged in too. The token travels only in the Authorization header and the
// Socket.IO handshake, never in a cookie: another site cannot make the browser
// send it (no CSRF), at the price that script on this origin could read it —
// hence no third-party script at all (no CDN) and a strict Content-Security-Policy.

import { AUTH_CODES, HtsError, HttpClient, MemoryStore, Stream } from "./hts-client.js";
import { korean } from "./format.js";

export const $ = (id) => document.getElementById(id);
const SESSION_KEY = "hts.session";
export const LOCAL = {
  selected: "hts.selected", notice: "hts.notice", watchRev: "hts.watchlist.rev", interval: "hts.interval",
  draft: "hts.draft",
};

export function readSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY));
    return s && typeof s.token === "string" && Number.isFinite(s.expires_at) ? s : null;
  } catch {
    return null;
  }
}

export const state = {
  // {token, username, user_id, issued_at and expires_at (ms), refresh_token?, refresh_expires_at?}
  session: readSession(),
  watch: [],
  selected: localStorage.getItem(LOCAL.selected),
  symbols: new Map(), // code -> {symbol, name, market, prev_close}
  quotes: new Map(), // code -> latest quote (get_price snapshot merged with price_update)
  lastMarketAt: 0, // Date.now() of the newest market data
  symbolStatus: new Map(), // symbol -> symbol_status data, while not plain continuous trading
  feed: {}, // symbol -> feed_status data: how its data reaches the server (HTS_FEED=kis)
};

export const api = new HttpClient({ token: state.session?.token ?? null });
export let stream = null;

export const nameOf = (sym) => state.symbols.get(sym)?.name ?? sym;

/** A symbol code from what the user typed: the code itself or the exact name. */
export function resolve(raw) {
  const s = String(raw ?? "").trim();
  if (state.symbols.has(s.toUpperCase())) return s.toUpperCase();
  for (const m of state.symbols.values()) if (m.name === s) return m.symbol;
  return null;
}

/**
 * An integer field's value, thousands separators allowed ("75,000", "1,000"); anything
 * else goes to the server as typed, for it to judge.
 */
export const intOrRaw = (v) => (/^\s*-?(\d+|\d{1,3}(,\d{3})+)\s*$/.test(String(v)) ? Number(String(v).replace(/[,\s]/g, "")) : v);

// -- the session ----------------------------------------------------------------------

/** A login's or a refresh's answer becomes the session, here and (localStorage) in every tab. */
export function saveSession(res) {
  const now = Date.now();
  state.session = {
    token: res.access_token, username: res.username ?? state.session?.username, user_id: res.user_id,
    issued_at: now, expires_at: now + res.expires_in * 1000,
    // a server with refresh tokens (POST /api/auth/refresh) answers one; an older one does not
    refresh_token: res.refresh_token ?? null,
    refresh_expires_at: res.refresh_expires_in ? now + res.refresh_expires_in * 1000 : null,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  api.token = res.access_token;
  // the SDK's HttpClient would refresh by itself, per tab; the page does it (session.js), one
  // tab at a time, since a refresh token presented twice ends the whole login
  api.refreshToken = null;
}

/** Another tab renewed the session: take its token (the same login, so no reload). */
export function adoptSession(next) {
  state.session = next;
  api.token = next.token;
  window.dispatchEvent(new CustomEvent("hts:session"));
}

export const sessionValid = () => Boolean(state.session && state.session.expires_at > Date.now() + 5000);

/** Forget the session here and in every other tab (they hear of it through `storage`). */
export const forgetSession = () => localStorage.removeItem(SESSION_KEY);

/** Run before a forced logout (one with a notice): session.js keeps what was typed. */
export const beforeForcedLogout = [];

/** Forget the session (in every tab) and start over at the login form, with a notice. */
export function logout(notice) {
  if (notice) {
    for (const fn of beforeForcedLogout) {
      try { fn(); } catch (err) { console.warn("before logout", err); }
    }
  }
  forgetSession();
  if (notice) sessionStorage.setItem(LOCAL.notice, notice);
  stream?.close();
  location.reload();
}

// another tab logged out or in: follow it
window.addEventListener("storage", (e) => {
  if (e.key !== SESSION_KEY) return;
  const next = readSession();
  // the same session ran out in another tab first: say so, not "logged out"
  if (!next) logout(state.session?.expires_at <= Date.now() + 2000 ? "token_expired: 로그인이 만료되었습니다" : "logged_out: another tab logged out");
  else if (next.token === state.session?.token) return;
  else if (state.session && next.user_id === state.session.user_id && next.username === state.session.username) adoptSession(next);
  else location.reload();
});

// -- the stream -----------------------------------------------------------------------

export function openStream(opts) {
  stream = new Stream({
    token: () => state.session?.token,
    store: new MemoryStore(), // the page loads its state over HTTP at start: take the stream from the head
    socket: { reconnectionDelay: 500, reconnectionDelayMax: 3000, timeout: 6000 },
    batchPrices: true, // one message per tick for the whole watchlist
    ...opts,
  });
  return stream;
}

export const connected = () => Boolean(stream?.connected);

/** A request with an ack over the socket; throws HtsError (code offline when not connected). */
export const call = (event, payload) =>
  (stream ? stream.call(event, payload) : Promise.reject(new HtsError("offline", "no stream")));

// -- errors for people ------------------------------------------------------------------

const timers = new Map();

/**
 * Show an error near what caused it: `where` names a notice slot (data-notice=...)
 * or "banner" for the page. Korean text, numbers formatted, the raw code in the tooltip.
 * It goes away by itself after `ttl` ms, or when `clear(where)` says it is resolved.
 */
export function notify(where, code, message, { ttl = 8000 } = {}) {
  const el = where === "banner" ? $("error-banner") : document.querySelector(`[data-notice="${where}"]`);
  if (!el) return;
  const text = where === "banner" ? $("error-text") : el;
  text.textContent = korean(code, message);
  el.title = `${code}${message ? `: ${message}` : ""}`;
  el.dataset.code = code;
  el.hidden = false;
  el.classList.remove("pulse");
  void el.offsetWidth; // restart the animation
  el.classList.add("pulse");
  clearTimeout(timers.get(where));
  if (ttl) timers.set(where, setTimeout(() => clear(where), ttl));
  console.warn(`[${where}] ${code}: ${message ?? ""}`);
}

export function clear(where, code) {
  const el = where === "banner" ? $("error-banner") : document.querySelector(`[data-notice="${where}"]`);
  if (!el || el.hidden || (code && el.dataset.code !== code)) return;
  el.hidden = true;
  el.dataset.code = "";
  clearTimeout(timers.get(where));
}

/** Report a failed call near `where`; an auth failure ends the session. */
export function report(err, where = "banner") {
  if (err instanceof HtsError || err?.code) {
    if (err.status === 401 && AUTH_CODES.includes(err.code)) {
      logout(`${err.code}: ${err.message}`);
      return;
    }
    notify(where, err.code, err.message);
  } else {
    notify(where, "client_error", String(err?.message ?? err));
  }
}
$("error-close").addEventListener("click", () => clear("banner"));
