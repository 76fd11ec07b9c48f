"""review79: a wallet whose code is gone a block after a peer took its orders costs that
peer nothing.

signer79's rule (``sdex.node.unproven``) charges the peer that passed on a copy whose
maker had no code where this node read its verdict if the maker still has none
``LATER_BLOCKS`` later: it covers a peer a block or two *ahead* (a wallet deployed in a
block this node had not seen). It did not cover a peer a block *behind*: a maker's code can
go (an EOA's EIP-7702 delegation revoked: one cheap transaction), so an attacker delegates
its EOA to a wallet that takes any signature, posts four orders to an honest node ``a``
(its backend a block behind: a replica, a poll a moment late), revokes the delegation in
the next block, and every node that fetches ``a``'s copies then finds no code, now and two
blocks later, and banned ``a`` (5 points a copy, four copies). Now a copy is spared when the
maker had code in one of the ``LATER_BLOCKS`` blocks below the verdict's read too.

Real Hardhat (cancun: the revocation is ``hardhat_setCode`` to nothing in the latest block,
the state a revoked delegation leaves), two real nodes on loopback, ``a``'s chain reads through a
loopback proxy a block behind (``tests.rpcfault.behind_proxy``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.gossip.actions import GossipConfig
from sdex.node.unproven import LATER_BLOCKS, READS, Unproven
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import behind_proxy
from tests.test_eip1271 import OWNER
from tests.test_node import ALICE, E6, E18, ask
from tests.test_signer78_wallet_a_block_ahead import (
    ORDERS,
    deploy_in_one_block,
    funded_wallet,
    head,
)

READ = 100
"""(The tables') block a copy's verdict was read at."""
HEAD = READ + LATER_BLOCKS
"""(The tables') head its charge is decided at."""


async def test_a_wallet_gone_a_block_after_a_peer_took_its_orders_costs_the_peer_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    deployer, salt, init_code, w = funded_wallet(c)
    price = 3000 + head(c) % 1000
    orders = [
        sign_order(
            replace(ask(c, ALICE, E18 // 10, (price + k) * E6), maker=w), c.domain, c.keys[OWNER]
        )
        for k in range(ORDERS)
    ]
    fast = GossipConfig(dial_interval=0.1, ae_interval=0.3)
    with behind_proxy(c.rpc.url) as lagging:
        base_a = node_config(c, tmp_path / "a.db", gossip=fast, rpc=lagging, new_heads=False)
        async with running_node(base_a) as (a, api_a):
            await wait_for(a.mirror_ready, 60)
            deployed = deploy_in_one_block(c, deployer, salt, init_code, w)
            c.rpc.call("evm_mine")  # (a, a block behind, sees the wallet's block)
            await wait_for(lambda: a.watcher.chain_head >= deployed, 60)
            for so in orders:
                code, body = await api_a.post_order(so)
                assert code == 201, body
            c.rpc.call("evm_mine")  # (the block the delegation is revoked in...)
            c.rpc.call("hardhat_setCode", w, "0x")  # (...Hardhat's: the latest block's state)
            gone = head(c)  # (a, a block behind it, still sees the wallet)
            assert c.rpc.call("eth_getCode", w, hex(gone)) == "0x"
            assert c.rpc.call("eth_getCode", w, hex(gone - 1)) not in ("0x", None)
            base_b = node_config(c, tmp_path / "b.db", operator=18, gossip=fast)
            async with running_node(replace(base_b, peers=(api_a.base,))) as (b, _api_b):
                ga, gb = a.gossip, b.gossip
                assert ga is not None and gb is not None

                # (b fetched a's copies, read no code at its block: their charge waits)
                await wait_for(lambda: len(b.unproven) == ORDERS, 60)
                assert all(b.mirror.sigs.verdict(so) is False for so in orders)
                c.rpc.call("hardhat_mine", "0x3")  # (b's head two past its read: judged)
                await wait_for(lambda: len(b.unproven) == 0, 60)
                standing = gb.peers.standing(ga.node_id)  # (before: 4 copies charged, banned)
                assert not gb.peers.is_banned(ga.node_id), standing
                assert standing.invalid == 0, standing
                assert b.unproven.spared == ORDERS and b.unproven.charged == 0


@pytest.mark.parametrize(
    ("code_at", "charged"),
    [
        ((), True),  # (a forger's: never any code)
        ((HEAD,), False),  # (code at the later read: signer78's wallet a block ahead)
        ((READ - 1,), False),  # (code just below the read: gone since, review79)
        ((READ - LATER_BLOCKS,), False),
        ((READ - LATER_BLOCKS - 1,), True),  # (too long before: no peer saw it there)
        ((READ,), True),  # (none at the read itself: this node's read said so)
    ],
)
def test_a_copy_is_spared_when_its_maker_had_code_near_its_read(
    code_at: tuple[int, ...], charged: bool
) -> None:
    u = Unproven()
    u.note("peer", b"\x01" * 32, "maker", READ)
    assert u.due(HEAD) == ["maker"]
    pairs, later = u.below(HEAD, ["maker"])
    assert later == [] and pairs == [("maker", b) for b in range(READ - LATER_BLOCKS, READ)]
    had = {("maker", b) for b in code_at if b != HEAD}
    charge, spared = u.settle(HEAD, {"maker": HEAD in code_at}, had)
    assert (charge == {"peer": 1}) is charged and (spared == []) is charged
    assert len(u) == 0


def test_reads_below_are_bounded_and_the_rest_wait_a_block() -> None:
    u = Unproven()
    makers = [f"m{k}" for k in range(READS + 5)]
    for k, m in enumerate(makers):
        u.note(f"p{k % 8}", bytes([k % 256, k // 256]) + b"\0" * 30, m, READ)
    pairs, later = u.below(HEAD, makers)
    assert len(pairs) == READS * LATER_BLOCKS and later == makers[READS:]
    charge, _ = u.settle(HEAD, {m: False for m in makers if m not in later}, set())
    assert sum(charge.values()) == READS and len(u) == 5  # (the rest: at the next block)


async def test_a_block_the_chain_will_not_answer_for_is_no_proof(
    chain: Chain, tmp_path: Path
) -> None:
    """A pair whose ``eth_getCode`` the chain answers with an error (a pruned node's old
    state; here a block past the head) counts as one with code: no charge on no evidence."""
    nobody = "0x" + os.urandom(20).hex()
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _api):
        assert node.contract_sigs is not None
        future = head(chain) + 1000
        had = await node.contract_sigs.had_code([(nobody, future), (nobody, 0)])
    assert had == {(nobody, future)}
