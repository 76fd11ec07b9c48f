"""sdex.settlement.receipts.BlockReceipts: one ``eth_getBlockReceipts`` a block, shared by
the settlements waiting; a chain without it (Hardhat 2.29) is asked by hash instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.chain.tx import SignedTx
from sdex.errors import RpcError
from sdex.order import SignedOrder
from sdex.settlement import receipts
from sdex.settlement.receipts import MAX_BAD_READS, BlockReceipts, poll_receipt
from tests.conftest import Chain, Engine
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all


async def test_a_block_is_read_once_for_every_receipt_looked_for(
    chain: Chain, engine: Engine
) -> None:
    c = chain
    tx = c.sender(1).send(c.address(2), b"", 21_000)
    receipt = c.sender(1).wait(tx)
    other = c.sender(1).send(c.address(2), b"", 21_000)
    later = c.sender(1).wait(other).block_hash
    rpc = AsyncRpc(c.rpc.url)
    try:
        blocks = BlockReceipts(rpc)
        found, raw = await blocks.find([receipt.block_hash], tx)
        if engine == "hardhat":  # not served: the caller asks by hash, for good
            assert (found, raw) == (False, None) and not blocks.supported
            assert await blocks.find([later], other) == (False, None)
            assert blocks.reads == 1
            return
        assert found and isinstance(raw, dict) and raw["transactionHash"] == tx
        # the same block for another waiter: no second read; a block without it: not there
        assert (await blocks.find([receipt.block_hash], tx))[1] == raw
        assert await blocks.find([receipt.block_hash, later], "0x" + "ab" * 32) == (True, None)
        assert blocks.reads == 2
        # a block the chain does not know (announced, then undone): asked by hash instead
        assert await blocks.find(["0x" + "00" * 32], tx) == (False, None)
        assert blocks.supported
    finally:
        await rpc.close()


async def test_settlements_take_their_receipts_from_their_blocks(
    chain: Chain, engine: Engine, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        if engine == "anvil":
            await wait_for(lambda: node.mirror.announced.live)
            # (sends that no other waits behind come back with their receipts there:
            # eth_sendRawTransactionSync, tests/test_broadcast.py; here: polled)
            node.settler.broadcaster.sync = False
        for _ in range(3):
            maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            await post_all(api, [maker, taker])

            async def filled(s: SignedOrder = taker) -> bool:
                return await api.status(s) == "filled"

            await wait_for(filled)
        blocks = node.settler.blocks
        assert blocks is not None and node.settler.settled == 3
        if engine == "anvil":  # (anvil answers a send before it mines: receipts polled)
            assert blocks.supported and blocks.reads >= 1


class _BadBlockReceipts(AsyncRpc):
    """A real chain behind an endpoint whose ``eth_getBlockReceipts`` answers an error other
    than "not served" (an answer too large, a proxy's refusal, a provider's -32000)."""

    async def call(self, method: str, *params: Any) -> Any:
        if method == "eth_getBlockReceipts":
            self.calls[method] += 1
            raise RpcError(0, f"{self.url} answered with bad JSON: too large")
        return await super().call(method, *params)


async def test_a_mined_settlement_is_found_when_block_reads_fail(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding: such an error made the waiting settlement read the same block again
    and again (20 times a second) without ever asking by hash, until it was judged lost
    (after 120 s in the node; 3 s here) although it was mined. Now a failed read is followed
    by the ask by hash in the same pass, and reads stop for good after a few failures."""
    monkeypatch.setattr(receipts, "RECEIPT_TIMEOUT", 3.0)
    c = chain
    s = c.sender(1)
    tx = s.send(c.address(2), b"", 21_000)
    mined = s.wait(tx)
    nonce = int(c.rpc.call("eth_getTransactionByHash", tx)["nonce"], 16)
    rpc = _BadBlockReceipts(c.rpc.url)
    try:
        blocks = BlockReceipts(rpc)
        for _ in range(MAX_BAD_READS):
            heads = HeadSignal()
            heads.live = True
            before = heads.count
            heads.announce(mined.block_hash)  # the block holding it, announced
            got = await poll_receipt(
                rpc, s.address, SignedTx(tx, nonce, ""), False, heads, before, blocks
            )
            assert got is not None and got.tx_hash == tx, "mined, judged lost"
        assert rpc.calls["eth_getBlockReceipts"] == MAX_BAD_READS and not blocks.supported
    finally:
        await rpc.close()


