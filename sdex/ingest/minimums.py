"""A node's per-token minimums (``Limits.min_amounts``): the least amount of a token an
order may sell or ask for, and the least a trade moves of it (``OrderBook.minimums``).

Defaults (``sdex node``): the deployment file's ``minAmount`` of each token (``sdex devnet``
writes 0.0001 WETH and 0.1 USDC: 10^-4 of every token made 0.0001 USDC, a hundredth of a cent,
the quote's minimum: user28), else 10^-4 of a whole token (``DEFAULT_SHIFT`` decimals below its
unit); an operator sets its own per token (``--min-amount SYMBOL=AMOUNT``, in whole tokens,
``0`` for none), as a centralised exchange sets a minimum order size per market.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Protocol

DEFAULT_SHIFT = 4
"""Default minimum: 10^(decimals - DEFAULT_SHIFT) base units (at least 1)."""


class _Token(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def decimals(self) -> int: ...

    @property
    def min_amount(self) -> int: ...


def default_minimum(decimals: int) -> int:
    return int(10 ** max(0, decimals - DEFAULT_SHIFT))


def minimums_for(tokens: Mapping[str, _Token], given: Iterable[str] = ()) -> dict[str, int]:
    """Each listed token's minimum (lowercase address: base units): its own (the deployment
    file's) or else the default, or the one ``given`` (``SYMBOL=AMOUNT``, whole tokens; exact
    to the token's decimals). Raises ``ValueError`` saying what is wrong with one."""
    out = {t.address.lower(): t.min_amount or default_minimum(t.decimals) for t in tokens.values()}
    # (without case, as a wallet reads a symbol: distinct so, ``symbols_fault``; review70:
    # upper-cased, a listed ``USDC.e`` could not be named at all)
    by_name = {sym.upper(): t for sym, t in tokens.items()}
    for item in given:
        symbol, sep, amount = item.partition("=")
        token = by_name.get(symbol.strip().upper())
        if not sep or token is None:
            listed = ", ".join(tokens)
            raise ValueError(
                f"--min-amount {item!r}: expected SYMBOL=AMOUNT, SYMBOL one of {listed}"
            )
        try:
            value = Decimal(amount.strip()) * (Decimal(10) ** token.decimals)
        except InvalidOperation:
            raise ValueError(f"--min-amount {item!r}: {amount!r} is not a number") from None
        if not value.is_finite() or value < 0 or value != value.to_integral_value():
            raise ValueError(
                f"--min-amount {item!r}: not a whole number of base units "
                f"({token.decimals} decimals), or negative"
            )
        if value > 2**255:
            raise ValueError(f"--min-amount {item!r}: too large")
        out[token.address.lower()] = int(value)
    return {a: v for a, v in out.items() if v > 0}
