"""review78: a contract maker's signature that its wallet stops taking is no peer's bad faith.

An EIP-1271 wallet's verdict is its code's to give, at each block: a wallet whose owner
rotates (``setOwner``), or one written to answer by the block's number, says valid to one
node and invalid to the next a block later. A node that judged such an order invalid called
it ``forged`` and cost the peer that passed it on 5 points a copy, its delivered value too
(sybil77's ``Standing.delivered``): four orders of one hostile wallet, posted to an honest
node and the owner rotated once, had every node that fetched them from it ban it for 10
minutes (and again every time): one transaction cut an honest node off the network.

Real Hardhat, two real nodes on loopback: ``a`` takes the wallet's orders while they are
valid; the owner is rotated; ``b`` starts with ``a`` as its peer and fetches them. The
copies are rejected at ``b`` (the wallet's answer), and ``a`` keeps its standing there. An
EOA maker's signature that does not recover to it still proves bad faith (its own test).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import load_abi
from sdex.gossip.actions import GossipConfig
from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_eip1271 import OTHER, OWNER, PEER, wallet
from tests.test_node import ALICE, E6, E18, ask

ORDERS = 4
"""The wallet's orders (at 5 points each, four reach ``BAN_SCORE``, -20)."""

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)
"""The two nodes' gossip: dialled and synced within a second (signer78 too)."""


def owner_asks(c: Chain, w: str) -> list[SignedOrder]:
    """``ORDERS`` asks of contract wallet ``w`` signed by its owner, at fresh prices each run
    (the shared chain's height)."""
    price = 3000 + int(c.rpc.call("eth_blockNumber"), 16) % 1000
    return [
        sign_order(
            replace(ask(c, ALICE, E18 // 10, (price + k) * E6), maker=w), c.domain, c.keys[OWNER]
        )
        for k in range(ORDERS)
    ]


async def test_a_rotated_wallet_owner_costs_the_honest_relay_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = wallet(c, "ERC1271OwnedWallet")
    orders = owner_asks(c, w)
    base_a = node_config(c, tmp_path / "a.db", gossip=FAST)
    base_b = node_config(c, tmp_path / "b.db", operator=18, gossip=FAST)
    async with running_node(base_a) as (a, api_a):
        await wait_for(a.mirror_ready, 30)
        for so in orders:
            code, body = await api_a.post_order(so)
            assert code == 201, body
        rotate = load_abi("ERC1271OwnedWallet").fn("setOwner").encode(c.address(OTHER))
        c.sender(OWNER).transact(w, rotate)  # (the wallet takes none of them from now on)
        async with running_node(replace(base_b, peers=(api_a.base,))) as (b, _api_b):
            ga, gb = a.gossip, b.gossip
            assert ga is not None and gb is not None
            await wait_for(lambda: b.mirror_ready() and gb.peers.get(ga.node_id) is not None, 30)

            def judged() -> bool:  # (b read the wallet's verdict on each of a's copies)
                sigs = b.mirror.sigs
                return all(sigs.verdict(so) is False for so in orders)

            await wait_for(judged, 60)
            standing = gb.peers.standing(ga.node_id)
            assert not gb.peers.is_banned(ga.node_id), standing
            assert standing.invalid == 0 and standing.score >= 0, standing
            assert gb.peers.get(ga.node_id) is not None  # (still b's peer)
            for so in orders:  # (a copy straight from a peer: no bad faith either)
                assert await b.submit_from_peer(so.to_json(), PEER) == "rejected"
