"""An over-full bucket (more hashes than one listing answers: answered as a named run of its
sorted hashes, gossip70) goes quiet between two nodes that differ there only by an order one
of them refused for good (gossip74; ``sdex.gossip.listing.walked``). Before, such a bucket
was never quiet: its digest covers hashes a run does not show, and the asker listed ~16,000
hashes of it from its peer every anti-entropy round, forever."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest

from sdex.gossip import GossipConfig
from sdex.gossip.listing import MAX_LISTED, ceiling, floor, listing_budget, ranged, starts_of
from tests.p2putil import MemoryNode, gossip_net
from tests.test_stream import until

GROUND = [f"0x07{i:062x}" for i in range(MAX_LISTED + 1)]
"""Hashes in bucket 7: one more than an answer lists."""
REFUSED = "0x07" + "ab" * 31
"""An order in bucket 7 the asker rejects for good (a token it does not list, say)."""
LATER = "0x07" + "cd" * 31
"""An order the peer takes later (not pushed): anti-entropy must still bring it."""


class Refusing(MemoryNode):
    """The asker: rejects ``REFUSED`` for good; counts its rounds (each reads its digest)."""

    def __init__(self) -> None:
        super().__init__()
        self.digests = 0

    def digest(self) -> list[str]:
        self.digests += 1
        return super().digest()

    def refused(self, peer: str, hash_hex: str) -> bool:
        return hash_hex == REFUSED

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") == REFUSED:
            return "rejected"
        return await super().submit_from_peer(obj, peer)


class Listing(MemoryNode):
    """The peer: notes when it lists bucket 7 (as the asker's round count stood)."""

    def __init__(self) -> None:
        super().__init__()
        self.listed_at: list[int] = []
        self.asker: Refusing | None = None

    def hashes_in(self, buckets: Iterable[int]) -> list[str]:
        buckets = list(buckets)
        if 7 in buckets and self.asker is not None:
            self.listed_at.append(self.asker.digests)
        return super().hashes_in(buckets)


async def test_an_over_full_bucket_that_differs_only_by_a_refused_order_goes_quiet() -> None:
    """Two real gossip drivers on loopback; both hold ``GROUND`` (16,385 hashes in bucket 7),
    the peer also ``REFUSED``, which the asker rejects for good: nothing in bucket 7 to
    fetch, but the digests differ. The asker stops listing bucket 7 once it walked it (60
    reads of its digest, 20 rounds or more, with no listing of it); a later order there
    still comes by anti-entropy. Before: listed every round."""
    asker_cfg = GossipConfig(dial_interval=0.1, ae_interval=0.05)
    peer_cfg = GossipConfig(dial_interval=0.1, ae_interval=1e6)  # (its own rounds never run)
    async with gossip_net(2, [peer_cfg, asker_cfg], makes=[Listing, Refusing]) as (p, a):
        assert isinstance(p.node, Listing) and isinstance(a.node, Refusing)
        for h in GROUND:
            p.node.add({"hash": h})
            a.node.add({"hash": h})
        p.node.add({"hash": REFUSED})
        p.node.asker = a.node
        p.gossip.listings = listing_budget(0.05)  # (its answers' budget: as the asker's rounds)
        assert a.node.digest()[7] != p.node.digest()[7]

        def quiet_for(rounds: int) -> bool:
            last = p.node.listed_at[-1] if p.node.listed_at else None
            return last is not None and a.node.digests - last >= 3 * rounds

        await until(lambda: quiet_for(20), 30)
        listed = len(p.node.listed_at)
        assert listed <= 8, listed  # (a walk or two: runs of 16,384 and the rest)
        p.node.add({"hash": LATER})  # (the peer's bucket moves: listed again)
        await until(lambda: LATER in a.node.orders, 30)
        assert REFUSED not in a.node.orders


def test_a_run_asked_from_a_hash_starts_there_and_its_span_too() -> None:
    """With ``from`` the run starts at the first hash not below it and its span at it (none
    held between); from the floor, or below the first hash, it names the floor; past the
    last hash it is empty and reaches the ceiling. Walking from each run's last hash covers
    the bucket with overlapping spans."""
    hashes = sorted(GROUND[:1000:3])
    rng = random.Random(1)
    got = ranged(7, hashes, 100, rng, floor(7))
    assert got["hashes"] == hashes[:100] and got["range"] == [7, floor(7), hashes[99]]
    between = f"0x07{int(hashes[5], 16) % 2**248 + 1:062x}"  # (after hashes[5], before [6])
    got = ranged(7, hashes, 100, rng, between)
    assert got["hashes"] == hashes[6:106] and got["range"] == [7, between, hashes[105]]
    got = ranged(7, hashes, 100, rng, ceiling(7))
    assert got["hashes"] == [] and got["range"] == [7, ceiling(7), ceiling(7)]
    at, seen, spans = floor(7), [], 0
    while True:
        got = ranged(7, hashes, 100, rng, at)
        _b, lo, hi = got["range"]
        assert lo == at and hashes.index(got["hashes"][0]) >= 0
        seen += got["hashes"]
        spans += 1
        if hi == ceiling(7):
            break
        at = hi
    assert set(seen) == set(hashes) and spans == 4


@pytest.mark.parametrize(
    "raw",
    [
        "x",
        {"7": GROUND[0]},
        [[7]],
        [[7, GROUND[0], 1]],
        [[256, GROUND[0]]],
        [[-1, GROUND[0]]],
        [[True, GROUND[0]]],
        [[8, GROUND[0]]],  # (a hash of another bucket)
        [[7, GROUND[0][:-1]]],
        [[7, 5]],
        [[7, GROUND[0]]] * 257,
    ],
)
def test_a_malformed_from_is_refused(raw: Any) -> None:
    with pytest.raises(ValueError, match="from"):
        starts_of(raw)


def test_a_well_formed_from_is_taken_lower_cased() -> None:
    assert starts_of(None) == {}
    assert starts_of([[7, GROUND[3].upper().replace("0X", "0x")]]) == {7: GROUND[3]}
