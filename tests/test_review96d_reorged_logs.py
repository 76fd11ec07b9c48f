"""review96d (settle95's money path): the watcher's read confirms an own settlement's receipt
only with the logs of the block the mirror holds now at its number, not those of a block a
reorg undid there.

Before, ``Mirror.seen_logs`` kept every log of the settlement the watcher read, by
transaction, and ``seen_as`` took those of the receipt's block number with the hash the
mirror holds there now. A settlement mined in a block a reorg then replaced by one without it
(at the same number) left the undone block's logs there: a receipt telling the new block's
hash with the old block's logs was confirmed by the watcher's read, the pair counted settled
and both orders filled, though no block of the chain holds the settlement (settle93's rule).

Real Hardhat mining only when told; a real node and SQLite store behind settle89's real
loopback balancer (aiohttp, keep-alive) whose receipt answers for the settlement lie: none
while it is pooled; once mined, the chain's receipt told of a block nobody has (the watcher
reads the block itself: ``found``); once a reorg (``evm_revert``, the transaction dropped,
two blocks mined) replaced its block, the chain's receipt told of the new block at that
number. The block reads answer the chain's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.chain.rpc import quantity
from sdex.keccak import keccak
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_settle89_sticky_receipt import Said, pooled_behind_sticky

__all__ = ["pooling"]

LIES = 6
"""Receipts told of the new block before the test looks: the first made a settlement before."""


def told_of(mined: dict[str, Any], block_hash: str) -> dict[str, Any]:
    """``mined`` (a receipt as the chain gave it), told of the block ``block_hash``."""
    logs = [{**lg, "blockHash": block_hash} for lg in mined["logs"]]
    return {**mined, "blockHash": block_hash, "logs": logs}


async def test_an_undone_blocks_logs_confirm_no_receipt_of_the_block_now_there(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, _):
        s, m = node.settler, node.mirror
        [tx] = s.in_flight
        snap = c.rpc.call("evm_snapshot")
        said: list[dict[str, Any] | None] = [None]  # (its receipt as the liar tells it now)
        lies: list[int] = []

        def answer(call: object, port: int) -> Said:
            if not isinstance(call, dict) or call.get("method") != "eth_getTransactionReceipt":
                return None
            if call.get("params") != [tx]:
                return None
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": said[0]}

        b.answer = answer
        c.rpc.call("evm_mine")
        mined = c.rpc.call("eth_getTransactionReceipt", tx)
        at = quantity(mined["blockNumber"])
        said[0] = told_of(mined, "0x" + keccak(b"nowhere").hex())  # (not confirmed)
        # (the watcher does not wait for it: it reads the block, the settlement's logs kept)
        await wait_for(lambda: m.head is not None and m.head.number >= at, timeout=60)
        await wait_for(lambda: tx.lower() in m.seen_logs, timeout=30)
        assert s.settled == 0
        assert c.rpc.call("evm_revert", snap) is True
        if c.rpc.call("eth_getTransactionByHash", tx) is not None:
            c.rpc.call("hardhat_dropTransaction", tx)
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")
        now = c.rpc.call("eth_getBlockByNumber", hex(at), False)
        assert tx not in now["transactions"]
        await wait_for(lambda: m.hash_at(at) == now["hash"], timeout=60)
        before = len(lies)
        said[0] = told_of(mined, now["hash"])  # (the undone block's logs, the new one's hash)
        # before: believed at the first lie (the undone block's logs kept at its number),
        # the pair counted settled and both orders filled
        await wait_for(lambda: len(lies) >= before + LIES or s.settled > 0, timeout=60)
        assert s.settled == 0, "a receipt no block holds confirmed by an undone block's logs"
        assert await api.status(maker) != "filled"
        assert c.rpc.call("eth_getTransactionReceipt", tx) is None
        assert c.exchange.order_info(maker.order).filled == 0
