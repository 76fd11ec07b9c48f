"""below101 (review100a's finding): a receipt of a block below the mirror's kept window is
never refuted by the watcher (``Mirror.hash_at``: None, it cannot say); reads apart alone
decided, and behind a sticky or round-robin balancer both reached the liar: the receipt a
liar told of a transaction the lane had just sent, in a made-up block at a number the window
had left long before, was believed on the first try (its fills counted, its orders closed on
a block no chain has). Now the wait of a transaction sent in this run believes no receipt of
a block at or below the mirror's head as it was sent less its kept depth (``Tally.floor``,
``SigningLane.sent_floor``): not believed, maybe mined, the wait goes on and believes the
chain's receipt.

Real Hardhat (automine); a real node in this process (its mirror keeps ``DEPTH`` blocks)
behind settle89's real loopback balancer answering a made-up block (``tests.madeupblock``:
an old block's header under another hash, holding the transaction); the lane's own transfer
of nothing sent through its queue (``broadcast_after``) and awaited by its wait
(``NonceLane._receipt``) with the liar's receipt as the send's early one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.chain import Receipt
from sdex.keccak import keccak
from sdex.settlement.confirm import holds
from sdex.settlement.gap import GAP_FILL_GAS
from tests.conftest import Chain
from tests.madeupblock import MadeUpBlock, behind_liar
from tests.nodeutil import wait_for

DEPTH = 4
"""Blocks the node's mirror keeps (``reorg_depth``)."""


async def test_a_sent_transactions_receipt_below_the_window_is_not_believed(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    fake = "0x" + keccak(b"a block below the window no chain has").hex()
    liar = MadeUpBlock(fake, {})
    async with behind_liar(c, tmp_path, liar, reorg_depth=DEPTH) as node:
        m, lane = node.mirror, node.settler
        await wait_for(lambda: node.watcher.caught_up.is_set(), timeout=30)
        for _ in range(DEPTH + 3):  # (blocks enough for one below the window)
            c.rpc.call("evm_mine")
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: m.head is not None and m.head.number == head, timeout=30)
        old = head - DEPTH - 1
        assert m.hash_at(old) is None  # (the watcher cannot say of it)
        address = lane.sender.address
        nonce = int(c.rpc.call("eth_getTransactionCount", address, "pending"), 16)
        fees = await lane.fees.current(lane.receipts)
        signed = lane.sender.sign_at(nonce, address, b"", GAP_FILL_GAS, fees=fees)
        async with lane._send_lock:
            sending = lane.broadcast_after(None, signed, None)
        await sending
        await wait_for(
            lambda: c.rpc.call("eth_getTransactionReceipt", signed.tx_hash) is not None,
            timeout=30,
        )
        real = c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
        header = c.rpc.call("eth_getBlockByNumber", hex(old), False)
        liar.block = {**header, "hash": fake, "transactions": [signed.tx_hash]}
        lie = Receipt.from_rpc({**real, "blockHash": fake, "blockNumber": hex(old)})
        assert holds(liar.block, lie)  # (the liar's block gives its receipt)
        async with asyncio.timeout(60):
            landed, got = await lane._receipt(signed, early=lie)
        # before: the early lie confirmed on reads apart, both the liar's: believed
        assert landed is signed and got is not None, got
        assert got.block_hash == real["blockHash"] and got.block_number > old, (got, liar.told)
        assert not liar.told  # (the lie never read apart)
