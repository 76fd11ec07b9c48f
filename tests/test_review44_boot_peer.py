"""review44: a (re)starting node takes its soft cancels (and open orders) from a seed it
dialled, not from a stranger that said hello while it booted.

The bootstrap's one peer was drawn from every peer admitted by then: a stranger that
introduced itself during the boot (its URL dialled back by the dial timer while the seeds'
hellos were still out: a seed slow to answer, or restarting) could be drawn, answer an
empty ``/p2p/cancelled`` page, and the node then took wallets' orders without the cancels it
missed (attack38: a withdrawn order posted to it and taken). The gossip core as the node
runs it (sans I/O: its calls answered here as a peer would)."""

from __future__ import annotations

import random

from sdex.gossip.actions import Call, GossipConfig
from sdex.gossip.core import GossipCore
from tests.p2putil import Book
from tests.test_gossip_core import ME, Clock, ok, only, peer_id, url

STRANGERS = 5


def test_the_boot_takes_its_cancels_from_a_seed_not_a_stranger_met_meanwhile() -> None:
    for seed in range(8):  # (the draw's randomness: every one of these must pick the seed)
        clock = Clock()
        config = GossipConfig(flush_delay=0.002)
        core = GossipCore(
            peer_id(0), ME, [url(1)], Book(), config, clock=clock, rng=random.Random(seed)
        )
        hello = only(core.start(), "hello")  # (the seed's answer is slow to come)
        keys = {url(i): peer_id(i) for i in range(2, 2 + STRANGERS)}
        for u, key in keys.items():  # strangers say hello meanwhile, and are dialled back
            core.hello(key, u, {})
        clock.t = max(clock.t, core.next_dial)
        for _ in range(STRANGERS):
            dials = [a for a in core.tick() if isinstance(a, Call) and a.kind == "hello"]
            for d in dials:
                ok(core, d, {"nodeId": keys[d.url]}, signer=keys[d.url])
            clock.t = core.next_dial
        assert len(core.peers) > 1, "no stranger admitted: the test proves nothing"
        first = only(ok(core, hello, {"nodeId": peer_id(1)}, signer=peer_id(1)), "cancelled")
        assert first.url == url(1), (seed, first.url)
