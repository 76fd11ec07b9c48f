"""take65: a match made but not yet signed whose settlement the chain must refuse is not
signed: an order of it EXPIRED meanwhile (by the chain's clock, or before the chain's next
block can be stamped), or its maker's funds, as the mirror shows them, fell short of what
it needs (together with what his matches signed before, and those ahead of it in its batch,
take first). Given back unsent and withdrawn (as cancel64's), the other order's amount back
on the book; the expired order closes ``expired`` as the node closes any, the unfunded one
shows ``unfunded``.

Before, the settler signed it once a settlement slot freed: a transaction the chain could
only revert (a lone match: ``OrderExpired``, a token's ``transferFrom`` refusal) or skip
(in a batch), the operator's gas paid for nothing. Real Hardhat mining only when told, the
node's settlements held in the pool (cancel65's ``held_chain``), a real node on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sdex.chain import Sender
from sdex.chain.tx import fees_for
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain, Engine
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.replacedrow import fee_walked_to
from tests.test_audit62_cancel_kept import meta_at
from tests.test_cancel65_onchain_queued import GWEI, HIGH_BASE, operator_count
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs
from tests.test_settlement_pipeline import post_all

__all__ = ["held_chain"]  # (the fixture, used by name)

SINK = 6
"""The dev account a maker moves her tokens to."""


@pytest.fixture(autouse=True)
def hardhat_only(engine: Engine) -> None:
    if engine == "anvil":  # (as test_cancel65_onchain_queued.py)
        pytest.skip(
            "Hardhat only: anvil drops the held settlements from its pool at a block whose "
            "base fee outran their fee cap (as in test_settlement_pooled.py)"
        )


async def hold_slots(
    c: Chain, node: Node, api: Api, last: list[SignedOrder] | None = None
) -> list[SignedOrder]:
    """Every settlement slot of ``node`` held by a transaction pooled, unmined: the orders
    whose fill each waits for (Carol's asks crossing Dave's bids; the last one ``last``'s
    crossing of a resting order, if given)."""
    n = node.settler.max_in_flight - (last is not None)
    asks = [c.sign(ask(c, CAROL, E18 // 10, 100 * E6)) for _ in range(n)]
    posts = [[a, c.sign(bid(c, DAVE, E18 // 10, 100 * E6))] for a in asks]
    for k, orders in enumerate([*posts, *([last] if last else [])], 1):
        await post_all(api, orders)
        await wait_for(lambda k=k: pending_txs(c) >= k, timeout=60)  # type: ignore[misc]
    return asks + (last or [])


@asynccontextmanager
async def held_node(
    c: Chain, tmp_path: Path
) -> AsyncIterator[tuple[Node, Api, list[SignedOrder], int]]:
    """A node on ``c`` with every settlement slot held (``hold_slots``): the node, its API,
    the held orders and the operator's transaction count signed before any other."""
    await fee_walked_to(c, GWEI)  # (the node's floor near the chain's fee after HIGH_BASE: fee93)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        asks = await hold_slots(c, node, api)
        yield node, api, asks, operator_count(c, node.sender.address, "pending")


async def queued(api: Api, orders: list[SignedOrder], pending: dict[str, int]) -> None:
    """Post ``orders``; until the node holds ``pending`` (maker amount by order hash) in
    flight for them: matched, queued for a slot, not signed."""
    await post_all(api, orders)

    async def matched() -> bool:
        for h, amount in pending.items():
            if (await meta_at(api, h))["pendingMakerAmount"] != str(amount):
                return False
        return True

    await wait_for(matched, timeout=30)


def mine_empty_block(c: Chain, timestamp: int | None = None) -> None:
    """A block the node's pooled settlements (signed with a lower fee cap) stay out of."""
    c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(HIGH_BASE))
    if timestamp is not None:
        c.rpc.call("evm_setNextBlockTimestamp", timestamp)
    c.rpc.call("evm_mine")
    c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(GWEI))  # (they fit the next one)


