"""reads78: the bound of pending reads in all counts each owner's up to its own bound: two
owners (the strangers and one sybil among the peers with a bound of their own) cannot fill
it with the orders a group took past their bounds.

checks75/reads77/sybil77 bound the peers' orders pending on chain reads per owner
(``reads_pending_per_peer``) and in all (``reads_pending``). But a group takes up to
``intake_chunk`` orders of an owner below its bound, all of which may be left pending: one
check each from the strangers and from one sybil that made the top ``reads_own_peers``
(fewer honest peers delivered before the swarm) left 2 x 32 pending, the bound in all was
reached, and every other peer's next group, an established honest peer's orders that need
no read too, waited for one of those reads to end.

A real node on a real Hardhat, its RPC behind checks75's proxy holding every read of the
hostile wallet; the peers' pushes checked through the node's own gossip driver."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.gossip import GossipConfig
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_checks75_held_reads import (
    HONEST,
    HOSTILE,
    OTHER,
    done,
    held_node,
    known_alice,
    push,
)
from tests.test_node import ALICE, E6, E18, ask
from tests.test_reads76_held_pool import contract_asks

EACH = 6
"""The hostile wallet's orders in each of the two checks (one group takes them all)."""


async def test_two_owners_past_their_bounds_hold_no_other_peers_group(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = burner(c)
    gossip = replace(GossipConfig(), reads_pending=8, reads_pending_per_peer=2)
    async with held_node(c, tmp_path / "n.db", w, gossip=gossip) as (node, api, proxy):
        g = await known_alice(c, node, api)
        orders = contract_asks(c, w, 2 * EACH)
        sybil = push(g, HOSTILE, *orders[:EACH])  # (in the top: a bound of its own)
        stranger = push(g, OTHER, *orders[EACH:], standing=False)  # (the strangers')
        await wait_for(lambda: g.checks.pending_reads == 2 * EACH, 30)
        await wait_for(lambda: proxy.held > 0, 30)
        assert g.checks.pending_reads >= g.config.reads_pending  # (past the bound in all)
        plain = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        await wait_for(done(plain), 15)
        assert plain.result()["accepted"] == 1, plain.result()
        assert not sybil.done() and not stranger.done() and proxy.held > 0
        proxy.release.set()
        await wait_for(lambda: sybil.done() and stranger.done(), 60)
        assert g.checks.pending_reads == 0
