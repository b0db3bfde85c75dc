"""Amounts as a city writes them: `12 500 CDF`, `1 250 FCFA`, `12,50 €`, `125,00 DH`.

The format is data (a pack's menus.yaml `city.money`); amounts are integers in the currency's
smallest unit the back office counts in (whole francs, cents of a euro).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MoneyFormat:
    """How one city writes an amount: symbol after the number, grouping, decimals."""

    symbol: str
    decimals: int = 0
    decimal_mark: str = ","
    group: str = " "

    def number(self, amount: int) -> str:
        """Return the amount's digits as the city writes them, without the symbol: 12 500."""
        sign = "-" if amount < 0 else ""
        whole, cents = divmod(abs(amount), 10**self.decimals)
        text = f"{whole:,}".replace(",", self.group)
        if self.decimals:
            text += f"{self.decimal_mark}{cents:0{self.decimals}d}"
        return sign + text

    def amount(self, amount: int) -> str:
        """Return the amount with its symbol: 12,50 €."""
        return f"{self.number(amount)} {self.symbol}"
