"""reads78: peers' chain reads are paid by the owner of their pending reads: a peer among
those with a bound of their own (``Peers.leading``) its own budget, every other peer and
stranger the strangers' one (half a peer's), so the budgets kept are a few, whatever the
keys admitted.

Before, each admitted peer had a token bucket of its own (``peer_chain_read_limit``) and
admission is cheap: 16 sybils admitted at once read 16 peers' budgets, bounded only by the
node-wide ceiling, whose peers' lane they emptied (an established peer's first-seen account
then refused, ``THROTTLED``), and a bucket was kept for every key ever admitted (up to
``httpkit.MAX_CLIENTS``, 16,384).

A real node on a real Hardhat (its server on loopback), the peers' pushes checked through its
own gossip driver (checks75's ``push``), each sybil admitted with a loopback URL of its own."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.httpkit import RateLimit
from sdex.order import SignedOrder, sign_order
from sdex.signature import address_of
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST, done, push
from tests.test_node import ALICE, BOB, E6, E18, ask

SYBILS, EACH, BURST = 16, 4, 4
"""Peers admitted at once, first-seen accounts' orders each pushes (a read each), and one
peer's burst of chain reads."""


def strangers_orders(c: Chain, n: int, first: int) -> list[SignedOrder]:
    """``n`` orders of accounts nobody funded (each a first-seen account: a chain read)."""
    out = []
    for k in range(first, first + n):
        key = (0x5EB11 + k).to_bytes(32, "big")
        order = replace(ask(c, ALICE, E18, 3000 * E6), maker=address_of(key))
        out.append(sign_order(order, c.domain, key))
    return out


async def test_sybils_share_one_budget_of_reads(chain: Chain, tmp_path: Path) -> None:
    """16 new peers push 4 first-seen accounts' orders each: at most the strangers' share of
    one peer's burst is read for them all, at most a few budgets are kept, and an
    established peer's first-seen account is still read (before: the sybils emptied the
    peers' lane of the ceiling, and it was refused)."""
    c = chain
    base = node_config(
        c,
        tmp_path / "n.db",
        peer_chain_read_limit=RateLimit(rate=0.001, burst=BURST),
        chain_read_total=RateLimit(rate=0.002, burst=2 * SYBILS * EACH // 2),
    )
    async with running_node(base) as (node, api):
        await wait_for(node.mirror_ready)
        known = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 999))
        assert (await api.post_taken(known))[0] == 201  # (Alice's account known)
        g = node.gossip
        assert g is not None
        budget = node.peer_read_budget
        orders = strangers_orders(c, SYBILS * EACH, 0)
        sybils = [
            push(
                g, "0x" + f"{0x20 + k:02x}" * 32, *orders[EACH * k : EACH * (k + 1)], standing=False
            )
            for k in range(SYBILS)
        ]
        await wait_for(lambda: all(t.done() for t in sybils), 60)
        taken = budget.read
        assert taken <= BURST // 2, budget.stats()  # (before: the lane's, 48)
        assert budget.senders() <= 2 * (g.config.reads_own_peers + 1), budget.senders()
        honest = push(g, HONEST, c.sign(ask(c, BOB, E18, 3200 * E6)))  # (Bob's: first seen)
        await wait_for(done(honest), 20)
        assert honest.result()["accepted"] == 1, (honest.result(), budget.stats())
        assert budget.read == taken + 1
