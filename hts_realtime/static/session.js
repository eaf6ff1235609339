// The session's clock: renewed silently while the page is in use, a warning with 연장
// before an idle page's token expires, and nothing typed lost when it does expire.
//
// The access token lives HTS_ACCESS_TOKEN_TTL_SECONDS (an hour). A server with refresh
// tokens (README, "Refresh and renew") answers a login with a rotating refresh token:
// POST /api/auth/refresh trades it for a new access token and the next refresh token,
// and the open socket carries on with the new one (the `renew` event). A refresh token
// works once — presenting it twice revokes the whole login — so every tab of the browser
// refreshes under one Web Lock and the others take the result from localStorage.
//
//   in use (any key, click, touch or scroll within IDLE of now) at RENEW before exp: renewed;
//   idle: at WARN before exp a bar says so, with 연장 (and 로그아웃), counting down;
//   at exp: the ticket's fields are kept (sessionStorage), the page logs out, and the next
//   login puts them back.

import {
  $, adoptSession, api, beforeForcedLogout, call, LOCAL, logout, readSession, saveSession, state, stream,
} from "./core.js";
import { korean } from "./format.js";
import { restoreTicket, ticketDraft } from "./trading.js";

const MINUTE = 60_000;
// fractions of the token's life, capped: an hour's token renews 5 min and warns 2 min before
// its end, and counts as in use after a touch in the last 10 min (tests run 15 s tokens)
const renewAhead = (life) => Math.min(5 * MINUTE, life / 2);
const warnAhead = (life) => Math.min(2 * MINUTE, life / 3);
const idleAfter = (life) => Math.min(10 * MINUTE, life / 3);

let lastActive = Date.now();
let timer = null;
let ticker = null;
let renewing = null;
let autoRenew = true; // off after a failed renewal: then only 연장 tries again

const life = () => state.session.expires_at - (state.session.issued_at ?? state.session.expires_at - 3_600_000);
const left = () => state.session.expires_at - Date.now();
const inUse = () => Date.now() - lastActive < idleAfter(life());
const renewable = () => Boolean(state.session?.refresh_token)
  && (!state.session.refresh_expires_at || state.session.refresh_expires_at > Date.now());

for (const ev of ["pointerdown", "keydown", "input", "wheel", "touchstart"]) {
  addEventListener(ev, () => {
    lastActive = Date.now();
    // back at the keyboard inside the renewal window: renew now, quietly
    if (state.session && autoRenew && renewable() && left() < renewAhead(life())) renew();
  }, { capture: true, passive: true });
}

/** Start (or restart, after a renewal) the clock of the current session. */
export function watchSession() {
  clearTimeout(timer);
  hideWarning();
  if (!state.session) return;
  const l = left();
  const at = (ms) => Math.max(0, Math.min(ms, 2 ** 31 - 1));
  if (l <= 0) return expire();
  if (renewable() && l > renewAhead(life())) {
    timer = setTimeout(watchSession, at(l - renewAhead(life())));
  } else if (renewable() && autoRenew && inUse()) {
    renew();
  } else if (l > warnAhead(life())) {
    timer = setTimeout(watchSession, at(l - warnAhead(life())));
  } else {
    showWarning();
    timer = setTimeout(expire, at(l));
  }
}

/** A new access token (one tab at a time), then the socket's identity with it. */
export function renew() {
  renewing ??= (async () => {
    try {
      const before = state.session.token;
      const run = async () => {
        const cur = readSession();
        if (cur && cur.token !== before && cur.user_id === state.session.user_id) {
          adoptSession(cur); // another tab renewed meanwhile: its token is ours
          return;
        }
        const res = await api.request("POST", "/api/auth/refresh", { body: { refresh_token: cur?.refresh_token } });
        saveSession(res);
      };
      if (navigator.locks) await navigator.locks.request("hts.session.refresh", run);
      else await run();
      await renewSocket();
      autoRenew = true;
      watchSession();
    } catch (err) {
      autoRenew = false;
      showWarning(err);
      clearTimeout(timer);
      timer = setTimeout(expire, Math.max(0, Math.min(left(), 2 ** 31 - 1)));
      console.warn("session renewal failed", err?.code ?? err);
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

/** The open connection carries on with the new token (a server without `renew` ignores it). */
async function renewSocket() {
  if (!stream?.connected) return; // the next handshake takes the new token anyway
  try {
    await call("renew", { token: state.session.token });
  } catch (err) {
    if (!["unknown_event", "offline", "invalid_message"].includes(err.code)) throw err;
  }
}

// another tab renewed: follow its clock and carry this tab's socket over too
addEventListener("hts:session", () => { renewSocket().catch(() => {}); watchSession(); });

// -- the warning bar -------------------------------------------------------------------------

function showWarning(err) {
  const bar = $("session-warn");
  bar.hidden = false;
  $("session-extend").hidden = !renewable();
  const note = $("session-note");
  note.hidden = !err && renewable();
  note.textContent = err ? korean(err.code ?? "client_error", err.message) : "이 서버에서는 연장할 수 없습니다. 만료되면 다시 로그인하세요 (입력한 주문은 남습니다)";
  clearInterval(ticker);
  const tick = () => {
    const s = Math.max(0, Math.ceil(left() / 1000));
    $("session-left").textContent = s >= 60 ? `${Math.floor(s / 60)}분 ${s % 60}초` : `${s}초`;
  };
  tick();
  ticker = setInterval(tick, 1000);
}

function hideWarning() {
  clearInterval(ticker);
  $("session-warn").hidden = true;
}

$("session-extend").addEventListener("click", () => renew());
$("session-logout").addEventListener("click", () => $("logout").click());

// -- at expiry: keep what was typed ------------------------------------------------------------

function expire() {
  if (left() > 0) return watchSession(); // renewed meanwhile (another tab)
  logout("token_expired: 로그인이 만료되었습니다");
}
// any logout the user did not ask for (expiry here or in another tab, a revoked token):
// the ticket is kept for the next login
beforeForcedLogout.push(() => {
  if (document.body.dataset.view === "dashboard") sessionStorage.setItem(LOCAL.draft, JSON.stringify(ticketDraft()));
});

/** After a login: the ticket as it was when the last session ran out. */
export function restoreDraft() {
  const raw = sessionStorage.getItem(LOCAL.draft);
  if (!raw) return;
  sessionStorage.removeItem(LOCAL.draft);
  try {
    restoreTicket(JSON.parse(raw));
  } catch (err) {
    console.warn("draft", err);
  }
}