class _Receipts(AsyncRpc):
    """A real chain's receipts of ``txs`` served as one block's ``eth_getBlockReceipts``
    (Hardhat 2.29 does not serve the method itself)."""

    def __init__(self, url: str, txs: list[str]) -> None:
        super().__init__(url)
        self.txs = txs

    async def call(self, method: str, *params: Any) -> Any:
        if method != "eth_getBlockReceipts":
            return await super().call(method, *params)
        ask = super().call
        return [await ask("eth_getTransactionReceipt", t) for t in self.txs]


def _one_block(c: Chain) -> tuple[str, str, str]:
    """Two transfers mined in one block (mining paused while they are sent): their hashes
    and the block's."""
    s = c.sender(1)
    c.rpc.call("evm_setAutomine", False)
    try:
        a = s.send(c.address(2), b"", 21_000)
        b = s.send(c.address(3), b"", 21_000)
        c.rpc.call("evm_mine")
    finally:
        c.rpc.call("evm_setAutomine", True)
    block = s.wait(b).block_hash
    assert s.wait(a).block_hash == block
    return a, b, block


async def test_a_block_read_keeps_only_the_receipts_waited_for(chain: Chain) -> None:
    """Review finding: every receipt of a block was kept (as parsed JSON) for 16 blocks;
    only those of the settlements in flight are kept now."""
    c = chain
    a, b, block = _one_block(c)
    rpc = _Receipts(c.rpc.url, [a, b])
    try:
        waited = {a}
        found, receipt = await BlockReceipts(rpc, waited).find([block], a)
        assert found and isinstance(receipt, dict) and receipt["transactionHash"] == a
        kept = await BlockReceipts(rpc, waited)._read(block)
        assert kept is not None and set(kept) == {a}
        everything = await BlockReceipts(rpc)._read(block)
        assert everything is not None and set(everything) == {a, b}
    finally:
        await rpc.close()


async def test_receipts_of_another_block_than_the_one_asked_are_not_taken(chain: Chain) -> None:
    """Review finding: the receipts a block read answered were taken without checking
    that they are of the block asked: an endpoint that answers another block's (a reorg
    between the announcement and the read, a node that resolves the hash wrongly, a lying
    proxy) made a settlement take a receipt of a block the watcher does not follow. Now
    such a read counts as a bad one: the waiter asks by hash (in the same pass), and after
    ``MAX_BAD_READS`` the reads stop for good."""
    c = chain
    s = c.sender(1)
    tx = s.send(c.address(2), b"", 21_000)
    mined = s.wait(tx)
    nonce = int(c.rpc.call("eth_getTransactionByHash", tx)["nonce"], 16)
    other = s.wait(s.send(c.address(3), b"", 21_000)).block_hash  # a later block, real
    assert other != mined.block_hash
    rpc = _Receipts(c.rpc.url, [tx])  # answers ``tx``'s receipt for any block asked
    try:
        blocks = BlockReceipts(rpc)
        assert await blocks.find([other], tx) == (False, None)  # not "in the later block"
        assert blocks.supported
        for _ in range(MAX_BAD_READS - 1):
            heads = HeadSignal()
            heads.live = True
            before = heads.count
            heads.announce(other)
            got = await poll_receipt(
                rpc, s.address, SignedTx(tx, nonce, ""), False, heads, before, blocks
            )
            assert got is not None and got.block_hash == mined.block_hash  # asked by hash
        assert not blocks.supported  # three lies in a row: by hash from now on
        # the same endpoint asked for the block that does hold it: taken
        honest = BlockReceipts(rpc)
        found, raw = await honest.find([mined.block_hash], tx)
        assert found and isinstance(raw, dict) and raw["blockHash"] == mined.block_hash
    finally:
        await rpc.close()
