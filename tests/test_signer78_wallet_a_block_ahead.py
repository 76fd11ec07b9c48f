"""signer78: a wallet deployed in a block a node has not seen yet costs the relay nothing.

An order whose signature does not recover to its maker is judged by the chain (EIP-1271)
at the latest block the node's backend knows; where the maker had no code there, the peer
that passed the copy on was charged as a forger (5 points a copy, banned at four). A
wallet's address is known before it exists (CREATE2): an attacker deploys it in block N and
posts its orders to node ``a`` as soon as ``a`` sees N; ``b``, whose backend is a block
behind (a replica, a poll a moment late), found no code at the maker and banned ``a``, an
honest node, with four orders. Now ``b`` rejects the copies and charges ``a`` only if the
maker still has no code two blocks later: it has, so ``a`` is spared and ``b`` fetches the
orders again and holds them. A forger's copy (a maker with no code, ever) is still charged.

Real Hardhat, two real nodes on loopback, ``b``'s chain reads through a loopback proxy a
block behind (``tests.rpcfault.behind_proxy``); the wallet deployed by a CREATE2 deployer,
funded and approved in the same block.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from eth_hash.auto import keccak

from sdex.chain.exchange import deploy, load_abi
from sdex.chain.rpc import quantity
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import behind_proxy
from tests.test_eip1271 import OWNER
from tests.test_node import E18
from tests.test_review78_contract_signer_rotated import FAST, ORDERS, owner_asks

GAS = 3_000_000
"""Gas of the block's transactions, given (no estimate: the wallet is not there yet)."""


def create2_address(deployer: str, salt: bytes, init_code: bytes) -> str:
    raw = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + keccak(init_code))
    return "0x" + raw[12:].hex()


def head(c: Chain) -> int:
    return quantity(c.rpc.call("eth_blockNumber"))


def funded_wallet(c: Chain) -> tuple[str, bytes, bytes, str]:
    """A CREATE2 deployer, a fresh salt (the shared chain keeps the last run's wallet), the
    OWNER's ERC-1271 wallet's init code and its address, sent 10 WETH before it exists."""
    deployer = deploy(c.sender(0), "Create2Deployer")
    salt = os.urandom(32)
    init_code = load_abi("ERC1271Wallet").deploy_data(c.address(OWNER))
    w = create2_address(deployer, salt, init_code)
    c.weth.transfer(c.sender(OWNER), w, 10 * E18)
    return deployer, salt, init_code, w


def deploy_in_one_block(c: Chain, deployer: str, salt: bytes, init_code: bytes, w: str) -> int:
    """The wallet created and approved to the Exchange in one block: its number."""
    make = load_abi("Create2Deployer").fn("deploy").encode(salt, init_code)
    approve = load_abi("ERC1271Wallet").fn("approve")
    allow = approve.encode(c.weth.address, c.deployment.exchange, 2**256 - 1)
    c.rpc.call("evm_setAutomine", False)
    try:
        c.sender(0).send(deployer, make, gas=GAS)
        c.sender(OWNER).send(w, allow, gas=GAS)
        c.rpc.call("evm_mine")
    finally:
        c.rpc.call("evm_setAutomine", True)
    block = head(c)
    assert c.rpc.call("eth_getCode", w, hex(block)) not in ("0x", None)
    assert c.rpc.call("eth_getCode", w, hex(block - 1)) == "0x"
    return block


async def test_a_wallet_a_block_ahead_of_a_peer_costs_the_relay_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    deployer, salt, init_code, w = funded_wallet(c)
    orders = owner_asks(c, w)
    base_a = node_config(c, tmp_path / "a.db", gossip=FAST)
    with behind_proxy(c.rpc.url) as lagging:
        base_b = node_config(
            c, tmp_path / "b.db", operator=18, gossip=FAST, rpc=lagging, new_heads=False
        )
        async with (
            running_node(base_a) as (a, api_a),
            running_node(replace(base_b, peers=(api_a.base,))) as (b, _api_b),
        ):
            ga, gb = a.gossip, b.gossip
            assert ga is not None and gb is not None
            await wait_for(lambda: a.mirror_ready() and b.mirror_ready(), 60)
            await wait_for(lambda: gb.peers.get(ga.node_id) is not None, 30)
            deploy_in_one_block(c, deployer, salt, init_code, w)
            for so in orders:  # (a sees block N: the wallet takes them)
                code, body = await api_a.post_order(so)
                assert code == 201, body

            def judged() -> bool:  # (b read the verdict on each of a's copies, below N)
                return all(b.mirror.sigs.verdict(so) is False for so in orders)

            await wait_for(judged, 60)
            assert not any(so.hash in b.records for so in orders)  # (no code where b read)
            standing = gb.peers.standing(ga.node_id)  # (before: banned, 4 copies "forged")
            assert not gb.peers.is_banned(ga.node_id), standing
            c.rpc.call("hardhat_mine", "0x3")  # (b's head passes N + 1: the code read again)
            await wait_for(lambda: all(so.hash in b.records for so in orders), 60)
            standing = gb.peers.standing(ga.node_id)
            assert not gb.peers.is_banned(ga.node_id), standing
            assert standing.invalid == 0 and standing.score >= 0, standing
            assert b.unproven.spared == ORDERS and b.unproven.charged == 0

            # a forger's copy (a maker that never has code) is charged, a few blocks later
            nobody = "0x" + os.urandom(20).hex()
            forged = sign_order(replace(orders[0].order, maker=nobody), c.domain, c.keys[OWNER])
            assert await b.submit_from_peer(forged.to_json(), ga.node_id) == "rejected"
            assert gb.peers.standing(ga.node_id).invalid == 0  # (not yet: no code at b's block)
            c.rpc.call("hardhat_mine", "0x3")
            await wait_for(lambda: gb.peers.standing(ga.node_id).invalid == 1, 60)
            assert b.unproven.charged == 1
