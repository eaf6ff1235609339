"""The KIS real-time wire: pure parsing and building, no I/O.

What arrives on the WebSocket is one of three things (KIS API portal,
``/tryitout/H0STCNT0``, "응답 데이터"; README lists every source):

* a **data frame**, ``0|H0STCNT0|004|f1^f2^...``: encrypted flag, TR id, a
  three-digit record count, then ``count × fields(TR)`` values joined by
  ``^`` — several records per frame when the exchange is busy;
* a **control reply**, JSON ``{"header":{"tr_id","tr_key","encrypt"},
  "body":{"rt_cd","msg_cd","msg1","output"?}}`` answering a (un)subscribe,
  or refusing the session (``OPSP8996 ALREADY IN USE appkey``);
* a **PINGPONG**, JSON ``{"header":{"tr_id":"PINGPONG","datetime"}}``, which
  the client must send back as it came or the server drops the session.

Only the TRs we subscribe to are decoded; anything else is a ``FrameError``
with a short reason, so the session can count it, log it once and go on.
Encrypted frames (``1|``) carry only account notices (체결통보), which this
server never subscribes to, so they are refused rather than decrypted. The
AES key and IV of a subscribe reply are never kept: they could otherwise
reach a log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TR_TRADE = "H0STCNT0"  # 국내주식 실시간체결가 (KRX) [실시간-003]
TR_BOOK = "H0STASP0"  # 국내주식 실시간호가 (KRX) [실시간-004]
TR_MARKET_OP = "H0STMKO0"  # 국내주식 장운영정보 (KRX) [실시간-049]: VI, halts, sessions
PINGPONG = "PINGPONG"

TRADE_FIELDS = (
    "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS",
    "PRDY_CTRT", "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR", "ASKP1",
    "BIDP1", "CNTG_VOL", "ACML_VOL", "ACML_TR_PBMN", "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU",
    "NTBY_CNTG_CSNU", "CTTR", "SELN_CNTG_SMTN", "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE",
    "PRDY_VOL_VRSS_ACML_VOL_RATE", "OPRC_HOUR", "OPRC_VRSS_PRPR_SIGN", "OPRC_VRSS_PRPR",
    "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN", "HGPR_VRSS_PRPR", "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN",
    "LWPR_VRSS_PRPR", "BSOP_DATE", "NEW_MKOP_CLS_CODE", "TRHT_YN", "ASKP_RSQN1",
    "BIDP_RSQN1", "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "VOL_TNRT",
    "PRDY_SMNS_HOUR_ACML_VOL", "PRDY_SMNS_HOUR_ACML_VOL_RATE", "HOUR_CLS_CODE",
    "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
)
BOOK_FIELDS = (
    "MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE",
    *(f"ASKP{i}" for i in range(1, 11)), *(f"BIDP{i}" for i in range(1, 11)),
    *(f"ASKP_RSQN{i}" for i in range(1, 11)), *(f"BIDP_RSQN{i}" for i in range(1, 11)),
    "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "OVTM_TOTAL_ASKP_RSQN", "OVTM_TOTAL_BIDP_RSQN",
    "ANTC_CNPR", "ANTC_CNQN", "ANTC_VOL", "ANTC_CNTG_VRSS", "ANTC_CNTG_VRSS_SIGN",
    "ANTC_CNTG_PRDY_CTRT", "ACML_VOL", "TOTAL_ASKP_RSQN_ICDC", "TOTAL_BIDP_RSQN_ICDC",
    "OVTM_TOTAL_ASKP_ICDC", "OVTM_TOTAL_BIDP_ICDC", "STCK_DEAL_CLS_CODE",
)
MARKET_OP_FIELDS = (
    "MKSC_SHRN_ISCD", "TRHT_YN", "TR_SUSP_REAS_CNTT", "MKOP_CLS_CODE", "ANTC_MKOP_CLS_CODE",
    "MRKT_TRTM_CLS_CODE", "DIVI_APP_CLS_CODE", "ISCD_STAT_CLS_CODE", "VI_CLS_CODE",
    "OVTM_VI_CLS_CODE", "EXCH_CLS_CODE",
)
FIELDS: dict[str, tuple[str, ...]] = {
    TR_TRADE: TRADE_FIELDS, TR_BOOK: BOOK_FIELDS, TR_MARKET_OP: MARKET_OP_FIELDS}
_INDEX = {tr: {name: i for i, name in enumerate(names)} for tr, names in FIELDS.items()}

# msg_cd of the control replies we act on (the OPSP table of the KIS error codes)
SUBSCRIBED = "OPSP0000"  # SUBSCRIBE SUCCESS
UNSUBSCRIBED = "OPSP0001"  # UNSUBSCRIBE SUCCESS
ALREADY_SUBSCRIBED = "OPSP0002"  # ALREADY IN SUBSCRIBE
NOT_SUBSCRIBED = "OPSP0003"  # UNSUBSCRIBE ERROR(not found!)
MAX_SUBSCRIBE = "OPSP0008"  # MAX SUBSCRIBE OVER
INVALID_APPROVAL = "OPSP0011"  # invalid approval(appkey) : NOT FOUND
INVALID_TR_KEY = "OPSP8992"  # SUBSCRIBE ERROR : invalid tr_key
APPKEY_IN_USE = "OPSP8996"  # ALREADY IN USE appkey

MAX_FRAME_CHARS = 1 << 20  # a real frame of many records is a few KB; more is not KIS
MAX_RECORDS = 999  # the count is three digits


class FrameError(ValueError):
    """A frame we cannot use. ``reason`` is a short stable word for counters and logs."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DataFrame:
    tr_id: str
    records: tuple[tuple[str, ...], ...]  # each exactly FIELDS[tr_id] long

    def field(self, record: tuple[str, ...], name: str) -> str:
        return record[_INDEX[self.tr_id][name]]


