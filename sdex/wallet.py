"""The wallet side of SDEX: a human limit order ("buy 1.5 WETH at 2000.5 USDC") turned into
exact order amounts, built for a node's ``order_config`` and signed; soft cancels signed.

No I/O here: ``sdex.cli`` fetches the config and posts the results. Every amount is an int or
an exact ``Fraction``; rounding always keeps the maker's limit price (PRODUCT.md section 1):

- a buy gives quote for base: its limit is the most quote per base, so ``makerAmount`` (quote)
  is rounded down;
- a sell gives base for quote: its limit is the least quote per base, so ``takerAmount``
  (quote) is rounded up.

The base amount itself is never rounded: an AMOUNT finer than the base token's decimals is
refused, since silently trading a different size would surprise the user.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sdex.client import OrderConfig
from sdex.deployment import TokenInfo
from sdex.errors import SdexError
from sdex.model import WalletSide
from sdex.order import (
    MAX_MAKER_AMOUNT,
    SECP256K1_N,
    UINT64_MAX,
    UINT256_MAX,
    ZERO_ADDRESS,
    Domain,
    Order,
    SignedOrder,
    address_of,
    random_salt,
    sign_hash,
    sign_order,
    to_checksum,
)

Side = WalletSide
"""(``sdex.model.WalletSide``, under the name this module has always exported.)"""

DEFAULT_EXPIRY = 3600
DEFAULT_PAIR = "WETH/USDC"
BPS = 10_000

# Plain positive decimals only: no sign, exponent, NaN, infinity or digit separators.
_DECIMAL_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
_MAX_DIGITS = 100  # far beyond any uint256 amount, short of a denial-of-service string
_KEY_RE = re.compile(r"(?:0x)?([0-9a-fA-F]{64})\Z")
_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}\Z")


class WalletInputError(SdexError, ValueError):
    """A human input (price, amount, pair, key, hash) that cannot become a valid order."""


@dataclass(frozen=True, slots=True)
class Market:
    """A pair as listed by a node: ``base``/``quote`` symbols and their tokens."""

    base: str
    quote: str
    base_token: TokenInfo
    quote_token: TokenInfo

    @property
    def name(self) -> str:
        return f"{self.base}/{self.quote}"

    def side_of(self, order: Order) -> Side | None:
        """BUY if the order gives quote for base, SELL if base for quote, None if neither."""
        tokens = (order.maker_token, order.taker_token)
        if tokens == (self.quote_token.address, self.base_token.address):
            return Side.BUY
        if tokens == (self.base_token.address, self.quote_token.address):
            return Side.SELL
        return None

    def base_and_quote(self, side: Side, maker_amount: int, taker_amount: int) -> tuple[int, int]:
        """(base units, quote units) of amounts given and taken by an order on ``side``."""
        if side is Side.BUY:
            return taker_amount, maker_amount
        return maker_amount, taker_amount

    def price(self, base_units: int, quote_units: int) -> Fraction:
        """Human quote per human base, exact."""
        return Fraction(
            quote_units * 10**self.base_token.decimals, base_units * 10**self.quote_token.decimals
        )

    def order_price(self, side: Side, order: Order) -> Fraction:
        """An order's limit price in human quote per base."""
        return self.price(*self.base_and_quote(side, order.maker_amount, order.taker_amount))


@dataclass(frozen=True, slots=True)
class LimitAmounts:
    """``makerAmount``/``takerAmount`` for a human limit order, in token base units."""

    maker_amount: int
    taker_amount: int


def parse_decimal(text: str, name: str) -> Fraction:
    """A positive plain decimal string (``"2000.5"``, ``"0.25"``) as an exact ``Fraction``."""
    s = text.strip()
    if len(s) > _MAX_DIGITS or not _DECIMAL_RE.match(s):
        raise WalletInputError(f"{name} must be a plain positive decimal like 2000.5, got {text!r}")
    value = Fraction(Decimal(s))
    if value <= 0:
        raise WalletInputError(f"{name} must be greater than zero, got {text!r}")
    return value


def parse_key(text: str) -> bytes:
    """A 32-byte secp256k1 private key from hex (``0x`` optional), checked to be on the curve."""
    m = _KEY_RE.match(text.strip())
    if m is None:
        said = "the key must be 32 bytes of hex (64 hex digits, 0x optional)"
        if re.fullmatch(r"(0x)?[0-9a-fA-F]{40}", text.strip()):  # (user27: a common slip)
            said += ": that is an address (20 bytes), not a private key"
        raise WalletInputError(said)
    key = bytes.fromhex(m.group(1))
    if not 0 < int.from_bytes(key, "big") < SECP256K1_N:
        raise WalletInputError("the key is not a valid secp256k1 private key (0 or >= n)")
    return key


def parse_order_hash(text: str) -> bytes:
    """An order hash: ``0x`` and 64 hex digits."""
    if not _HASH_RE.match(text.strip()):
        raise WalletInputError(f"an order hash is 0x and 64 hex digits, got {text!r}")
    return bytes.fromhex(text.strip()[2:])


