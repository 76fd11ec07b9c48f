"""cancel65: a match made but not yet signed when one of its orders is cancelled ON CHAIN
(``cancelOrder``, ``cancelOrdersUpTo``, in a block the node's mirror applied) is not signed:
dropped as a soft-cancelled one is (cancel64), the cancelled order closed ``cancelled`` with no
fill from it, the other order back on the book, open, nothing counted against it.

Before, the settler signed it once a settlement slot freed: a transaction the chain could only
revert (a lone ``matchOrders``: mined, the operator's gas paid for nothing) or skip (in a
batch, its gas paid too). Real Hardhat mining only when told: the maker's cancel mined alone
(a block whose base fee only its fee cap meets), the node's settlements held in the pool."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.chain import Sender
from sdex.chain.tx import fees_for
from sdex.order import SignedOrder
from tests.conftest import Chain, Engine
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import fee_walked_to
from tests.test_audit62_cancel_kept import meta_at
from tests.test_cancel64_queued_match import dropped_and_trades_on, queued_match
from tests.test_mirror import synced
from tests.test_node import ALICE
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs

__all__ = ["held_chain"]  # (the fixture, used by name)

GWEI = 10**9
HIGH_BASE = 10_000 * GWEI
"""The base fee of the block that mines the maker's cancel alone: above the node's fee cap."""


def operator_count(c: Chain, address: str, block: str) -> int:
    return int(c.rpc.call("eth_getTransactionCount", address, block), 16)


def mine_alone(c: Chain, maker: int, fn: str, *args: object) -> None:
    """``fn(*args)`` on the Exchange from ``maker``, mined in a block of its own: the node's
    pooled settlements (signed with a lower fee cap) stay in the pool."""
    data = c.exchange.abi.fn(fn).encode(*args)
    sender = Sender(c.rpc, c.keys[maker], c.deployment.chain_id)
    signed = sender.sign(c.exchange.address, data, 200_000, fees=fees_for(HIGH_BASE))
    sender.broadcast(signed)
    c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(HIGH_BASE))
    c.rpc.call("evm_mine")
    receipt = c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
    assert receipt is not None and receipt["status"] == "0x1", receipt


def by_hash(half: SignedOrder) -> tuple[str, tuple[object, ...]]:
    return "cancelOrder", (half.order.to_tuple(),)


def up_to(half: SignedOrder) -> tuple[str, tuple[object, ...]]:
    return "cancelOrdersUpTo", (half.order.salt + 1,)


@pytest.mark.parametrize("how", [by_hash, up_to], ids=["cancelOrder", "cancelOrdersUpTo"])
async def test_a_match_queued_at_an_onchain_cancel_is_not_signed(
    held_chain: Chain,
    tmp_path: Path,
    how: Callable[[SignedOrder], tuple[str, tuple[object, ...]]],
    engine: Engine,
) -> None:
    if engine == "anvil":  # (its pending block held none of them: 0 of 4)
        pytest.skip(
            "Hardhat only: anvil drops the held settlements from its pool at the cancel's "
            "block, whose base fee outran their fee cap (as in test_settlement_pooled.py)"
        )
    c = held_chain
    await fee_walked_to(c, GWEI)  # (the node's floor near the chain's fee after HIGH_BASE: fee93)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        asks, half, other = await queued_match(c, node, api)  # every slot held, one queued
        held = len(asks)
        operator = node.sender.address
        signed_before = operator_count(c, operator, "pending")
        assert signed_before - operator_count(c, operator, "latest") == held
        fn, args = how(half)
        mine_alone(c, ALICE, fn, *args)  # the maker's cancel: mined, the slots still held
        await synced(node, c)
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(GWEI))  # (they fit the next one)
        assert pending_txs(c) == held
        c.rpc.call("evm_mine")  # the slots free: the queued match is taken now
        await wait_for(lambda: all(c.exchange.order_info(a.order).filled for a in asks), 30)

        async def back() -> bool:  # given back (or, before: signed and sent)
            if pending_txs(c) > 0:
                return True
            return (await meta_at(api, other.hash_hex))["pendingMakerAmount"] == "0"

        await wait_for(back, timeout=30)
        c.rpc.call("evm_mine")  # (a settlement signed after the cancel lands here)
        await synced(node, c)
        # nothing signed after the held settlements: no transaction the chain must refuse
        assert operator_count(c, operator, "latest") == signed_before
        assert node.settler.failed == 0
        await dropped_and_trades_on(c, node, api, half, other)
