"""race79: a failed settlement's diagnosis reads the makers' funds at the chain's latest
block; a mirror behind that block must not give a maker found short her older funds back.

settle69 [resting] failed 3 of 8 after sybil78's merge: the adopted settlement of ALICE's
ask reverted (she had moved her WETH away in its block), the diagnosis read her funds there
(0) and left the ask unfunded; then the watcher's first poll, still replaying the blocks
since the deployment, applied a block below the read: its funds (1000 WETH) went into the
book, the ask matched CAROL's open bid, and that settlement reverted too (the operator's gas
for a revert the diagnosis had foreseen). Here the watcher's first apply is held (a hook
around the node's ``_on_block``) until the diagnosis has ended, so the mirror's older word
comes after the read every time. Real Hardhat, mining paused while the settlement is
pooled (settle65's setup)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from sdex.chain import Sender
from sdex.errors import RpcError
from sdex.matching.match import Match
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.watch.changes import BlockChanges
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_cancel65_onchain_queued import GWEI
from tests.test_node import ALICE
from tests.test_reorg63_replaced_restart import OPERATOR
from tests.test_settle65_adopt_ioc import crossing, stored_with_pooled
from tests.test_settle69_adopted_oneshot_failed import move_pooled, record

HOOK_BOUND = 60.0
"""Seconds at most the first apply is held (the test fails on its own bounds before)."""


def matches_seen(node: Node, monkeypatch: pytest.MonkeyPatch) -> list[Match]:
    """Every match ``node`` makes from now on (its settler's ``submit`` noting them)."""
    matched: list[Match] = []
    submit = node.settler.submit

    def seen(matches: Sequence[Match]) -> None:
        matched.extend(matches)
        submit(matches)

    monkeypatch.setattr(node.settler, "submit", seen)
    return matched


async def judged_then_caught_up(
    node: Node, gate: asyncio.Event, moved: int, resting: SignedOrder, matched: list[Match]
) -> None:
    """The revert at block ``moved`` diagnosed while the apply of an older block is held:
    the resting maker's funds in the book are the diagnosis's read (nothing), the mirror
    still below ``moved``. Then the apply let go (``gate``), the watcher past ``moved``:
    ``resting`` was not matched again (before: the ask matched CAROL's bid at the older
    block's apply; signed if the watcher had not heard of the transfer's block yet, and
    reverted: settle69)."""

    def judged() -> bool:
        return node.settler.failed == 1 and node.settler.idle.is_set() and not node._holds

    await wait_for(judged)
    alice = (resting.order.maker, resting.order.maker_token)
    assert node.book.funds(*alice) == 0  # (the diagnosis's read, at ``moved``)
    assert node.mirror.head is not None and node.mirror.head.number < moved
    gate.set()  # the mirror's older word applied now, then the transfer's block

    def caught_up() -> bool:
        return node.watcher.unapplied.applied >= moved and node.settler.idle.is_set()

    await wait_for(caught_up)
    again = [m for m in matched if resting.hash in (m.resting.hash, m.incoming.hash)]
    assert not again, again


async def test_a_mirror_behind_the_diagnosis_gives_no_funds_back(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, taker, other = crossing(c)  # (BOB's the IOC order, CAROL's open)
    alice = (resting.order.maker, resting.order.maker_token)  # (her WETH)
    held: asyncio.Queue[BlockChanges] = asyncio.Queue()
    gate = asyncio.Event()
    applied = Node._on_block

    async def first_apply_held(node: Node, changes: BlockChanges) -> None:
        # (the apply that brings the book to the head before the transfer's block, once
        # the first poll's replay reaches it: it waits for the diagnosis; earlier ranges of
        # a long chain go as they come)
        if not gate.is_set() and changes.head >= before:
            held.put_nowait(changes)
            async with asyncio.timeout(HOOK_BOUND):
                await gate.wait()
        await applied(node, changes)

    monkeypatch.setattr(Node, "_on_block", first_apply_held)
    exchange = c.exchange.address
    allowed = c.weth.allowance(alice[0], exchange)  # (her WETH touched in the last blocks:
    c.weth.send(c.sender(ALICE), "approve", exchange, allowed)  # the apply held has it)
    tx = await stored_with_pooled(c, cfg, resting, taker, other)
    before = int(c.rpc.call("eth_blockNumber"), 16)  # (mining paused: the head till the transfer)
    try:
        async with running_node(cfg) as (node, api):
            assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
            matched = matches_seen(node, monkeypatch)
            async with asyncio.timeout(30):
                stale = await held.get()  # (the mirror at a block before the transfer's)
            assert alice in stale.funds and (node.mirror.spendable(alice) or 0) > 0, stale
            move_pooled(c, ALICE, "WETH")
            c.rpc.call("evm_mine")  # (the transfer first: the pooled settlement reverts)
            receipt = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
            assert receipt is not None and receipt["status"] == "0x0", receipt
            moved = int(receipt["blockNumber"], 16)
            c.rpc.call("evm_setAutomine", True)  # (whatever the node sends next lands)
            await judged_then_caught_up(node, gate, moved, resting, matched)
            assert node.settler.sent == 0 and node.settler.failed == 1
            assert node.settler.withdrawn_matches == 0
            assert await record(api, resting.hash_hex) == ("unfunded", "0", "0")
            assert await record(api, other.hash_hex) == ("open", "0", "0")
            assert c.exchange.order_info(other.order).filled == 0
            e = node.book.find(resting.hash)
            assert e is None or e.pending == 0
    finally:
        gate.set()
        c.rpc.call("evm_setAutomine", True)


async def test_a_settlement_signed_here_that_reverts_gets_no_older_funds_back(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same window for a settlement this run signed: it stays pooled while a block
    touching ALICE's WETH is mined without it (its bytes dropped from the pool, sent again
    after), the watcher's apply of that block held till the diagnosis of the revert in the
    next one (she moved her WETH away in it, before the settlement) has ended."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, taker, other = crossing(c)  # (CAROL's posted once the ask is in flight)
    alice = (resting.order.maker, resting.order.maker_token)
    held: asyncio.Queue[BlockChanges] = asyncio.Queue()
    gate = asyncio.Event()
    hold_from: list[int] = []  # (the block whose apply waits, once known)
    applied = Node._on_block

    async def apply_held(node: Node, changes: BlockChanges) -> None:
        if not gate.is_set() and hold_from and changes.head >= hold_from[0]:
            held.put_nowait(changes)
            async with asyncio.timeout(HOOK_BOUND):
                await gate.wait()
        await applied(node, changes)

    monkeypatch.setattr(Node, "_on_block", apply_held)
    try:
        async with running_node(cfg) as (node, api):
            head = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: node.watcher.unapplied.applied >= head)
            c.rpc.call("evm_setAutomine", False)
            assert (await api.post_order(resting))[0] == 201
            assert (await api.post_order(taker))[0] == 201
            await wait_for(lambda: len(node.settler.in_flight) == 1)
            (tx,) = node.settler.in_flight
            raw = node.settler.signed_views[tx][1].raw
            # (in flight from its signature on, its broadcast after: in the pool before the
            # drop, else the drop finds nothing, dup80: failed 1 of 4 runs under -n 2)
            await wait_for(lambda: c.rpc.call("eth_getTransactionByHash", tx) is not None)
            assert (await api.post_order(other))[0] == 201  # (rests: the ask is in flight)
            matched = matches_seen(node, monkeypatch)
            dropped = c.rpc.call("hardhat_dropTransaction", tx)
            assert dropped in (True, tx)
            hold_from.append(int(c.rpc.call("eth_blockNumber"), 16) + 1)
            exchange = c.exchange.address  # her WETH touched in a block without it
            data = c.weth.abi.fn("approve").encode(exchange, c.weth.allowance(alice[0], exchange))
            sender = Sender(c.rpc, c.keys[ALICE], c.deployment.chain_id)
            sender.broadcast(sender.sign(c.weth.address, data, 100_000, fees=(100 * GWEI, GWEI)))
            c.rpc.call("evm_mine")
            async with asyncio.timeout(30):
                stale = await held.get()  # (the mirror at the block before the transfer's)
            assert alice in stale.funds and (node.mirror.spendable(alice) or 0) > 0, stale
            with contextlib.suppress(RpcError):  # (the lane may have sent it again first)
                c.rpc.call("eth_sendRawTransaction", raw)
            move_pooled(c, ALICE, "WETH")
            c.rpc.call("evm_mine")  # (the transfer first: the settlement reverts)
            receipt = c.rpc.call("eth_getTransactionReceipt", tx)
            assert receipt is not None and receipt["status"] == "0x0", receipt
            moved = int(receipt["blockNumber"], 16)
            c.rpc.call("evm_setAutomine", True)
            await judged_then_caught_up(node, gate, moved, resting, matched)
            assert node.settler.sent == 1 and node.settler.failed == 1
            assert await record(api, resting.hash_hex) == ("unfunded", "0", "0")
            assert await record(api, other.hash_hex) == ("open", "0", "0")
    finally:
        gate.set()
        c.rpc.call("evm_setAutomine", True)
