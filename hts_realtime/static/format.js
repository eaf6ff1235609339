// Formatting, the KRX tick grid and Korean words for the dashboard. No DOM, no state.

const NUM = new Intl.NumberFormat("ko-KR");
const none = (n) => n === null || n === undefined || Number.isNaN(n);

/** 75100 -> "75,100" */
export const num = (n) => (none(n) ? "–" : NUM.format(n));
/** 75100 -> "₩75,100" */
export const krw = (n) => (none(n) ? "–" : `${n < 0 ? "-" : ""}₩${NUM.format(Math.abs(n))}`);
/** 1200 -> "+₩1,200", -1200 -> "-₩1,200" */
export const signedKrw = (n) => (none(n) ? "–" : `${n > 0 ? "+" : n < 0 ? "-" : ""}₩${NUM.format(Math.abs(n))}`);
/** 0.134 -> "+0.13%" */
export const pct = (x) => (none(x) ? "–" : `${x > 0 ? "+" : ""}${Number(x).toFixed(2)}%`);
/** The Korean market's colours: a rise red ("up"), a fall blue ("down"). */
export const direction = (n) => (n > 0 ? "up" : n < 0 ? "down" : "flat");
/** "▲ 100" / "▼ 100" / "0" */
export const arrow = (n) => (n > 0 ? `▲ ${NUM.format(n)}` : n < 0 ? `▼ ${NUM.format(-n)}` : "0");
/** 1234567 -> "123만" style compact volume */
export function compact(n) {
  if (none(n)) return "–";
  if (n >= 1e8) return `${(n / 1e8).toFixed(n >= 1e9 ? 0 : 1)}억`;
  if (n >= 1e4) return `${(n / 1e4).toFixed(n >= 1e5 ? 0 : 1)}만`;
  return NUM.format(n);
}

const two = (n) => String(n).padStart(2, "0");
/** ISO 8601 (or ms) -> local "HH:MM:SS" */
export function clock(t) {
  const d = t === undefined ? new Date() : new Date(t);
  if (Number.isNaN(d.getTime())) return "–";
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
/** ISO 8601 -> "HH:MM:SS" on the market's clock (KST), whatever the browser's zone */
export function kstClock(t) {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? "–" : new Date(ms + 9 * 3_600_000).toISOString().slice(11, 19);
}
/** seconds -> "12초" / "3분 5초" */
export function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return s < 60 ? `${s}초` : s < 3600 ? `${Math.floor(s / 60)}분 ${s % 60}초` : `${Math.floor(s / 3600)}시간`;
}

/** Escape text for innerHTML templates. */
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** "ORD9DCF484CF51C6E43" -> "…CF51C6E43"'s last 6: "1C6E43" */
export const shortId = (id) => (String(id).length > 8 ? `…${String(id).slice(-6)}` : String(id));

// -- the KRX tick grid (domain/krx.py: the unified 2023 table) --------------------------
const TICKS = [[2000, 1], [5000, 5], [20000, 10], [50000, 50], [200000, 100], [500000, 500]];
export function tickSize(price) {
  for (const [bound, tick] of TICKS) if (price < bound) return tick;
  return 1000;
}
export const onGrid = (p) => Number.isInteger(p) && p > 0 && p % tickSize(p) === 0;
/** One tick up or down from `price`, snapping an off-grid price to the grid first. */
export function stepTick(price, dir) {
  if (!Number.isInteger(price) || price <= 0) return null;
  if (!onGrid(price)) {
    const t = tickSize(price);
    return dir > 0 ? Math.ceil(price / t) * t : Math.floor(price / t) * t;
  }
  return dir > 0 ? price + tickSize(price) : Math.max(1, price - tickSize(price - 1));
}

// -- costs, exactly as the broker computes them (integer maths on decimal rates) ---------
/** "0.00015" -> {num: 15, den: 100000} */
export function rate(decimal) {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(decimal ?? "0"));
  if (!m) return { num: 0, den: 1 };
  const frac = m[2] ?? "";
  return { num: Number(m[1] + frac), den: 10 ** frac.length };
}
/** What a buy holds per share at `price`: the price and its fee, rounded up. */
export const holdPerShare = (price, fee) => price + Math.ceil((price * fee.num) / fee.den);
/** A fee or tax on `amount`, rounded down to the won. */
export const cost = (amount, r) => Math.floor((amount * r.num) / r.den);

