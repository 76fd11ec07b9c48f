"""A hash is one identity whatever its case (gossip78). A peer's listing that writes its
hashes in upper case (a run of an over-full bucket, or whole buckets) named this node's own
copies as strings this node does not hold: each was taken for an order the peer lacks and
asked about every round, and the bucket never went quiet. Now each hash an answer lists is
lower-cased as it is read (``sdex.gossip.listing.named``); a ``range`` not in lower-case hex
is still refused as a lie (review76)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from sdex.gossip import routes
from sdex.gossip.budgets import PeerBudget
from sdex.gossip.listing import named
from tests.test_gossip74_quiet_runs import REFUSED
from tests.test_left76_walk import SOME, listing_pair
from tests.test_stream import until


def upper(h: str) -> str:
    return "0x" + h[2:].upper()


@pytest.fixture
def shouting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The answering node lists every hash in upper case (its ``range``, if any, as it was)."""
    listing = routes.listing

    def loud(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = listing(*args, **kwargs)
        answer["hashes"] = [upper(h) for h in answer["hashes"]]
        return answer

    monkeypatch.setattr(routes, "listing", loud)
    yield


@pytest.mark.parametrize("most", [1, 1_000], ids=["runs-of-one", "whole-bucket"])
async def test_an_upper_case_listing_goes_quiet_and_asks_nothing(shouting: None, most: int) -> None:
    """Two real gossip drivers on loopback; both hold ``SOME`` (bucket 7), the peer also
    ``REFUSED`` (the asker rejects it for good): nothing to fetch or ask about. The peer
    lists in upper case, bucket 7 whole (``most`` 1,000) or as runs of one hash. The
    bucket goes quiet (no listing of it for 20 rounds) and the asker asked the peer about
    none of its own orders. Before: each was asked about, and the bucket listed, every
    round."""
    async with listing_pair() as (p, a):
        p.gossip.listings = PeerBudget(1e6, most, most)
        asked: list[str] = []
        proofs = p.node.cancel_proofs

        async def noting(hashes: Iterable[str]) -> list[dict[str, str]]:
            hashes = list(hashes)
            asked.extend(hashes)
            return await proofs(hashes)

        p.node.cancel_proofs = noting  # type: ignore[method-assign]

        def quiet_for(rounds: int) -> bool:
            last = p.node.listed_at[-1] if p.node.listed_at else None
            return last is not None and a.node.digests - last >= 3 * rounds

        await until(lambda: quiet_for(20), 30)
        assert len(p.node.listed_at) <= 24, len(p.node.listed_at)
        assert asked == []
        assert REFUSED not in a.node.orders


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ([SOME[0]], {SOME[0]}),
        ([upper(SOME[0])], {SOME[0]}),
        (["0X" + SOME[0][2:].upper()], {SOME[0]}),
        ([SOME[0], upper(SOME[0])], {SOME[0]}),  # (one identity: once)
        ([SOME[0][:-1] + "g"], set()),
        ([SOME[0][:-1]], set()),
        ([7, None, ["x"], {"h": SOME[0]}], set()),
        (["1x" + SOME[0][2:]], set()),
    ],
)
def test_an_answers_hashes_are_taken_lower_cased_and_hashes_only(
    raw: list[Any], kept: set[str]
) -> None:
    assert named(raw) == kept