def split_pair(text: str) -> tuple[str, str]:
    """``"weth/usdc"`` → ``("WETH", "USDC")``; refuses anything but two different symbols."""
    parts = [p.strip().upper() for p in text.split("/")]
    if len(parts) != 2 or not all(parts):
        raise WalletInputError(f"a pair is BASE/QUOTE like {DEFAULT_PAIR}, got {text!r}")
    if parts[0] == parts[1]:
        raise WalletInputError(f"the pair {text!r} names the same token twice")
    return parts[0], parts[1]


def parse_pair(text: str, config: OrderConfig) -> Market:
    """``"WETH/USDC"`` (case-insensitive) resolved against the markets the node lists, its
    symbols spelled as the node lists them (``USDC.e``, not ``USDC.E``: wallet74).

    The one pair vocabulary of every wallet command and the console: a pair the node lists
    the other way round (``USDC/WETH`` for ``WETH/USDC``) is refused, naming the listed one,
    never silently flipped (a buy of one is a sell of the other, at the inverse price).
    """
    typed = split_pair(text)
    spelled = {sym.upper(): sym for sym in config.tokens}  # (distinct without case: answers)
    for sym in typed:
        if sym not in spelled:
            listed = ", ".join(sorted(config.tokens)) or "none"
            shown = next(p.strip() for p in text.split("/") if p.strip().upper() == sym)
            raise WalletInputError(f"the node does not list token {shown} (it lists: {listed})")
    base, quote = (spelled[sym] for sym in typed)
    markets = {(b.upper(), q.upper()) for b, q in config.pairs}
    if typed not in markets:
        if typed[::-1] in markets:
            raise WalletInputError(
                f"{base}/{quote} is not a listed market; the node lists {quote}/{base}: use "
                f"--pair {quote}/{base} (prices in {base} per {quote}, amounts in {quote}; "
                f"buying {base} there is selling {quote})"
            )
        names = ", ".join(f"{b}/{q}" for b, q in config.pairs) or "none"
        raise WalletInputError(f"the node does not list {base}/{quote} (it lists: {names})")
    return Market(base, quote, config.tokens[base], config.tokens[quote])


def to_units(value: Fraction, decimals: int, name: str, symbol: str) -> int:
    """A human amount in token base units; refuses amounts finer than the token's decimals."""
    units = value * Fraction(10**decimals)
    if units.denominator != 1:
        raise WalletInputError(
            f"{name} {_plain(value)} has more decimal places than {symbol}'s {decimals}"
        )
    return units.numerator


def limit_amounts(side: Side, price: Fraction, amount: Fraction, market: Market) -> LimitAmounts:
    """Exact order amounts for ``side`` ``amount`` base at limit ``price`` quote per base.

    The signed price never crosses the human limit: a buy's quote is rounded down, a sell's
    rounded up. Amounts that round to nothing are refused.
    """
    if price <= 0 or amount <= 0:
        raise WalletInputError("PRICE and AMOUNT must be greater than zero")
    b, q = market.base_token, market.quote_token
    base_units = to_units(amount, b.decimals, "AMOUNT", market.base)
    quote_exact = price * base_units * 10**q.decimals / 10**b.decimals
    if side is Side.BUY:
        quote_units = math.floor(quote_exact)
        if quote_units == 0:
            raise WalletInputError(
                f"buying {_plain(amount)} {market.base} at {_plain(price)} costs less than one "
                f"unit of {market.quote} (10^-{q.decimals}): raise AMOUNT or PRICE"
            )
        maker, taker = quote_units, base_units
    else:
        quote_units = math.ceil(quote_exact)
        maker, taker = base_units, quote_units
    if maker > MAX_MAKER_AMOUNT or taker > UINT256_MAX:
        raise WalletInputError("PRICE × AMOUNT is too large for a uint256 order amount")
    for units, token, symbol in ((base_units, b, market.base), (quote_units, q, market.quote)):
        if units < token.min_amount:  # (the node's 400 BELOW_MINIMUM, said before signing)
            raise WalletInputError(
                f"{fmt_amount(units, token.decimals)} {symbol} is below this node's minimum "
                f"order size, {fmt_amount(token.min_amount, token.decimals)} {symbol}: "
                "raise AMOUNT" + (" or PRICE" if token is q else "")
            )
    return LimitAmounts(maker, taker)


def token_line(symbol: str, token: TokenInfo) -> str:
    """A listed token for ``sdex devnet``: symbol, address, decimals and the minimum order
    size the deployment gives it (the nodes' default)."""
    least = token.min_amount
    said = f"; minimum order {fmt_amount(least, token.decimals)} {symbol}" if least else ""
    return f"{symbol:5} {to_checksum(token.address)} ({token.decimals} decimals{said})"


MAX_FEE_BPS = 100
"""The largest fee a wallet command signs unless told otherwise (``--max-fee-bps``): 1% of
what an order receives. The fee is the node's to name (``order_config.feeBps``, up to 100%)
and was signed as named, with no question asked: a node asking 50% took half of what every
order received, said only in the line printed as the order was signed and posted
(review77b)."""


