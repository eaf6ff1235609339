"""The symbol master: real KOSPI/KOSDAQ listings with a plausible previous close.

Previous closes are illustrative (on the KRX grid), not market data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from hts_realtime.domain.krx import on_grid

SYMBOL_RE = re.compile(r"^[0-9A-Z]{6}$")


@dataclass(frozen=True, slots=True)
class Symbol:
    symbol: str
    name: str
    market: str  # "KOSPI" or "KOSDAQ"
    prev_close: int

    def to_dict(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "name": self.name,
            "market": self.market,
            "prev_close": self.prev_close,
        }


_MASTER: tuple[Symbol, ...] = (
    Symbol("005930", "삼성전자", "KOSPI", 75_000),
    Symbol("000660", "SK하이닉스", "KOSPI", 178_000),
    Symbol("373220", "LG에너지솔루션", "KOSPI", 385_000),
    Symbol("207940", "삼성바이오로직스", "KOSPI", 812_000),
    Symbol("005380", "현대차", "KOSPI", 245_500),
    Symbol("000270", "기아", "KOSPI", 112_300),
    Symbol("068270", "셀트리온", "KOSPI", 183_400),
    Symbol("005490", "POSCO홀딩스", "KOSPI", 376_000),
    Symbol("035420", "NAVER", "KOSPI", 181_200),
    Symbol("035720", "카카오", "KOSPI", 43_850),
    Symbol("051910", "LG화학", "KOSPI", 371_500),
    Symbol("006400", "삼성SDI", "KOSPI", 398_000),
    Symbol("105560", "KB금융", "KOSPI", 78_900),
    Symbol("055550", "신한지주", "KOSPI", 51_400),
    Symbol("012330", "현대모비스", "KOSPI", 228_500),
    Symbol("028260", "삼성물산", "KOSPI", 147_600),
    Symbol("066570", "LG전자", "KOSPI", 96_300),
    Symbol("003670", "포스코퓨처엠", "KOSPI", 267_000),
    Symbol("096770", "SK이노베이션", "KOSPI", 118_400),
    Symbol("017670", "SK텔레콤", "KOSPI", 52_100),
    Symbol("030200", "KT", "KOSPI", 37_450),
    Symbol("034730", "SK", "KOSPI", 171_300),
    Symbol("015760", "한국전력", "KOSPI", 21_350),
    Symbol("032830", "삼성생명", "KOSPI", 86_700),
    Symbol("003550", "LG", "KOSPI", 81_500),
    Symbol("010130", "고려아연", "KOSPI", 492_500),
    Symbol("259960", "크래프톤", "KOSPI", 253_000),
    Symbol("011200", "HMM", "KOSPI", 17_890),
    Symbol("034020", "두산에너빌리티", "KOSPI", 19_230),
    Symbol("010950", "S-Oil", "KOSPI", 63_800),
    Symbol("247540", "에코프로비엠", "KOSDAQ", 238_500),
    Symbol("086520", "에코프로", "KOSDAQ", 98_700),
    Symbol("196170", "알테오젠", "KOSDAQ", 276_000),
    Symbol("028300", "HLB", "KOSDAQ", 78_600),
    Symbol("293490", "카카오게임즈", "KOSDAQ", 21_650),
    Symbol("263750", "펄어비스", "KOSDAQ", 36_250),
    Symbol("041510", "에스엠", "KOSDAQ", 72_400),
    Symbol("035900", "JYP Ent.", "KOSDAQ", 64_900),
    Symbol("357780", "솔브레인", "KOSDAQ", 251_500),
    Symbol("042700", "한미반도체", "KOSDAQ", 119_900),
    Symbol("058470", "리노공업", "KOSDAQ", 213_000),
    Symbol("039030", "이오테크닉스", "KOSDAQ", 168_700),
    Symbol("000250", "삼천당제약", "KOSDAQ", 98_400),
    Symbol("095340", "ISC", "KOSDAQ", 71_300),
    Symbol("067310", "하나마이크론", "KOSDAQ", 18_240),
    Symbol("036930", "주성엔지니어링", "KOSDAQ", 31_450),
    Symbol("078600", "대주전자재료", "KOSDAQ", 92_100),
    Symbol("214150", "클래시스", "KOSDAQ", 41_200),
    Symbol("112040", "위메이드", "KOSDAQ", 38_750),
    Symbol("122870", "와이지엔터테인먼트", "KOSDAQ", 44_650),
    Symbol("053800", "안랩", "KOSDAQ", 61_700),
    Symbol("032500", "케이엠더블유", "KOSDAQ", 12_480),
    Symbol("900140", "엘브이엠씨홀딩스", "KOSDAQ", 2_595),
    Symbol("950130", "엑세스바이오", "KOSDAQ", 6_930),
    Symbol("225570", "넥슨게임즈", "KOSDAQ", 14_770),
    Symbol("097520", "엠씨넥스", "KOSDAQ", 23_900),
    Symbol("215600", "신라젠", "KOSDAQ", 3_455),
    Symbol("065350", "신성델타테크", "KOSDAQ", 48_300),
    Symbol("084990", "헬릭스미스", "KOSDAQ", 4_035),
    Symbol("048410", "현대바이오", "KOSDAQ", 1_872),
)


class SymbolMaster:
    """Lookup of tradable symbols. Immutable once built."""

    def __init__(self, symbols: tuple[Symbol, ...] = _MASTER) -> None:
        for s in symbols:
            if not SYMBOL_RE.match(s.symbol):
                raise ValueError(f"bad symbol code {s.symbol!r}")
            if not on_grid(s.prev_close):
                raise ValueError(f"{s.symbol}: prev_close {s.prev_close} is off the tick grid")
        self._by_code = {s.symbol: s for s in symbols}
        if len(self._by_code) != len(symbols):
            raise ValueError("duplicate symbol codes")

    def get(self, code: str) -> Symbol | None:
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)