def mined_alone(c: Chain, who: int, to: str, data: bytes, gas: int) -> None:
    """``who``'s call of ``to`` with ``data``, mined in a block of its own (the held
    settlements stay out of it: ``mine_empty_block``), and succeeded."""
    sender = Sender(c.rpc, c.keys[who], c.deployment.chain_id)
    signed = sender.sign(to, data, gas, fees=fees_for(HIGH_BASE))
    sender.broadcast(signed)
    mine_empty_block(c)
    receipt = c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
    assert receipt is not None and receipt["status"] == "0x1", receipt


def move_weth_alone(c: Chain, maker: int, keep: int) -> None:
    """``maker`` moves all her WETH but ``keep`` away, mined in a block of its own."""
    amount = c.weth.balance_of(c.address(maker)) - keep
    data = c.weth.abi.fn("transfer").encode(c.address(SINK), amount)
    mined_alone(c, maker, c.weth.address, data, 100_000)
    assert c.weth.balance_of(c.address(maker)) == keep


async def free_slots(c: Chain, node: Node, asks: list[SignedOrder], api: Api, watch: str) -> None:
    """Mine the held settlements: the queued matches are taken now; until each is signed
    and pooled or given back (``watch``'s pending amount 0), then mine what was signed."""
    c.rpc.call("evm_mine")
    await wait_for(lambda: all(c.exchange.order_info(a.order).filled for a in asks), 30)

    async def taken() -> bool:
        if pending_txs(c) > 0:  # signed and sent (before)
            return True
        return (await meta_at(api, watch))["pendingMakerAmount"] == "0"

    await wait_for(taken, timeout=30)
    c.rpc.call("evm_mine")  # (a settlement signed meanwhile lands here)
    await synced(node, c)


async def state_of(api: Api, so: SignedOrder) -> dict[str, object]:
    """``so``'s status, filled and pending maker amounts, as the node serves them."""
    meta = await meta_at(api, so.hash_hex)
    return {k: meta[k] for k in ("status", "filledMakerAmount", "pendingMakerAmount")}


async def innocent(node: Node, api: Api, so: SignedOrder) -> None:
    """``so`` open, nothing filled, pending nor counted against it."""
    assert await state_of(api, so) == {
        "status": "open", "filledMakerAmount": "0", "pendingMakerAmount": "0",
    }  # fmt: skip
    rec = node.records.get(so.hash)
    assert rec is not None and rec.failures == 0


def both_filled(
    c: Chain, node: Node, signed_before: int, buys: SignedOrder, sells: SignedOrder
) -> None:
    """One transaction signed after the held ones, filling ``buys`` and ``sells`` whole."""
    assert operator_count(c, node.sender.address, "latest") == signed_before + 1
    assert c.exchange.order_info(buys.order).filled == 900 * E6
    assert c.exchange.order_info(sells.order).filled == E18
    assert (node.settler.failed, node.settler.withdrawn_matches) == (0, 0)


async def test_a_match_queued_past_its_orders_expiry_is_not_signed(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with held_node(c, tmp_path) as (node, api, asks, signed_before):
        operator = node.sender.address
        expiry = node.chain_time() + 300
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6, expiry=expiry))
        other = c.sign(bid(c, BOB, E18, 1000 * E6))
        await queued(api, [half, other], {half.hash_hex: E18})
        mine_empty_block(c, expiry + 1)  # Alice's ask expires on chain, the slots still held
        await synced(node, c)
        await free_slots(c, node, asks, api, other.hash_hex)
        # nothing signed after the held settlements: no transaction the chain must refuse
        assert operator_count(c, operator, "latest") == signed_before
        assert (node.settler.failed, node.settler.withdrawn_matches) == (0, 1)
        assert await state_of(api, half) == {
            "status": "expired", "filledMakerAmount": "0", "pendingMakerAmount": "0",
        }  # fmt: skip
        await innocent(node, api, other)