// -- symbol search: a code, part of a name, or its 초성 ("하이닉", "ㅅㅅㅈㅈ", "naver") -----------
const CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ";
/** The initial consonant of a Hangul syllable (삼 -> ㅅ); any other character as it is. */
export const initial = (ch) => {
  const c = ch.charCodeAt(0) - 0xac00;
  return c >= 0 && c < 11172 ? CHOSEONG[Math.floor(c / 588)] : ch;
};
const isJamo = (ch) => CHOSEONG.includes(ch);
/** Does `q` occur in `name` at `at`, a lone consonant in q standing for any syllable it starts? */
function matchesAt(name, q, at) {
  for (let i = 0; i < q.length; i++) {
    const n = name[at + i];
    if (n === undefined) return false;
    if (q[i] !== n && !(isJamo(q[i]) && initial(n) === q[i])) return false;
  }
  return true;
}
/**
 * Symbols matching what was typed, best first: the code or the name exactly, then codes and
 * names that start with it, then names that contain it (초성 allowed). At most `limit`.
 */
export function searchSymbols(query, symbols, limit = 8) {
  const q = String(query ?? "").trim().toUpperCase().replace(/\s+/g, "");
  if (!q) return [];
  const scored = [];
  for (const s of symbols) {
    const name = s.name.toUpperCase().replace(/\s+/g, "");
    let score = -1;
    if (s.symbol === q || name === q) score = 0;
    else if (s.symbol.startsWith(q) || matchesAt(name, q, 0)) score = 1;
    else {
      for (let at = 1; at + q.length <= name.length; at++) {
        if (matchesAt(name, q, at)) { score = 2; break; }
      }
    }
    if (score >= 0) scored.push([score, s]);
  }
  return scored.sort((a, b) => a[0] - b[0] || a[1].name.length - b[1].name.length).slice(0, limit).map(([, s]) => s);
}

// -- Korean words ------------------------------------------------------------------------
export const SIDE_KO = { buy: "매수", sell: "매도" };
export const ORDER_TYPE_KO = { market: "시장가", limit: "지정가" };
export const STATUS_KO = {
  accepted: "접수", partially_filled: "부분체결", filled: "체결", cancelled: "취소", rejected: "거부",
  replaced: "정정됨", expired: "기간만료",
};
export const STRATEGY_STATE_KO = {
  created: "대기", running: "실행 중", stopped: "정지", error: "오류", deleted: "삭제",
};
export const STRATEGY_KIND_KO = {
  ma_crossover: "이동평균 교차", rsi: "RSI 역추세", breakout: "돌파 (Donchian)",
};
export const PARAM_KO = {
  short_window: "단기", long_window: "장기", period: "기간", oversold: "과매도",
  overbought: "과매수", window: "기간",
};
export const MARKET_KO = {
  pre_open: "장 시작 전 동시호가", open: "정규장", closing_auction: "장 마감 동시호가", closed: "장 마감",
};

/**
 * Badges for a symbol's own trading state (symbol_status.data): [class, text, title].
 * 상한가/하한가 held, a VI (정적/동적) and its single-price auction with the expected
 * price, a halt. Nothing in plain continuous trading.
 */
export function symbolBadges(st) {
  if (!st) return [];
  const out = [];
  const until = st.until ? ` · ${kstClock(st.until)}까지` : "";
  const expected = st.expected_price ? `예상 ${num(st.expected_price)}${st.expected_quantity ? ` (${num(st.expected_quantity)}주)` : ""}` : "";
  if (st.limit === "upper") out.push(["limit-up", "상한가", "상한가에 묶여 있습니다 (매수 잔량만)"]);
  if (st.limit === "lower") out.push(["limit-down", "하한가", "하한가에 묶여 있습니다 (매도 잔량만)"]);
  if (st.phase === "vi") {
    const kind = st.vi === "static" ? "정적" : st.vi === "dynamic" ? "동적" : "";
    out.push(["vi", `VI${kind ? ` ${kind}` : ""}`, `변동성완화장치 ${kind} 발동: 단일가 매매${until}${st.reference_price ? ` · 기준가 ${num(st.reference_price)}` : ""}`]);
  }
  if (st.phase === "auction") out.push(["auction", "단일가", `단일가 매매${until}`]);
  if ((st.phase === "vi" || st.phase === "auction") && expected) out.push(["expected", expected, "예상체결가 (예상체결수량)"]);
  if (st.phase === "halted") out.push(["halted", "거래정지", "매매거래 정지"]);
  return out;
}

// -- errors for people: a Korean sentence per code, numbers formatted --------------------

/** Integers in a server message, in order (as numbers). */
const numbers = (msg) => (String(msg ?? "").match(/\d+/g) ?? []).map(Number);

