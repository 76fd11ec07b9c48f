"""The book's bounds an order must keep to be accepted (``Intake.over_limit``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Limits:
    max_orders_per_maker: int = 1_000
    max_orders: int = 200_000
    """Open orders that can trade now (``unfunded`` ones are bounded by ``max_unfunded``)."""
    max_restricted_orders: int = 20_000
    """Open orders restricted to one taker (``taker`` not 0x0) that can trade now, in all
    (``RESTRICTED_LIMIT``). They rest apart from the public ladders, in their taker's private
    ladder (book49, ``BookSide.private``): no public order's walk nor ``uncross`` meets them,
    only the walks of their taker's orders, so this bounds memory (they count in
    ``max_orders`` too) and ``uncross``'s look at each private ladder (one per taker and
    side: O(the taker's open orders of the token): 0.2 ms for 1,000 ladders, 7 ms for 20,000,
    a taker each, book49's bench), not every walk's cost as the 500 before it did (walk46:
    ~30 ns each per crossing order). 40x that 500: filling it takes 800 funded keys
    (``max_restricted_per_maker``), not 20."""
    max_restricted_per_maker: int = 25
    """Open orders of one maker restricted to one taker (``RESTRICTED_LIMIT``): one key
    takes at most 1/800 of ``max_restricted_orders``."""
    max_restricted_per_taker: int = 1_000
    """Open orders restricted to one taker (``RESTRICTED_LIMIT``): the most its orders'
    walks meet beyond the public ladders, and its ``takerAddress`` view reads (as many as
    one maker may rest, ``max_orders_per_maker``). Filling it locks out that taker only, and
    takes 40 funded keys: those held ``unfunded`` (parked, no walk meets them) do not count
    (left60: one bankroll passed from key to key filled it with parked orders and locked
    the taker out for a transfer a key). Funded again, parked ones rest past it, as past
    ``max_restricted_orders`` (within ``max_restricted_unfunded``: capital for each)."""
    max_restricted_unfunded: int = 20_000
    """Open orders restricted to one taker held ``unfunded`` (not counted in
    ``max_restricted_orders``): past it they are closed as at ``max_unfunded`` (the
    maker holding the most first; ``removed``, ``evicted: ...``). Funded again they rest
    in the ladders with no check, so without it a maker's funds moved on to the next
    maker took any number past ``max_restricted_orders`` (review48); with it, at most
    the two together trade."""
    expiry_margin: int = 2
    """Seconds of life an order must have left beyond the latest block's timestamp."""
    min_amounts: dict[str, int] = field(default_factory=dict)
    """The least amount of a token (lowercase address: base units) an order may sell or
    ask for, and the least a maker must hold of what it sells for each of its open orders
    of it (none for a token not named). ``sdex node`` sets one for every listed token."""
    max_unfunded: int = 50_000
    """Open orders held ``unfunded`` (they cannot trade now): past it those of the maker
    holding the most are closed (of makers holding as many, the one unfunded longest: review52),
    its longest unfunded first (``removed``, reason ``evicted:
    ...``; attack50: the longest unfunded of anyone's went first, so keys passing one
    bankroll on closed every honest maker's; left60: a maker with an order that can trade
    loses last, keys of one order each took a market maker's levels past its balance
    first). They do not count in ``max_orders``."""
    max_cancelled_per_peer: int = 10_000
    """A peer's soft-cancelled orders a bootstrap stores (``NodePeering.take_cancelled_many``)
    while the node runs: rows kept for good, listed and served on; fresh keys' orders cost a
    hostile seed nothing, so only a count bounds them (~10 MB of rows, 1/20 of
    ``max_orders``). An honest seed's cancels past it are not learned at the boot."""

    def minimum(self, token: str) -> int:
        return self.min_amounts.get(token, 0)
