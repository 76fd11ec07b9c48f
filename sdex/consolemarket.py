"""The console's market orders: the limit and amount a ``send_order buy|sell market`` signs
(split from ``sdex.console``, which reached 500 lines). A market order is an IOC limit order at
the best opposite price moved by a slippage bound, so it never trades worse than that bound;
the book is read from the node, the arithmetic is exact (``Fraction``), and what was chosen is
said before anything is signed."""

from __future__ import annotations

import math
from fractions import Fraction

from rich.console import Console

from sdex.client import NodeClient, OrderConfig, OrderRecord
from sdex.errors import SdexError
from sdex.wallet import BPS, Market, Side, WalletInputError, fmt_price, parse_decimal
from sdex.walletbook import book_rows, remaining_amounts


class ConsoleError(SdexError):
    """A command that cannot run as asked: a market order into an empty book side, a pair the
    node does not list."""


def market_limit(
    out: Console,
    client: NodeClient,
    config: OrderConfig,
    m: Market,
    side: Side,
    amount: Fraction,
    bps: int,
) -> tuple[Fraction, Fraction]:
    """A market order's limit and amount: the best ask raised (buy) or the best bid lowered
    (sell) by ``bps``. Refuses an empty side: there is nothing to take. A sell gives its
    amount; a buy fixes the quote it spends, so it spends what its amount costs at the asks
    now, and the slippage bounds how much less base that may buy (``_market_buy``)."""
    ob = client.orderbook(m.base_token.address, m.quote_token.address)
    title, opposite, page = ("asks", Side.SELL, ob.asks)
    if side is Side.SELL:
        title, opposite, page = ("bids", Side.BUY, ob.bids)
    rows = book_rows(config, m, title, opposite, page)
    if not rows:
        raise ConsoleError(
            f"no {title} in {m.name}: a market {side.value} has nothing to take "
            "(send a limit order instead)"
        )
    best = rows[0][0]
    limit = best * Fraction(BPS + bps if side is Side.BUY else BPS - bps, BPS)
    said = (
        f"market {side.value}: best {title[:-1]} {fmt_price(best)} {m.quote}/{m.base}, "
        f"{bps} bps slippage: limit {fmt_price(limit)}, ioc"
    )
    if side is Side.SELL:
        out.print(said)
        return limit, amount
    return _market_buy(out, m, rows, amount, limit, said)


def _market_buy(
    out: Console,
    m: Market,
    asks: list[tuple[Fraction, OrderRecord]],
    amount: Fraction,
    limit: Fraction,
    said: str,
) -> tuple[Fraction, Fraction]:
    """A market buy of ``amount`` base: what the asks up to ``limit`` ask for it now, as
    the quote the order spends, for at least that quote over ``limit`` in base. Signed as
    ``amount`` at ``limit`` it spent the whole slippage budget at the best ask's price and
    got more base than asked (user30: 1.01 WETH for 2021.01 USDC for a buy of 1 WETH)."""
    b, q = m.base_token.decimals, m.quote_token.decimals
    need, cost = amount, Fraction(0)
    for price, rec in asks:
        if price > limit or need == 0:
            break
        take = min(need, remaining_amounts(m, Side.SELL, rec)[0])
        need, cost = need - take, cost + take * price
    spend = Fraction(math.ceil(cost * 10**q), 10**q)  # (whole quote units, up: all of it)
    least = Fraction(math.ceil(spend / limit * 10**b), 10**b)  # (up: never past the limit)
    got = amount - need
    offered = "" if need == 0 else f" (only {fmt_price(got)} {m.base} offered up to the limit)"
    out.print(
        f"{said}: {fmt_price(got)} {m.base} cost {fmt_price(spend)} {m.quote} at the asks "
        f"now{offered}; a buy fixes the {m.quote} it spends: signed to spend that for at "
        f"least {fmt_price(least)} {m.base}"
    )
    return spend / least, least


def decimal_word(text: str, name: str) -> Fraction:
    """PRICE or AMOUNT, refused in `sdex order`'s words (ux51: without click's "Invalid value
    for 'PRICE':" the console's error did not read as the command line's)."""
    try:
        return parse_decimal(text, name)
    except WalletInputError as e:
        raise WalletInputError(f"Invalid value for {name!r}: {e}") from None


def parse_bps(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) >= BPS:
        raise WalletInputError(
            "Invalid value for 'SLIPPAGE_BPS': SLIPPAGE_BPS is a whole number of bps, 0 to 9999, "
            f"got {text!r}"
        )
    return int(text)
