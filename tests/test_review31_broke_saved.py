"""review31: ``Mirror.max_broke`` (attack29) bounds the accounts with nothing to pay that
refused strangers' orders leave in the mirror, but only while the node runs: each was
saved with the next block's mirror (``mirror_funds``: a row per fresh key, for ever) and a
restart loaded every one back, none of them counted against the bound any more. So a
stranger's orders of fresh keys, free to sign, grew the database and a restarted node's
memory without bound. An account learned broke is now kept in memory only (not saved):
after a restart its next order is read from the chain, as after its eviction."""

from __future__ import annotations

import os
from pathlib import Path

from sdex.order import ZERO_ADDRESS, Order, address_of, sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced

ROUNDS, PER_ROUND, BOUND = 4, 8, 8


async def test_refused_strangers_are_not_loaded_back_past_the_bound(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    strangers: set[tuple[str, str]] = set()
    expiry = c.now() + 3600
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        node.mirror.max_broke = BOUND
        for r in range(ROUNDS):  # (a block, so a save of the mirror, after each round)
            for i in range(PER_ROUND):
                key = os.urandom(32)
                o = Order(
                    address_of(key), ZERO_ADDRESS, c.weth.address, c.usdc.address,
                    10**15, 3 * 10**6, ZERO_ADDRESS, 0, expiry, r * PER_ROUND + i + 1,
                )  # fmt: skip
                code, body = await api.post_order(sign_order(o, c.domain, key))
                assert code == 400 and body["rejection"] == "UNFUNDED", body
                strangers.add((o.maker, o.maker_token))
            c.rpc.call("evm_mine")
            await synced(node, c)
        assert len(strangers & node.mirror.funds.keys()) <= BOUND
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        kept = strangers & node.mirror.funds.keys()
        assert len(kept) <= BOUND, len(kept)  # before: all 32, loaded back
        # (a stranger's next order is read from the chain again: still refused)
        key = os.urandom(32)
        o = Order(
            address_of(key), ZERO_ADDRESS, c.weth.address, c.usdc.address,
            10**15, 3 * 10**6, ZERO_ADDRESS, 0, expiry, 999,
        )  # fmt: skip
        code, body = await api.post_order(sign_order(o, c.domain, key))
        assert code == 400 and body["rejection"] == "UNFUNDED", body


async def test_a_maker_funded_after_its_broke_account_was_evicted_is_not_refused_after_a_restart(
    chain: Chain, tmp_path: Path
) -> None:
    """A maker's first order refused (no funds: learned broke, and saved); strangers' refused
    orders evict it from memory; it funds and approves (no held order of it: not re-read);
    the node restarts: its saved row said broke, and its order was refused ``UNFUNDED``."""
    from sdex.chain import Sender

    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    expiry = c.now() + 3600
    key = os.urandom(32)
    maker = address_of(key)

    def order(k: bytes, salt: int) -> Order:
        return Order(
            address_of(k), ZERO_ADDRESS, c.weth.address, c.usdc.address,
            10**15, 3 * 10**6, ZERO_ADDRESS, 0, expiry, salt,
        )  # fmt: skip

    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        node.mirror.max_broke = 2
        code, body = await api.post_order(sign_order(order(key, 1), c.domain, key))
        assert code == 400 and body["rejection"] == "UNFUNDED", body
        c.rpc.call("evm_mine")
        await synced(node, c)  # (the mirror saved)
        for i in range(4):
            k = os.urandom(32)
            code, body = await api.post_order(sign_order(order(k, 10 + i), c.domain, k))
            assert code == 400, body
        assert (maker, c.weth.address) not in node.mirror.funds  # (evicted)
        c.rpc.call("hardhat_setBalance", maker, hex(10**18))
        c.weth.transfer(c.sender(5), maker, 10**16)
        c.weth.approve(Sender(c.rpc, key, c.domain.chain_id), c.exchange.address, 2**256 - 1)
        await synced(node, c)
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        code, body = await api.post_order(sign_order(order(key, 2), c.domain, key))
        assert code == 201, body  # before: 400 UNFUNDED (its saved row said broke)


async def test_a_broke_row_saved_by_an_earlier_version_is_not_loaded(
    chain: Chain, tmp_path: Path
) -> None:
    """A database of an earlier version holds a funded maker's stale broke row (saved, then
    evicted, funded unseen): the restarted node reads the maker from the chain instead."""
    import sqlite3

    from sdex.chain import Sender

    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    key = os.urandom(32)
    maker = address_of(key)
    c.rpc.call("hardhat_setBalance", maker, hex(10**18))
    c.weth.transfer(c.sender(5), maker, 10**16)
    c.weth.approve(Sender(c.rpc, key, c.domain.chain_id), c.exchange.address, 2**256 - 1)
    async with running_node(cfg) as (node, _api):  # (funded before the saved head)
        await wait_for(node.mirror_ready)
        c.rpc.call("evm_mine")
        await synced(node, c)  # (a mirror saved)
    with sqlite3.connect(tmp_path / "n.db") as db:  # (what an earlier version left)
        db.execute(
            "INSERT OR REPLACE INTO mirror_funds VALUES (?, ?, '0', '0')",
            (maker, c.weth.address),
        )
    o = Order(
        maker, ZERO_ADDRESS, c.weth.address, c.usdc.address,
        10**15, 3 * 10**6, ZERO_ADDRESS, 0, c.now() + 3600, 1,
    )  # fmt: skip
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        code, body = await api.post_order(sign_order(o, c.domain, key))
        assert code == 201, body  # before: 400 UNFUNDED
