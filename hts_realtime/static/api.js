// REST calls and number formatting shared by the dashboard's modules.
//
// Every HTTP error body is {"error": {"code", "message"}} (contract §2); a
// failed call throws an ApiError carrying that code so the UI can show it.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** fetch() a JSON route. Resolves to the decoded body (null for 204). */
export async function request(method, path, { token, body, headers } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (token) h.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("network_error", `${method} ${path}: 서버에 연결할 수 없습니다 (server unreachable)`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(err?.code ?? `http_${res.status}`, err?.message ?? res.statusText, res.status);
  }
  return data;
}

/** A random key for the Idempotency-Key header (randomUUID needs a secure context). */
export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// -- formatting -------------------------------------------------------------------

const NUM = new Intl.NumberFormat("ko-KR");

/** 75100 -> "75,100" */
export const num = (n) => (n === null || n === undefined ? "–" : NUM.format(n));

/** 75100 -> "75,100원" */
export const krw = (n) => (n === null || n === undefined ? "–" : `${NUM.format(n)}원`);

/** 1200 -> "+1,200원", -1200 -> "-1,200원" */
export const signedKrw = (n) =>
  n === null || n === undefined ? "–" : `${n > 0 ? "+" : n < 0 ? "-" : ""}${NUM.format(Math.abs(n))}원`;

/** 0.134 -> "+0.13%" */
export const pct = (x) =>
  x === null || x === undefined ? "–" : `${x > 0 ? "+" : ""}${Number(x).toFixed(2)}%`;

/** The Korean market's colour convention: rise red ("up"), fall blue ("down"). */
export const direction = (n) => (n > 0 ? "up" : n < 0 ? "down" : "flat");

/** "▲ 100" / "▼ 100" / "0" */
export const arrow = (n) => (n > 0 ? `▲ ${NUM.format(n)}` : n < 0 ? `▼ ${NUM.format(-n)}` : "0");

/** ISO 8601 -> local "HH:MM:SS" */
export function clock(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (Number.isNaN(d.getTime())) return "–";
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Escape text for innerHTML templates. */
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