const MESSAGES = {
  invalid_message: () => "요청 형식이 올바르지 않습니다",
  unknown_event: () => "서버가 알 수 없는 요청입니다",
  invalid_topic: () => "구독할 수 없는 항목입니다",
  unknown_symbol: (m) => {
    const s = String(m ?? "").match(/'([^']*)'/);
    return s ? `없는 종목입니다: ${s[1]}` : "없는 종목입니다";
  },
  not_found: () => "찾을 수 없습니다 (이미 삭제되었거나 권한이 없습니다)",
  forbidden: () => "권한이 없습니다",
  rate_limited: () => "요청이 너무 많습니다. 잠시 후 다시 시도하세요",
  subscription_limit: () => "구독 가능한 종목 수를 넘었습니다",
  auth_required: () => "로그인이 필요합니다",
  auth_failed: () => "아이디 또는 비밀번호가 올바르지 않습니다",
  token_expired: () => "로그인이 만료되었습니다. 다시 로그인하세요",
  auth_revoked: () => "로그아웃되었습니다 (다른 곳에서 로그아웃했거나 비밀번호가 바뀌었습니다). 다시 로그인하세요",
  slow_consumer: () => "수신이 늦어 연결이 끊겼습니다. 다시 연결합니다",
  internal_error: () => "서버 오류입니다. 잠시 후 다시 시도하세요",
  invalid_order: (m) => {
    const [lo, hi] = numbers(m);
    if (/quantity/.test(m) && hi) return `수량은 ${num(lo)}~${num(hi)}주 사이여야 합니다`;
    if (/needs a price/.test(m)) return "지정가 주문에는 가격이 필요합니다";
    if (/takes no price/.test(m)) return "시장가 주문에는 가격을 넣지 않습니다";
    return "주문 내용이 올바르지 않습니다";
  },
  invalid_price: (m) => {
    const [p, lo, hi] = numbers(m);
    if (/grid/.test(m) && p) return `호가단위에 맞지 않는 가격입니다: ${krw(p)} (호가단위 ${krw(tickSize(p))})`;
    if (/band/.test(m) && hi) return `가격제한폭을 벗어났습니다: ${krw(p)} (허용 ${krw(lo)} ~ ${krw(hi)})`;
    return "주문할 수 없는 가격입니다";
  },
  insufficient_funds: (m) => {
    const [need, have] = numbers(m);
    return need !== undefined && have !== undefined
      ? `주문가능금액이 부족합니다: 필요 ${krw(need)}, 가능 ${krw(have)}` : "주문가능금액이 부족합니다";
  },
  insufficient_holdings: (m) => {
    const [want, have] = numbers(String(m).replace(/of \d{6}/, ""));
    return have !== undefined ? `매도가능수량이 부족합니다: 주문 ${num(want)}주, 가능 ${num(have)}주` : "매도가능수량이 부족합니다";
  },
  order_not_cancellable: (m) => {
    const st = String(m ?? "").match(/is (\w+)/)?.[1];
    return `취소할 수 없는 주문입니다${st ? ` (이미 ${STATUS_KO[st] ?? st})` : ""}`;
  },
  order_not_amendable: (m) => {
    const st = String(m ?? "").match(/is (\w+)/)?.[1];
    return `정정할 수 없는 주문입니다${st ? ` (이미 ${STATUS_KO[st] ?? st})` : ""}`;
  },
  conflict: (m) => (/strategies/.test(m) ? `전략은 최대 ${num(numbers(m)[0])}개까지 만들 수 있습니다`
    : "같은 주문 키로 다른 주문이 이미 접수되었습니다"),
  invalid_strategy: (m) => {
    const [lo, hi] = numbers(m);
    if (/quantity/.test(m) && hi) return `수량은 ${num(lo)}~${num(hi)}주 사이여야 합니다`;
    if (/unknown/.test(m) || /kind/.test(m)) return `전략 설정이 올바르지 않습니다 (${m})`;
    return `전략 설정이 올바르지 않습니다 (${m})`;
  },
  resync_required: () => "놓친 알림이 만료되어 주문·계좌를 다시 불러왔습니다",
  offline: () => "서버와 연결되어 있지 않습니다",
  timeout: () => "서버 응답이 없습니다. 다시 시도하세요",
  network_error: () => "서버에 연결할 수 없습니다",
  invalid_params: () => "전략 파라미터를 확인하세요",
  logged_out: () => "다른 탭에서 로그아웃했습니다",
};

/** A Korean sentence for an error code (and the server's English message, for numbers). */
export function korean(code, message) {
  const f = MESSAGES[code];
  return f ? f(message ?? "") : `오류가 발생했습니다 (${message || code})`;
}
