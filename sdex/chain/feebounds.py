"""EIP-1559's bounds of a base fee (``sdex.chain.headsignal``'s arithmetic): how far a block's
base fee may move from a fee read at another block (each block at most an eighth above, at
least 1 wei, or below its parent's), and a block's fee as the RPC gives it. ``HeadSignal``
holds what was read and judges each new fee by these; they hold no state."""

from __future__ import annotations

FEE_STEPS = 4
"""Blocks past the last base fee read from the chain an announced one may be and be used
(within EIP-1559's bounds of it); further, the fee is read. A fee at the low bound two
blocks on signs a fee cap (twice it) above the highest the chain may have by then. Also
how far below the last read a read fee may be (a lagging backend's), and past the head the
node knows (``HeadSignal.known``)."""
REACH = 2_000
"""Blocks past which EIP-1559's bounds of any fee hold every fee of 256 bits (``reaches``)."""


def within(read: tuple[int, int], number: int, fee: int) -> str:
    """Whether ``fee`` may be block ``number``'s by EIP-1559 from ``read`` (block, base fee:
    each block at most an eighth above, at least 1 wei, or below its parent's): "within",
    "outside", or "none" when ``read`` does not bound it (an older block's, or more than
    ``FEE_STEPS`` blocks below it)."""
    at, lo = read
    steps, hi = number - at, lo
    if not 0 <= steps <= FEE_STEPS:
        return "none"
    for _ in range(steps):
        lo, hi = lo - lo // 8, hi + max(hi // 8, 1)
    return "within" if lo <= fee <= hi else "outside"


def reaches(read: tuple[int, int], number: int, fee: int) -> bool:
    """Whether ``fee`` may be block ``number``'s (at or past ``read``'s block) by EIP-1559
    from ``read`` (block, base fee), however many blocks on (``within``'s steps, at most
    ``REACH``: the bounds only widen)."""
    at, lo = read
    hi = lo
    for _ in range(min(number - at, REACH)):
        if lo <= fee <= hi:
            return True
        if fee < lo < 8:  # (the fall stops at 7 wei: never, review93b)
            return False
        lo, hi = lo - lo // 8, hi + max(hi // 8, 1)
    return lo <= fee <= hi


def highest(read: tuple[int, int], number: int, above: int | None = None) -> int:
    """The highest base fee block ``number`` may have by EIP-1559 from ``read`` (block, base
    fee; at most ``REACH`` blocks on); once it passes ``above`` (given), that far only.
    review93b: a floor held by a fee jump looped all ``REACH`` steps at each header read."""
    at, hi = read
    for _ in range(min(max(number - at, 0), REACH)):
        if above is not None and hi > above:
            break
        hi += max(hi // 8, 1)
    return hi


def base_fee_of(raw: object) -> int | None:
    """``baseFeePerGas`` of a block or header as the RPC gives it; None when absent or not
    a hex quantity of at most 256 bits."""
    fee = raw.get("baseFeePerGas") if isinstance(raw, dict) else None
    if not isinstance(fee, str) or not fee.startswith("0x") or not 2 < len(fee) <= 66:
        return None
    try:
        return int(fee, 16)
    except ValueError:
        return None