def fee_for(taker_amount: int, fee_bps: int) -> int:
    """The node's fee: ``feeBps`` of the taker amount, rounded down (what the node asks)."""
    return taker_amount * fee_bps // BPS


def build_order(
    config: OrderConfig,
    market: Market,
    side: Side,
    price: Fraction,
    amount: Fraction,
    maker: str,
    *,
    expiry: int,
    salt: int,
) -> Order:
    """The unsigned order for a human limit order, paying the node's fee, open to any taker."""
    if not 0 < expiry <= UINT64_MAX:
        raise WalletInputError(f"expiry {expiry} is outside uint64")
    amounts = limit_amounts(side, price, amount, market)
    b, q = market.base_token.address, market.quote_token.address
    maker_token, taker_token = (q, b) if side is Side.BUY else (b, q)
    fee = fee_for(amounts.taker_amount, config.fee_bps)
    return Order(
        maker=maker,
        taker=ZERO_ADDRESS,
        maker_token=maker_token,
        taker_token=taker_token,
        maker_amount=amounts.maker_amount,
        taker_amount=amounts.taker_amount,
        fee_recipient=config.fee_recipient if config.fee_bps else ZERO_ADDRESS,
        fee_amount=fee,
        expiry=expiry,
        salt=salt,
    )


def sign_limit_order(
    config: OrderConfig,
    market: Market,
    side: Side,
    price: Fraction,
    amount: Fraction,
    key: bytes,
    *,
    expiry_seconds: int = DEFAULT_EXPIRY,
    now: int | None = None,
    salt: int | None = None,
) -> SignedOrder:
    """Build and sign (EIP-712, as ``eth_signTypedData_v4``) in the config's domain.

    ``OrderConfig.from_json`` already refused a config whose domain or types differ from what
    ``sdex.order`` computes, so the digest signed here is the one any wallet would sign.
    """
    if expiry_seconds <= 0:
        raise WalletInputError("the expiry must be a positive number of seconds")
    now = int(time.time()) if now is None else now
    if now + expiry_seconds > UINT64_MAX:  # (ux70: it read "expiry <now + it> is outside uint64")
        raise WalletInputError(
            f"--expiry {expiry_seconds} ends past the latest expiry an order can carry (unix "
            f"{UINT64_MAX}): at most {UINT64_MAX - now} seconds from now"
        )
    order = build_order(
        config,
        market,
        side,
        price,
        amount,
        address_of(key),
        expiry=now + expiry_seconds,
        salt=random_salt() if salt is None else salt,
    )
    return sign_order(order, config.domain, key)


def sign_cancel(domain: Domain, order_hash: bytes, key: bytes) -> bytes:
    """The maker's soft-cancel signature: EIP-712 ``CancelOrder(bytes32 orderHash)``."""
    if len(order_hash) != 32:
        raise WalletInputError("an order hash is 32 bytes")
    return sign_hash(domain.cancel_digest(order_hash), key)


def fmt_amount(units: int, decimals: int) -> str:
    """Token base units as an exact human decimal (``1500000`` with 6 decimals → ``1.5``)."""
    return _plain(Fraction(units, 10**decimals))


def fmt_price(price: Fraction, places: int = 8) -> str:
    """A price for display: exact when it terminates within ``places`` decimals counted from
    its first significant digit (below 0.1: past its leading zeros), else rounded half-even
    there and marked with ``~``. (8 places after the point alone showed 0.000000001 as
    "~0": user25.) ``fmtPrice`` in sdex/web/static/units.js is its twin."""
    places += _leading_zeros(price)
    exact = _decimal_places(price.denominator)
    if exact is not None and exact <= places:
        return _plain(price)
    return "~" + _plain(Fraction(round(price * 10**places), 10**places))


def _leading_zeros(value: Fraction) -> int:
    """The zeros between the point and the first significant digit of ``0 < value < 0.1``
    (0.00012 → 3); 0 otherwise."""
    zeros = 0
    if value > 0:
        while value * 10 ** (zeros + 1) < 1:
            zeros += 1
    return zeros


def _decimal_places(denominator: int) -> int | None:
    """How many decimal places a fraction with this (reduced) denominator needs; None if its
    expansion never ends (a prime factor other than 2 and 5)."""
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    return max(twos, fives) if denominator == 1 else None


def _plain(value: Fraction) -> str:
    """A ``Fraction`` as a plain decimal without trailing zeros (exact when it terminates,
    else rounded half-even to 18 places). Never scientific notation."""
    places = _decimal_places(value.denominator)
    if places is None:
        places = 18
        value = Fraction(round(value * 10**places), 10**places)
    digits = abs(value.numerator) * 10**places // value.denominator
    whole, frac = divmod(digits, 10**places)
    text = str(whole) + ("." + str(frac).rjust(places, "0").rstrip("0") if frac else "")
    return ("-" if value < 0 else "") + text
