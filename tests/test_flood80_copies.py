"""A pusher pays for its orders' intake by the orders that were new (flood80): a copy of an
order the node holds by the time its group forms (another peer's push of it got there
first while this one waited in the check queue) is answered ``known`` at once by the intake
and costs its pusher none of the group's loop time, nor ``ORDER_UNMEASURED``. Before, the
group's loop time was split evenly over its orders and each was charged
``ORDER_UNMEASURED``: an honest relay whose copy lost the race paid a new order's price for
it, and for a share of the other pushers' new orders (``bench/gossip.py``, 8 nodes at 500
orders a second: 14,540 of the intake's 32,173 orders were such copies, and honest peers
went into debt, 3,311 of their orders rejected unchecked and 13 requests refused).

``tests.pushrace``'s race (no ``DEAR`` on a copy the node holds, as the node's
``known_copy``): X's push of ``BATCH`` new orders held in the intake while B pushes copies
of them and A ``BATCH`` new orders of its own, in one group once X's are held. And a new
order whose signature the node recovered on its loop is charged for it once
(``test_a_signature_recovered_on_the_loop_is_charged_once``)."""

from __future__ import annotations

import time

import aiohttp
import pytest

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.client import PeerClient
from sdex.gossip.metered import INTAKE_SHARE, ORDER_UNMEASURED, SIGNATURE_UNMEASURED
from tests.p2putil import MemoryNode, order, serve_gossip
from tests.pushrace import BATCH, DEAR, LIMIT, RATE, Crowded, Held, push, race


@pytest.mark.parametrize("crowded", [1.0, 8.0])
async def test_a_copy_held_by_its_turn_costs_its_pusher_no_intake(crowded: float) -> None:
    r = await race(Held, "ba", crowded)  # (B's copies queued before A's new orders)
    got, spent = r.got, r.spent
    assert [g["accepted"] for g in got] == [BATCH, 0, BATCH], got
    assert got[1]["known"] == BATCH
    new_orders = BATCH * DEAR * RATE / INTAKE_SHARE  # (a batch's intake at its wall price)
    assert spent["x"] >= new_orders and spent["a"] >= new_orders, spent  # (each its own)
    # B's push: a token, its handling's (a parse of 10 orders, UNMEASURED); no intake.
    # Before: half of the group's loop time (A's new orders') and ORDER_UNMEASURED each, and
    # A half of its own (DEAR 0.005: B 36-75 tokens, A as much, where A's batch was 67).
    assert spent["b"] < 0.25 * new_orders, spent


class OnLoop(MemoryNode):
    """A node whose intake "recovers" each new order's signature on its loop (as the node's
    ``EcdsaBatcher`` does while no core is spare: ``recovered``) or on a worker: ``DEAR`` /
    10 of the loop's wall clock an order either way (the loop's part of it, measured)."""

    recovered = True

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") not in self.orders:
            end = time.perf_counter() + DEAR / 10
            while time.perf_counter() < end:
                pass
            self.on_loop += self.recovered
        return await super().submit_from_peer(obj, peer)


@pytest.mark.parametrize("recovered", [True, False])
@pytest.mark.parametrize("crowded", [1.0, 20.0])
async def test_a_signature_recovered_on_the_loop_is_charged_once(
    recovered: bool, crowded: float
) -> None:
    """``ORDER_UNMEASURED`` is what a new order costs the node outside the intake's steps,
    its signature's recovery on the ECDSA worker most of it (``SIGNATURE_UNMEASURED``). On a
    crowded machine the node recovers them on its loop, inside those steps: their time was
    measured, and charged again, ``crowded`` times 50 us an order (up to 1 ms of the loop
    each at crowded 20, a third of an honest pusher's intake charge in ``bench/gossip.py``'s
    8 nodes). Now a pusher pays for the orders recovered on the loop by their steps only;
    those recovered on the worker as before."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=OnLoop, limit=LIMIT)
    assert isinstance(member.node, OnLoop)
    member.node.recovered = recovered
    await member.gossip.start()
    member.gossip.peer_costs.crowding = Crowded(crowded)
    pusher = NodeKey.generate()
    assert member.gossip.peers.admit(pusher.node_id, "http://127.0.0.1:9") is not None
    orders = [order(i) for i in range(3 * BATCH)]
    try:
        async with aiohttp.ClientSession() as session:
            got = await push(PeerClient(session, pusher, "http://127.0.0.1:9"), member, orders)
    finally:
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    assert got["accepted"] == len(orders), got
    costs = member.gossip.peer_costs
    assert costs.intake_orders == len(orders)
    unmeasured = ORDER_UNMEASURED - (SIGNATURE_UNMEASURED if recovered else 0.0)
    owed = (costs.intake_seconds + len(orders) * unmeasured * crowded) * RATE / INTAKE_SHARE
    # before, recovered on the loop: len(orders) * SIGNATURE_UNMEASURED * crowded more
    # (2 and 40 tokens at crowded 1 and 20)
    assert costs.intake_tokens == pytest.approx(owed, rel=1e-6), (costs.intake_tokens, owed)