@pytest.mark.parametrize("funded", [1, 0], ids=["batch", "lone"])
async def test_matches_queued_past_their_makers_funds_are_not_signed_those_funded_are(
    held_chain: Chain, tmp_path: Path, funded: int
) -> None:
    """Alice's ask matched ``funded`` + 1 times (1 WETH to Bob, then to Carol), all queued;
    she keeps what ``funded`` of them need: those are signed and settled (in one batch, the
    one she cannot pay skipped: it ran the batch again match by match); the last is
    withdrawn, its bid back on the book, Alice's ask unfunded (lone: reverted before, the
    token's refusal, the operator's gas paid; now nothing is sent)."""
    c = held_chain
    async with held_node(c, tmp_path) as (node, api, asks, signed_before):
        operator = node.sender.address
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))
        bids = [c.sign(bid(c, taker, E18, 1000 * E6)) for taker in (BOB, CAROL)[: funded + 1]]
        await queued(api, [half, *bids], {half.hash_hex: (funded + 1) * E18})
        move_weth_alone(c, ALICE, funded * E18)  # she keeps what ``funded`` matches need
        await synced(node, c)
        await free_slots(c, node, asks, api, bids[-1].hash_hex)
        assert operator_count(c, operator, "latest") == signed_before + funded
        assert [c.exchange.order_info(b.order).filled for b in bids] == [1000 * E6] * funded + [0]
        # (nothing failed on chain; the unpaid match withdrawn unsent, once: settle98, its
        # bid given back was matched again with the ask, and withdrawn twice, when the
        # settled block's funds reached the mirror only after the node took them from it)
        assert (node.settler.failed, node.settler.withdrawn_matches) == (0, 1)
        assert await state_of(api, half) == {
            "status": "unfunded", "filledMakerAmount": str(funded * E18), "pendingMakerAmount": "0",
        }  # fmt: skip
        await innocent(node, api, bids[-1])


async def test_a_match_its_maker_is_paid_for_earlier_in_the_batch_is_signed(
    held_chain: Chain, tmp_path: Path
) -> None:
    """Differential (in doubt, signed): Alice moves all her WETH away while two matches of
    hers wait, the first buying her 1 WETH (her bid, Carol's ask), the second selling 1 WETH
    (her ask, Bob's bid). The mirror shows her no WETH, but the chain runs the batch in
    order: the first pays her what the second takes. Both signed, in one transaction, and
    both filled."""
    c = held_chain
    async with held_node(c, tmp_path) as (node, api, asks, signed_before):
        buys = c.sign(bid(c, ALICE, E18, 900 * E6))
        sells = c.sign(ask(c, ALICE, E18, 1100 * E6))
        carol = c.sign(ask(c, CAROL, E18, 900 * E6))
        bob = c.sign(bid(c, BOB, E18, 1100 * E6))
        await queued(api, [buys, sells], {})
        await queued(api, [carol], {buys.hash_hex: 900 * E6})
        await queued(api, [bob], {sells.hash_hex: E18})
        move_weth_alone(c, ALICE, 0)
        await synced(node, c)
        assert node.mirror.spendable((sells.order.maker, sells.order.maker_token)) == 0
        await free_slots(c, node, asks, api, bob.hash_hex)
        both_filled(c, node, signed_before, buys, sells)


async def test_a_match_its_maker_is_paid_for_by_a_settlement_in_flight_is_signed(
    held_chain: Chain, tmp_path: Path
) -> None:
    """Differential, as above, the match paying her signed before (in flight, pooled): it
    lands first, and the queued match selling what it bought her is signed and filled."""
    c = held_chain
    await fee_walked_to(c, GWEI)  # (the node's floor near the chain's fee after HIGH_BASE: fee93)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        buys = c.sign(bid(c, ALICE, E18, 900 * E6))
        await queued(api, [buys], {})
        held = await hold_slots(c, node, api, last=[c.sign(ask(c, CAROL, E18, 900 * E6))])
        operator = node.sender.address
        signed_before = operator_count(c, operator, "pending")
        sells = c.sign(ask(c, ALICE, E18, 1100 * E6))
        bob = c.sign(bid(c, BOB, E18, 1100 * E6))
        await queued(api, [sells, bob], {sells.hash_hex: E18})
        move_weth_alone(c, ALICE, 0)
        await synced(node, c)
        assert node.mirror.spendable((sells.order.maker, sells.order.maker_token)) == 0
        # the queued batch as it would be signed now, her purchase pooled: paid by it
        assert [m.resting.hash for m in node.settler._queue] == [sells.hash]
        assert pending_txs(c) == len(held)
        assert node._unpaid(node.settler._queue) == set()
        await free_slots(c, node, held, api, bob.hash_hex)
        both_filled(c, node, signed_before, buys, sells)
