"""attack28: a peer's batch of one new maker's orders takes no more of the book than the
maker's funds back.

Each open order of a maker needs the token's minimum in its spendable balance
(``MAKER_LIMIT``, dust27). Over HTTP a maker holding one minimum gets one order, however many
it posts at once. But a peer's chunk of orders from a maker the node had not seen was read
from the chain together and judged together, before any of them was booked: each saw no open
order of its maker. On the live network a stranger key pushed 300 such orders of one maker
holding 10^14 wei WETH (one default minimum) in one ``POST /p2p/orders``: 32 accepted (the
intake chunk), 1 open and 31 ``unfunded`` on each of 3 nodes (their gossip to each other
passed the same way), instead of 1.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sdex.gossip import NodeKey, PeerClient
from sdex.ingest import Limits
from sdex.order import random_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

MIN_WETH = 10**15
MIN_USDC = 10**3
MAKER = 14
SENT = 64


async def test_a_peer_batch_of_a_new_maker_is_bounded_by_its_funds(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    limits = Limits()
    limits.min_amounts = {c.weth.address: MIN_WETH, c.usdc.address: MIN_USDC}
    maker = c.address(MAKER)
    balance = c.weth.balance_of(maker)
    c.weth.transfer(c.sender(MAKER), c.address(0), balance - 2 * MIN_WETH)  # two minimums
    orders = [
        c.sign(c.order(MAKER, c.weth, MIN_WETH, c.usdc, 10**7 + i, salt=random_salt())).to_json()
        for i in range(SENT)
    ]
    async with (
        running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api),
        aiohttp.ClientSession() as session,
    ):
        peer = PeerClient(session, NodeKey.generate(), "http://127.0.0.1:9")
        assert node.gossip is not None
        to = node.gossip.key.node_id
        answer = await peer.call("POST", api.base, "/p2p/orders", {"orders": orders}, to=to)
        assert answer.status == 200, answer
        held = [r for r in node.records.values() if r.signed.order.maker == maker]
        # before: 32 (a chunk judged at once), each with no open order of its maker seen
        assert len(held) == 2, (answer.body, len(held))
        assert answer.body["accepted"] == 2, answer.body
