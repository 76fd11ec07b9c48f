"""A batch formed when nothing need be awaited (the lane's lock free, the fees announced by
newHeads, the nonce known) is signed and recorded in the loop turn it forms
(``Settler._launch_now``), not a turn later in its flight's task: real Hardhat, the node's
settler. Every settlement lands, on consecutive nonces, each match settled once."""

from __future__ import annotations

from pathlib import Path

from sdex.order import SignedOrder
from sdex.settlement.receipts import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid

CROSSINGS = 6


async def test_settlements_one_after_another_are_launched_in_the_forming_turn(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set() and node.mirror.announced.live)
        operator = node.settler.sender.address
        before = quantity(c.rpc.call("eth_getTransactionCount", operator, "latest"))
        for i in range(CROSSINGS):
            price = 3000 * E6 + i
            maker = c.sign(ask(c, CAROL, E18 // 10, price))
            assert (await api.post_order(maker))[0] == 201
            taker = c.sign(bid(c, BOB, E18 // 10, price))
            assert (await api.post_order(taker))[0] == 201

            async def filled(taker: SignedOrder = taker, maker: SignedOrder = maker) -> bool:
                return all([await api.status(o) == "filled" for o in (taker, maker)])

            await wait_for(filled)
        s = node.settler
        assert s.sent == s.settled == CROSSINGS and s.failed == s.lost == 0
        # The first learns the nonce (one read: its flight's task); the later ones sign with
        # the fees the last block's announcement brought (within ``FEE_TTL``) in the turn
        # their batch formed (a slow machine may let a head's fee age out now and then).
        assert s.launched_now >= 2, s.launched_now
        after = quantity(c.rpc.call("eth_getTransactionCount", operator, "latest"))
        assert after - before == CROSSINGS  # one nonce each, none skipped, none reused
