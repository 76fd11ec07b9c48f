"""The book's bounds an order must keep to be accepted (``Intake.over_limit``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Limits:
    max_orders_per_maker: int = 1_000
    max_orders: int = 200_000
    """Open orders that can trade now (``unfunded`` ones are bounded by ``max_unfunded``)."""
    max_restricted_orders: int = 2_000
    """Open orders restricted to one taker (``taker`` not 0x0) that can trade now, in all
    (``RESTRICTED_LIMIT``; walk46). They rest in the ladders every crossing order walks and
    ``uncross`` reads, which skip them but look at each: 10,000 of them, each at its own
    price, cost 360 us a walk and up to 441 ms an ``uncross`` (after every block and every
    0.125 s). 2,000 keep that to a fifth (about 75 us a walk, the cost of a signature's
    recovery), and are far more than the few quotes for named counterparties honest
    makers rest. They count in ``max_orders`` too."""
    max_restricted_per_maker: int = 50
    """Open orders of one maker restricted to one taker (``RESTRICTED_LIMIT``): one maker
    (one key) takes at most 1/40 of ``max_restricted_orders``, so filling it needs 40
    funded makers."""
    expiry_margin: int = 2
    """Seconds of life an order must have left beyond the latest block's timestamp."""
    min_amounts: dict[str, int] = field(default_factory=dict)
    """The least amount of a token (lowercase address: base units) an order may sell or
    ask for, and the least a maker must hold of what it sells for each of its open orders
    of it (none for a token not named). ``sdex node`` sets one for every listed token."""
    max_unfunded: int = 50_000
    """Open orders held ``unfunded`` (they cannot trade now): past it the longest unfunded
    are closed (``removed``, reason ``evicted: ...``). They do not count in ``max_orders``."""
    max_cancelled_per_peer: int = 10_000
    """A peer's soft-cancelled orders a bootstrap stores (``NodePeering.take_cancelled_many``)
    while the node runs: rows kept for good, listed and served on; fresh keys' orders cost a
    hostile seed nothing, so only a count bounds them (~10 MB of rows, 1/20 of
    ``max_orders``). An honest seed's cancels past it are not learned at the boot."""

    def minimum(self, token: str) -> int:
        return self.min_amounts.get(token, 0)
