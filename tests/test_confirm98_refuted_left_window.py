"""confirm98 (left45, "Settlement confirmation"): a receipt the watcher's read said is not the
chain's (another block at its number in the mirror) was barred till ``REJUDGE_AFTER``, then
judged again once the mirror had no other block at its number (``confirm.rejudged``): once
that block had left the mirror's kept window, the liar that told the receipt got
``CONFIRM_READS`` more reads apart each ``REJUDGE_AFTER`` (120 s), and behind a round-robin
balancer two in a row reaching it believed its made-up block. Now a receipt the watcher
refuted is judged again only once the mirror has its block at its number
(``Tally.refuted``).

Real Hardhat (automine); a real node in this process (its mirror keeps ``DEPTH`` blocks)
behind settle89's real loopback balancer, which answers a made-up block (a mined transfer's
block under another hash: its transaction and bloom) by that hash once told to lie, and
passes the rest on; the settlement wait's confirmation (``confirm.confirmed_seen``) asked of
the transfer's receipt told in that block, as a lying backend's answer would be."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.chain import Receipt
from sdex.keccak import keccak
from sdex.mirror import Mirror
from sdex.settlement.confirm import Tally, confirmed_seen, holds
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE
from tests.test_settle89_sticky_receipt import Said, sticky_balancer

DEPTH = 4
"""Blocks the node's mirror keeps (``reorg_depth``)."""
TRIES = 3
"""Confirmations asked once the bar is due (before: the first believed the liar's block)."""


async def past_window(c: Chain, m: Mirror, at: int, tally: Tally, got: Receipt) -> None:
    """Blocks mined till the receipt's block at ``at`` left the mirror's kept window, then
    the bar the tally set on ``got`` due."""
    for _ in range(DEPTH + 2):  # (its block out of the mirror's window)
        c.rpc.call("evm_mine")
    await wait_for(lambda: m.hash_at(at) is None and m.head is not None, timeout=30)
    await wait_for(lambda: tally.due(got), timeout=30)


def transfer_receipt(c: Chain) -> Any:
    """Alice's WETH transfer of 1, mined: its receipt as the chain answers it."""
    alice = c.sender(ALICE)
    signed = alice.sign(c.weth.address, c.weth.abi.fn("transfer").encode(c.address(9), 1), 100_000)
    alice.broadcast(signed)
    alice.wait(signed.tx_hash)
    return c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)


async def test_a_receipt_the_watcher_refuted_is_not_judged_again_past_its_window(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr("sdex.settlement.tally.REJUDGE_AFTER", 1.0)
    fake = "0x" + keccak(b"a block no chain has at its number").hex()
    lying = [False]
    confirms: list[int] = []  # (the liar's block given to a read apart)

    async with sticky_balancer(c.rpc.url) as b:

        def answer(call: object, port: int) -> Said:
            if not lying or not isinstance(call, dict):
                return None
            if call.get("method") != "eth_getBlockByHash":
                return None
            if (call.get("params") or [None])[0] != fake or not lying[0]:
                return None
            confirms.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": block}

        b.answer = answer
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=b.url, reorg_depth=DEPTH)
        async with running_node(cfg) as (node, _):
            m = node.mirror
            await wait_for(lambda: node.watcher.caught_up.is_set(), timeout=30)
            real = transfer_receipt(c)
            at = int(real["blockNumber"], 16)
            block = {**c.rpc.call("eth_getBlockByHash", real["blockHash"], False), "hash": fake}
            got = Receipt.from_rpc({**real, "blockHash": fake})
            assert holds(block, got)  # (the liar's block gives its receipt)
            await wait_for(lambda: m.hash_at(at) == real["blockHash"], timeout=30)
            tally = Tally()
            # the watcher's word: another block at its number (barred)
            assert not await confirmed_seen(node.settler.receipts, got, m, tally)
            assert tally.said_not(got) and not confirms
            await past_window(c, m, at, tally, got)
            lying[0] = True  # (every read of the made-up block from here on the liar's)
            said = [
                await confirmed_seen(node.settler.receipts, got, m, tally) for _ in range(TRIES)
            ]
            # before: judged again (no other block kept at its number), two reads apart in a
            # row reached the liar: believed
            assert not any(said), (said, confirms)
            assert not confirms
