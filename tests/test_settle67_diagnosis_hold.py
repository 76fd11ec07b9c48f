"""settle67 (chaos66's defect): a match queued behind a settlement of the same order that
failed is not signed while that failure's diagnosis reads the chain. Alice's ask is matched
twice: the first match signed and pooled (the last settlement slot), the second queued; she
moves her WETH away in the block the first lands in, before it: the first, a lone
``matchOrders``, reverts. The node's mirror has not applied that block (its watcher is
behind: chaos66's was recovering from a reorg), so nothing it holds says Alice is short.
Before, the slot freed by the revert took the second match at once (10 ms after, in
chaos66), signed it before the diagnosis had read the chain: a second transaction the chain
could only revert, the operator's gas paid for it (failed 1 of 1 before). Now the queued
match waits for the diagnosis, which finds Alice short: it is withdrawn, never signed, its
bid back on the book. (Real Hardhat mining only when told, as take65's tests.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain import Sender
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement.take import DOOMED_WHY
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_audit62_cancel_kept import meta_at
from tests.test_cancel65_onchain_queued import GWEI, operator_count
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import pending_txs
from tests.test_settle65_unpaid_inflight import ERIN
from tests.test_settlement_pipeline import post_all
from tests.test_take65_doomed_queued import (
    SINK,
    hardhat_only,
    held_chain,
    innocent,
    queued,
)

__all__ = ["hardhat_only", "held_chain"]  # (the fixtures, used by name)


def move_weth_pooled(c: Chain, maker: int) -> str:
    """``maker``'s transfer of all her WETH away, pooled with a tip above the node's: the
    next block runs it before the node's settlements. Its transaction hash."""
    amount = c.weth.balance_of(c.address(maker))
    data = c.weth.abi.fn("transfer").encode(c.address(SINK), amount)
    sender = Sender(c.rpc, c.keys[maker], c.deployment.chain_id)
    signed = sender.sign(c.weth.address, data, 100_000, fees=(100 * GWEI, 50 * GWEI))
    sender.broadcast(signed)
    return signed.tx_hash


async def hold_slots(c: Chain, node: Node, api: Api, slots: int, ahead: int) -> list[SignedOrder]:
    """``slots`` settlement slots held by transactions pooled behind ``ahead`` pooled
    already (take65's ``hold_slots``, after the first match): Carol's asks crossing Dave's."""
    asks = [c.sign(ask(c, CAROL, E18 // 10, 100 * E6)) for _ in range(slots)]
    for k, a in enumerate(asks, ahead + 1):
        await post_all(api, [a, c.sign(bid(c, DAVE, E18 // 10, 100 * E6))])
        await wait_for(lambda k=k: pending_txs(c) >= k, timeout=60)  # type: ignore[misc]
    return asks


def mine_first(c: Chain, operator: str, nonce: int) -> None:
    """A block of the pooled transfer and the operator's settlement at ``nonce`` alone: its
    gas limit leaves the later ones out, their slots held (Hardhat reports receipts in no
    set order: one of theirs first would free a slot while the first is in flight)."""
    block = c.rpc.call("eth_getBlockByNumber", "pending", True)
    (tx,) = [
        t
        for t in block["transactions"]
        if t["from"].lower() == operator.lower() and int(t["nonce"], 16) == nonce
    ]
    was = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["gasLimit"], 16)
    c.rpc.call("evm_setBlockGasLimit", hex(100_000 + int(tx["gas"], 16)))
    try:
        c.rpc.call("evm_mine")
    finally:
        c.rpc.call("evm_setBlockGasLimit", hex(was))
    receipt = c.rpc.call("eth_getTransactionReceipt", tx["hash"])
    assert receipt is not None and receipt["status"] == "0x0", receipt


async def first_reverted(
    c: Chain, node: Node, api: Api, before: Callable[[], object] = lambda: None
) -> tuple[SignedOrder, SignedOrder, list[SignedOrder], int]:
    """Alice's ask matched twice, the first settlement signed and pooled (the last slot),
    the second queued; her WETH moved away in the block the first lands in, before it: the
    first reverts (``before`` called before that block). (her ask, the second bid, the
    orders of the held slots, the operator's pending count before the second)."""
    half = c.sign(ask(c, ALICE, 2 * E18, 2400 * E6))  # (above the held ones' price)
    await queued(api, [half], {})
    first = c.sign(bid(c, BOB, E18, 1200 * E6))  # (its match: signed first, pooled)
    await post_all(api, [first])
    await wait_for(lambda: pending_txs(c) == 1, timeout=30)
    held = await hold_slots(c, node, api, slots=node.settler.max_in_flight - 1, ahead=1)
    operator = node.sender.address
    signed_before = operator_count(c, operator, "pending")
    second = c.sign(bid(c, ERIN, E18, 1200 * E6))
    await queued(api, [second], {half.hash_hex: 2 * E18})
    moved = move_weth_pooled(c, ALICE)
    assert pending_txs(c) == len(held) + 2
    before()
    mine_first(c, operator, signed_before - len(held) - 1)  # (it reverts)
    assert pending_txs(c) == len(held)
    receipt = c.rpc.call("eth_getTransactionReceipt", moved)
    assert receipt is not None and receipt["status"] == "0x1", receipt
    assert c.exchange.order_info(half.order).filled == 0
    return half, second, held, signed_before


async def test_a_queued_match_waits_for_the_diagnosis_of_its_orders_failed_settlement(
    held_chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = held_chain
    caplog.set_level(logging.INFO, "sdex.node")
    # the watcher never polls again after the start: the mirror does not apply the block
    cfg = replace(node_config(c, tmp_path / "n.db"), poll_interval=3600.0, new_heads=False)
    async with running_node(cfg) as (node, api):
        half, second, held, signed_before = await first_reverted(c, node, api)
        operator = node.sender.address

        async def taken() -> bool:  # the second signed and pooled, or given back
            if pending_txs(c) > len(held):
                return True
            return (await meta_at(api, second.hash_hex))["pendingMakerAmount"] == "0"

        await wait_for(taken, timeout=30)
        c.rpc.call("evm_mine")  # (the held ones, and a settlement signed meanwhile, land here)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        # nothing signed after the held settlements (before: the second, a certain revert)
        assert operator_count(c, operator, "pending") == signed_before
        assert (node.settler.failed, node.settler.withdrawn_matches) == (1, 1)
        # said as what it is (settle69: "cancelled or expired before it was signed")
        assert f"{half.hash_hex} vs {second.hash_hex} failed: {DOOMED_WHY}" in caplog.text
        meta = await meta_at(api, half.hash_hex)
        assert (meta["status"], meta["pendingMakerAmount"]) == ("unfunded", "0")
        await innocent(node, api, second)
