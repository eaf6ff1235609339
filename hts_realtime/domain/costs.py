"""Trading costs in integer KRW: the brokerage fee and the securities transaction tax.

* **Brokerage fee** on every fill, buy and sell: ``floor(amount × fee_rate)``.
* **Transaction tax** on sells only: ``floor(amount × tax_rate)`` where the
  rate depends on the market (KOSPI, KOSDAQ).

``amount`` is the fill's quantity × price. Both round *down* to the won, per
fill (Korean brokers and the tax truncate below one won, 원 미만 절사).
Rates are exact fractions of their decimal settings (0.00015 is exactly
15/100000), so no float rounding reaches the money.

A buy holds enough cash for its fee too: ``reserve_per_share`` adds
``ceil(price × fee_rate)`` to the price, which is at least the fee's share
of any fill at or below that price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hts_realtime.domain.orders import Side


def _rate(value: float | str | Fraction) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(str(value))


@dataclass(frozen=True)
class Costs:
    fee_rate: Fraction = Fraction(0)
    tax_rates: dict[str, Fraction] = field(default_factory=dict)  # market -> sell tax rate

    @classmethod
    def of(cls, fee_rate: float | str, tax_rates: dict[str, float | str]) -> Costs:
        return cls(_rate(fee_rate), {m: _rate(r) for m, r in tax_rates.items()})

    def fee(self, amount: int) -> int:
        return amount * self.fee_rate.numerator // self.fee_rate.denominator

    def tax(self, side: Side, market: str, amount: int) -> int:
        if side is not Side.SELL:
            return 0
        rate = self.tax_rates.get(market, Fraction(0))
        return amount * rate.numerator // rate.denominator

    def reserve_per_share(self, price: int) -> int:
        """Cash a buy holds per share at ``price``: the price and its fee, rounded up."""
        r = self.fee_rate
        return price + -(-price * r.numerator // r.denominator)