@dataclass(frozen=True, slots=True)
class Control:
    """A reply to a (un)subscribe, or the server refusing the session."""

    tr_id: str
    tr_key: str
    ok: bool  # rt_cd == "0"
    code: str  # msg_cd, e.g. OPSP0000
    message: str  # msg1, e.g. SUBSCRIBE SUCCESS


@dataclass(frozen=True, slots=True)
class PingPong:
    raw: str  # sent back unchanged


Frame = DataFrame | Control | PingPong


def decode(raw: str) -> Frame:
    """One WebSocket text message. Raises ``FrameError`` for anything unusable."""
    if not raw:
        raise FrameError("empty")
    if len(raw) > MAX_FRAME_CHARS:
        raise FrameError("too_large", f"{len(raw)} characters")
    if raw[0] in "01" and raw[1:2] == "|":
        return _data(raw)
    if raw[0] == "{":
        return _json(raw)
    raise FrameError("garbage", _excerpt(raw))


def _data(raw: str) -> DataFrame:
    parts = raw.split("|", 3)
    if len(parts) != 4:
        raise FrameError("garbage", _excerpt(raw))
    flag, tr_id, count_text, payload = parts
    if flag == "1":
        raise FrameError("encrypted", tr_id[:16])
    names = FIELDS.get(tr_id)
    if names is None:
        raise FrameError("unknown_tr", tr_id[:16])
    if not (count_text.isdigit() and 0 < int(count_text) <= MAX_RECORDS):
        raise FrameError("bad_count", count_text[:8])
    count, width = int(count_text), len(names)
    values = payload.split("^")
    if len(values) != count * width:
        raise FrameError("field_count",
                         f"{tr_id}: {len(values)} values for {count} × {width}")
    return DataFrame(tr_id, tuple(tuple(values[i * width:(i + 1) * width])
                                  for i in range(count)))


def _json(raw: str) -> Control | PingPong:
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise FrameError("garbage", _excerpt(raw)) from exc
    header = msg.get("header") if isinstance(msg, dict) else None
    if not isinstance(header, dict) or not isinstance(header.get("tr_id"), str):
        raise FrameError("garbage", _excerpt(raw))
    if header["tr_id"] == PINGPONG:
        return PingPong(raw)
    body = msg.get("body")
    if not isinstance(body, dict):
        raise FrameError("garbage", _excerpt(raw))
    key = header.get("tr_key")
    return Control(header["tr_id"], key if isinstance(key, str) else "",
                   str(body.get("rt_cd", "")) == "0", str(body.get("msg_cd", "")),
                   str(body.get("msg1", "")))


def request(approval_key: str, tr_id: str, tr_key: str, subscribe: bool,
            custtype: str = "P") -> str:
    """A (un)subscribe message (``tr_type`` 1 registers, 2 releases)."""
    body: dict[str, Any] = {
        "header": {"approval_key": approval_key, "custtype": custtype,
                   "tr_type": "1" if subscribe else "2", "content-type": "utf-8"},
        "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
    }
    return json.dumps(body, separators=(",", ":"))


def data_frame(tr_id: str, records: list[list[str]]) -> str:
    """Build a data frame (the fake server and the tests speak the same wire)."""
    width = len(FIELDS[tr_id])
    if not records or any(len(r) != width for r in records):
        raise ValueError(f"{tr_id} records must have {width} fields")
    return f"0|{tr_id}|{len(records):03d}|" + "^".join(v for r in records for v in r)


def control_reply(tr_id: str, tr_key: str, code: str, message: str, ok: bool) -> str:
    body: dict[str, Any] = {"rt_cd": "0" if ok else "1", "msg_cd": code, "msg1": message}
    return json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "N"},
                       "body": body}, separators=(",", ":"))


def _excerpt(raw: str) -> str:
    """What a log may show of a bad frame: short, and never a whole payload."""
    return repr(raw[:40]) + ("…" if len(raw) > 40 else "")
