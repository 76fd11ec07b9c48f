"""review72: the signature's check (``sdex.settlement.take.still``, hold70) against a
reference: a batch's matches held back (``back``), withdrawn or unpaid (``gone``, with why)
and left (``kept``), each match in exactly one, each part in the batch's order; nothing raised
only when none is held, withdrawn nor unpaid. Random batches over a few orders (a match
shares its orders with others, as the same ask's fills do)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.fillmath import match_amounts
from sdex.matching.match import Match
from sdex.model import Side
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from sdex.settlement.take import UNPAID_WHY, WITHDRAWN_WHY, Withdrawn, still

WETH, USDC = "0x" + "aa" * 20, "0x" + "bb" * 20
E18, E6 = 10**18, 10**6


def order(i: int, sell: str, buy: str, amount: int, price: int) -> SignedOrder:
    o = Order("0x" + "22" * 20, ZERO_ADDRESS, sell, buy, amount, price, ZERO_ADDRESS, 0, 2**40, i)
    return SignedOrder(o, bytes(65), i.to_bytes(32, "big"))


ASKS = [order(i, WETH, USDC, 9 * E18, 3000 * E6) for i in range(4)]
BIDS = [order(10 + i, USDC, WETH, 3000 * E6, E18) for i in range(4)]
AMOUNTS = match_amounts(E18, 3000 * E6, 0, 0, 3000 * E6, E18, 0, 0, E18)

pairs = st.tuples(st.integers(0, 3), st.integers(0, 3))
hashes = st.frozensets(st.sampled_from([so.hash for so in (*ASKS, *BIDS)]), max_size=3)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(pairs, min_size=1, max_size=12),
    hashes,
    st.frozensets(st.integers(0, 11)),
    st.frozensets(st.integers(0, 11)),
)
def test_each_match_of_a_batch_in_exactly_one_part(
    spec: list[tuple[int, int]], held: frozenset[bytes], out: frozenset[int], short: frozenset[int]
) -> None:
    batch = [Match(ASKS[a], BIDS[b], AMOUNTS, Side.BID) for a, b in spec]
    at = {id(m): i for i, m in enumerate(batch)}  # (equal matches: told apart by identity)

    def withdrawn(ms: Sequence[Match]) -> Mapping[int, str]:
        return {i: WITHDRAWN_WHY for i, m in enumerate(ms) if at[id(m)] in out}

    def unpaid(ms: Sequence[Match]) -> set[int]:
        return {i for i, m in enumerate(ms) if at[id(m)] in short}

    is_held = [not held.isdisjoint((m.resting.hash, m.incoming.hash)) for m in batch]
    # the reference: held ones first (nothing else judged then), else withdrawn, then unpaid
    back = [m for m, h in zip(batch, is_held, strict=True) if h]
    if back:
        ref = ([m for m, h in zip(batch, is_held, strict=True) if not h], [], back)
    else:
        gone = [(m, WITHDRAWN_WHY) for i, m in enumerate(batch) if i in out] + [
            (m, UNPAID_WHY) for i, m in enumerate(batch) if i in short and i not in out
        ]  # (the withdrawn, then of those left the unpaid)
        ref = ([m for i, m in enumerate(batch) if i not in out and i not in short], gone, [])
    try:
        still(batch, withdrawn, unpaid, lambda: held)
    except Withdrawn as w:
        got = (w.kept, [(r.match, r.reason) for r in w.gone], w.back)
        assert all(r.withdrawn and r.unsent for r in w.gone)
        parts = [*w.kept, *(r.match for r in w.gone), *w.back]
        assert sorted(map(id, parts)) == sorted(map(id, batch))  # (each exactly once)
        assert [[id(m) for m in p] for p in (got[0], [m for m, _ in got[1]], got[2])] == [
            [id(m) for m in p] for p in (ref[0], [m for m, _ in ref[1]], ref[2])
        ]
        assert [why for _, why in got[1]] == [why for _, why in ref[1]]
    else:
        assert ref == (batch, [], []), "a match held, withdrawn or unpaid was let through"
