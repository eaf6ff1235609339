// Shared by the dashboard's modules: the page state, the connection badge,
// the error banner, and requests over HTTP and over the socket (with acks).

import { ApiError, clock, request } from "./api.js";

export const $ = (id) => document.getElementById(id);
export const store = window.sessionStorage;
export const KEYS = {
  token: "hts.token", user: "hts.username", seq: "hts.last_seq",
  watch: "hts.watchlist", selected: "hts.selected", notice: "hts.notice",
};
export const AUTH_CODES = ["auth_required", "auth_failed", "token_expired"];
const DEFAULT_WATCH = ["005930", "035420", "035720"];

function readInt(s) {
  const n = s === null ? NaN : Number(s);
  return Number.isInteger(n) && n >= 0 ? n : null;
}
function readJson(key) {
  try { return JSON.parse(store.getItem(key)); } catch { return null; }
}

export const state = {
  token: store.getItem(KEYS.token),
  username: store.getItem(KEYS.user) ?? "",
  lastSeq: readInt(store.getItem(KEYS.seq)), // newest private-stream seq handled
  watch: readJson(KEYS.watch) ?? DEFAULT_WATCH.slice(),
  selected: store.getItem(KEYS.selected),
  symbols: new Map(), // code -> {symbol, name, market, prev_close}
  quotes: new Map(), // code -> latest quote
  socket: null,
};

export const nameOf = (sym) => state.symbols.get(sym)?.name ?? sym;

/** A symbol code from what the user typed: the code itself or the exact name. */
export function resolve(raw) {
  const s = String(raw ?? "").trim();
  if (state.symbols.has(s.toUpperCase())) return s.toUpperCase();
  for (const m of state.symbols.values()) if (m.name === s) return m.symbol;
  return null;
}

/** An integer field's value; anything else goes to the server as typed, for it to judge. */
export const intOrRaw = (v) => (/^-?\d+$/.test(String(v).trim()) ? Number(v) : v);

export function saveSeq(seq) {
  state.lastSeq = seq;
  store.setItem(KEYS.seq, String(seq));
  $("last-seq").textContent = String(seq);
}

// -- the connection badge ----------------------------------------------------------

const CONN = {
  connected: "● 연결됨 connected",
  connecting: "연결 중 connecting…",
  reconnecting: "재연결 중 reconnecting…",
  offline: "○ 오프라인 offline",
};
export function setConn(kind, attempt = 0) {
  const badge = $("conn-state");
  badge.dataset.state = kind;
  badge.textContent = CONN[kind] + (kind === "reconnecting" && attempt ? ` #${attempt}` : "");
}

// -- errors: shown to the user, never swallowed ----------------------------------------

let lastError = null;
export function showError(code, message, where) {
  const now = Date.now();
  // a failed socket request is reported twice by the server: its ack and an `error` event
  if (lastError && lastError.code === code && lastError.message === message && now - lastError.at < 2000) return;
  lastError = { code, message, at: now };
  $("error-code").textContent = code;
  $("error-text").textContent = `${message}${where ? ` (${where})` : ""} · ${clock()}`;
  const banner = $("error-banner");
  banner.hidden = false;
  banner.classList.remove("pulse");
  void banner.offsetWidth; // restart the animation
  banner.classList.add("pulse");
  console.warn(`[${code}] ${message}`, where ?? "");
}

export function report(err, where) {
  if (err instanceof ApiError) {
    showError(err.code, err.message, where);
    if (err.status === 401 && AUTH_CODES.includes(err.code)) logout(`${err.code}: ${err.message}`);
  } else {
    showError("client_error", String(err?.message ?? err), where);
  }
}
$("error-close").addEventListener("click", () => { $("error-banner").hidden = true; });

/** Forget the session and start over at the login form (with a notice, if any). */
export function logout(notice) {
  for (const k of [KEYS.token, KEYS.user, KEYS.seq]) store.removeItem(k);
  if (notice) store.setItem(KEYS.notice, notice);
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  location.reload();
}

// -- requests ----------------------------------------------------------------------

export const http = (method, path, body, headers) =>
  request(method, path, { token: state.token, body, headers });

export const connected = () => Boolean(state.socket?.connected);

/** emit with an acknowledgement; a failed ack ({ok: false, error}) throws its code. */
export async function call(event, payload = {}) {
  const socket = state.socket;
  if (!socket?.connected) throw new ApiError("offline", `not connected (${event})`);
  const sid = socket.id;
  let ack;
  try {
    ack = await socket.timeout(8000).emitWithAck(event, payload);
  } catch {
    if (!socket.connected || socket.id !== sid) {
      // the connection it went out on is gone: the caller may retry on the next one
      throw new ApiError("offline", `connection lost before the answer to ${event}`);
    }
    throw new ApiError("timeout", `no answer to ${event} within 8 s`);
  }
  if (!ack?.ok) {
    throw new ApiError(ack?.error?.code ?? "internal_error", ack?.error?.message ?? `${event} failed`);
  }
  return ack;
}
