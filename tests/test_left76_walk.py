"""The walk of a peer's over-full bucket moves on by at least a hash a run (left76): the
asker asks its next run ``from`` just above the last one's last hash. Before, from that hash:
a run of one hash (its asker's listing budget at the peer nearly spent) named the same hash
again, and the walk stalled for good (the bucket listed every round, never quiet)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip import GossipConfig
from sdex.gossip.budgets import PeerBudget
from sdex.gossip.listing import Walk, ceiling, floor, in_range, ranged, walked
from tests.p2putil import gossip_net
from tests.test_gossip74_quiet_runs import REFUSED, Listing, Refusing
from tests.test_stream import until

SOME = [f"0x07{i:02x}" + "5" * 60 for i in range(6)]
"""Hashes in bucket 7 both nodes hold (``REFUSED``, the peer's alone, sorts among them)."""


@asynccontextmanager
async def listing_pair() -> AsyncIterator[tuple[Any, Any]]:
    """Two real gossip drivers on loopback, a peer listing and an asker (its own rounds
    every 50 ms, the peer's never); both hold ``SOME`` (bucket 7), the peer also ``REFUSED``
    (the asker rejects it for good): nothing to fetch or ask about (gossip78 too)."""
    asker_cfg = GossipConfig(dial_interval=0.1, ae_interval=0.05)
    peer_cfg = GossipConfig(dial_interval=0.1, ae_interval=1e6)  # (its own rounds never run)
    async with gossip_net(2, [peer_cfg, asker_cfg], makes=[Listing, Refusing]) as (p, a):
        assert isinstance(p.node, Listing) and isinstance(a.node, Refusing)
        for h in SOME:
            p.node.add({"hash": h})
            a.node.add({"hash": h})
        p.node.add({"hash": REFUSED})
        p.node.asker = a.node
        yield p, a


async def test_a_walk_one_hash_a_run_reaches_the_ceiling_and_the_bucket_goes_quiet() -> None:
    """Two real gossip drivers on loopback; the peer answers the asker at most one hash a
    listing (its budget there nearly spent), so bucket 7 (7 hashes at the peer) is answered
    as runs of one. The walk reaches the ceiling and the bucket goes quiet: no listing of it
    for 20 rounds. Before: each run after the first was the same hash, and it was listed
    every round."""
    async with listing_pair() as (p, a):
        p.gossip.listings = PeerBudget(1e6, 1, 1)  # (one hash an answer: runs of one)

        def quiet_for(rounds: int) -> bool:
            last = p.node.listed_at[-1] if p.node.listed_at else None
            return last is not None and a.node.digests - last >= 3 * rounds

        await until(lambda: quiet_for(20), 30)
        assert len(p.node.listed_at) <= 24, len(p.node.listed_at)  # (a walk or three of 8)
        assert REFUSED not in a.node.orders


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(0, 2**248 - 1), min_size=2, max_size=60),
    st.integers(1, 8),
)
def test_a_walk_from_the_floor_covers_the_bucket_in_adjacent_spans(
    values: set[int], most: int
) -> None:
    """Any bucket (its floor and ceiling hashes among them or not), any run length: the
    asker's walk (``walked``) asks each run from just above the last one's end; no hash is
    missed or shown twice, and the bucket is quiet within one run more than its hashes
    need."""
    hashes = sorted(f"0x07{v:062x}" for v in values)
    if len(hashes) <= most:
        return
    walks: dict[int, Walk] = {}
    quiet: dict[int, tuple[str, str, tuple[str, ...]]] = {}
    digests = (["theirs"] * 256, (["ours"] * 256, ["ours"] * 256))
    seen: list[str] = []
    for _ in range(-(-len(hashes) // most) + 1):
        at = walks[7][2] if 7 in walks else floor(7)
        got = ranged(7, hashes, most, random.Random(0), at)
        _b, lo, hi = got["range"]
        assert lo == at and all(lo <= h <= hi for h in got["hashes"])
        seen += got["hashes"]
        walked(walks, quiet, (7, lo, hi), digests, [], 100)
        if hi == ceiling(7):
            break
    assert seen == hashes and quiet == {7: ("theirs", "ours", ())}


def test_a_run_naming_a_hash_that_is_not_hex_is_a_lie() -> None:
    """(``walked`` reads its last hash as a number.)"""
    bad = "0x07" + "zz" * 31
    with pytest.raises(ValueError):
        in_range({"range": [7, floor(7), bad]}, {7}, [])
