"""A bucket over the listing's bound is answered as a named run of its sorted hashes, and
the asker judges its own hashes inside the run (gossip70; ``sdex.gossip.listing``). Before,
it was a slice named in nothing: the asker judged none of the bucket, so an order it held
open there that its peer had soft-cancelled was never asked why (anti-entropy's repair of a
missed cancel). Unfunded orders are gossiped and need no funds: ~17 keys x 1,000 orders,
salts ground to one first byte, fill a bucket at every node and take every honest order
there out of the repair."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from sdex.gossip import GossipConfig
from sdex.gossip.flows import bucket_of
from sdex.gossip.listing import MAX_LISTED, listing
from sdex.sim.orders import OrderSet
from tests.p2putil import MemoryNode, Notice, gossip_net
from tests.test_stream import until

GROUND = [f"0x07{i:062x}" for i in range(MAX_LISTED + 1)]
"""Hashes ground into bucket 7: one more than an answer lists."""
WITHDRAWN = "0x07" + "ab" * 31
"""An honest order in that bucket, soft-cancelled at the peer (its place in the bucket:
after most of the ground hashes, so a slice from a random place seldom starts before it)."""
FLOOR, CEILING = "0x07" + "0" * 62, "0x07" + "f" * 62
PROOF = {"orderHash": WITHDRAWN, "signature": "0x" + "cd" * 65}
"""The maker's cancel as a node shows it (``orderHash``, as ``Peering.cancel_proofs``): keyed
``hash`` till gossip95, which no node sends and the asker no longer takes (gossip94: a fetch's
answer's cancel is taken only for a hash it asked why of; the rest cost the peer)."""


class Cancelling(MemoryNode):
    """A node that holds ``WITHDRAWN`` soft-cancelled: it refuses it from peers, and shows
    its maker's cancel to a peer that asks why it lacks it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked_why: set[str] = set()

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") == WITHDRAWN:
            return "known"  # (held cancelled here)
        return await super().submit_from_peer(obj, peer)

    async def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        asked = set(hashes)
        self.asked_why |= asked
        return [PROOF] if WITHDRAWN in asked else []


class Repaired(MemoryNode):
    """A node that missed the cancel: it holds ``WITHDRAWN`` open, and notes the cancels
    its peers deliver."""

    def __init__(self) -> None:
        super().__init__()
        self.cancels: list[Any] = []

    def cancel_notice(self, notice: object, peer: str) -> Notice:
        self.cancels.append(notice)
        return super().cancel_notice(notice, peer)


async def test_a_node_asks_why_of_its_order_in_a_bucket_over_the_bound() -> None:
    """Two real gossip drivers on loopback; both hold ``GROUND`` (16,385 hashes in one
    bucket), ``a`` also holds ``WITHDRAWN`` open, which ``b`` holds soft-cancelled. ``a``'s
    anti-entropy rounds with ``b`` ask why of it and ``a`` receives the maker's cancel
    (before: bucket 7 always came back as an unnamed slice; ``a`` never asked why)."""
    fast = GossipConfig(dial_interval=0.1, ae_interval=0.05)
    async with gossip_net(2, [fast, fast], makes=[Cancelling, Repaired]) as (b, a):
        assert isinstance(b.node, Cancelling) and isinstance(a.node, Repaired)
        for h in GROUND:
            a.node.add({"hash": h})
            b.node.add({"hash": h})
        a.node.add({"hash": WITHDRAWN})
        assert a.node.digest()[7] != b.node.digest()[7]
        await until(lambda: PROOF in a.node.cancels, 30)
        assert WITHDRAWN in b.node.asked_why
        assert b.node.asked_why <= {WITHDRAWN}  # (only its own order outside what b holds)


def test_an_over_full_bucket_is_a_named_contiguous_run_covering_every_hash() -> None:
    """The run is contiguous in the bucket's sorted hashes and named by its first and last
    (the bucket's floor or ceiling where it holds the first or last hash); over many
    answers every hash of the bucket, the first and last included, is in one."""
    ground = GROUND[:2000]
    view = OrderSet({"hash": h} for h in random.Random(2).sample(ground, len(ground)))
    rng, seen = random.Random(5), set()
    for _ in range(400):
        got = listing(view, [7], most=100, rng=rng)
        run = got["hashes"]
        i = ground.index(run[0])
        lo = FLOOR if i == 0 else run[0]
        hi = CEILING if i + len(run) == len(ground) else run[-1]
        assert got["buckets"] == [] and got["range"] == [7, lo, hi]
        assert 0 < len(run) <= 100 and {bucket_of(h) for h in run} == {7}
        assert run == ground[i : i + len(run)]  # (contiguous, sorted)
        seen.update(run)
    assert seen == set(ground)  # (the first and last included)
