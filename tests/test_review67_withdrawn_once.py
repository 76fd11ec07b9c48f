"""review67: each match of a batch is judged withdrawn once (``withdrawn_from``), so one the
judgement changes for between two looks is either signed or reported, never neither.

take65 made the judgement move with the clock (an order expiring by ``soonest_landing``, read
from the wall clock at each call). ``withdrawn_from`` asked it three times a match (``any``,
then the withdrawn, then the kept): in a batch where another match was withdrawn, a match
whose order's expiry the clock passed between the second and third look was in neither list:
never signed, never reported, its orders' amounts held in flight for good. Here the clock is
a count of looks (the wall clock's second cannot be made to turn at that instant)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sdex.book.types import Side
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.settlement.take import withdrawn_from
from tests.fakenode import USDC, WETH, signed


def _match() -> Match:
    left, right = signed(WETH, USDC, 10, 20), signed(USDC, WETH, 20, 10)
    return Match(left, right, MatchAmounts(10, 20, 0, 0), Side.BID)


def test_a_match_the_clock_withdraws_between_two_looks_is_kept_or_reported() -> None:
    cancelled, expiring, other = _match(), _match(), _match()
    looks: Counter[int] = Counter()

    def withdrawn(batch: Sequence[Match]) -> dict[int, str]:
        """``cancelled`` soft-cancelled; ``expiring``'s expiry passed after its first look."""
        out = {}
        for i, m in enumerate(batch):
            looks[id(m)] += 1
            if m is cancelled or (m is expiring and looks[id(m)] > 1):
                out[i] = "cancelled"
        return out

    batch = [cancelled, expiring, other]
    kept, gone = withdrawn_from(batch, withdrawn)
    said = [id(m) for m in kept] + [id(r.match) for r in gone]
    assert sorted(said) == sorted(id(m) for m in batch), (kept, gone)
    assert [r.reason for r in gone] == ["cancelled"]  # (its reason as the node gave it)
    assert [r.match for r in gone] == [cancelled] and list(map(id, kept)) == [
        id(expiring),
        id(other),
    ]
