"""hold70 (settle67's hold, at the moment of signing): a match taken into a batch just before
a failed settlement of an order of it is reported, and signed after (here its fee read held
by a loopback proxy in front of the chain; in the wild the lane's lock, a nonce read).
settle67's case: Alice's ask matched twice, the first settlement pooled, the second match
taken into a batch and waiting for its fees; Alice moves her WETH away in the block the first
lands in, before it: the first reverts. The node's mirror has not applied that block.

Its fees come while the diagnosis reads the chain: before, it was signed (the hold was
checked only as a batch forms), a second transaction the chain could only revert, the
operator's gas paid (failed 3 of 3 before). Now the signature's check
(``sdex.settlement.take.still``) sends a held match back to the queue, where it waits for
the diagnosis, which withdraws it.

Its fees come after the diagnosis found Alice short: before, the diagnosis counted the
match taken (never signed, in no chain read) as another fill of hers in flight and kept her
funds from before its read; her ask stayed matchable, Bob's bid given back was matched to it
again and withdrawn again (two withdrawals, each said "funds fell short"; failed 3 of 3
before). Now the diagnosis counts it as never signed, sets her funds from its read (her ask
unfunded), and withdraws it as it withdraws the queued ones. (Real Hardhat mining only when
told, as settle67's test.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement.gas import FEE_TTL
from sdex.settlement.take import DOOMED_WHY
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Calls, Gate, gated_proxy
from tests.test_audit62_cancel_kept import meta_at
from tests.test_cancel65_onchain_queued import operator_count
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import pending_txs
from tests.test_settle65_unpaid_inflight import ERIN
from tests.test_settle67_diagnosis_hold import mine_first, move_weth_pooled
from tests.test_settlement_pipeline import post_all
from tests.test_take65_doomed_queued import hardhat_only, held_chain, innocent, queued

__all__ = ["hardhat_only", "held_chain"]  # (the fixtures, used by name)


def fee_read(calls: Calls) -> bool:
    """The lane's read of the fees it signs with (``Fees._read``): the watcher polls no more."""
    return len(calls) == 1 and (calls[0].get("method"), calls[0].get("params")) == (
        "eth_getBlockByNumber",
        ["latest", False],
    )


def states_read(selector: str) -> Gate:
    """A gate for the diagnosis's chain read (``getOrderStates``, ``selector``)."""

    def picks(calls: Calls) -> bool:
        for c in calls:
            params = c.get("params")
            first = params[0] if isinstance(params, list) and params else None
            data = first.get("data") if isinstance(first, dict) else None
            if c.get("method") == "eth_call" and str(data).startswith(selector):
                return True
        return False

    return Gate(picks)


def taken(node: Node, so: SignedOrder) -> bool:
    """Whether ``so``'s match (made) is taken into a batch: neither queued nor signed."""
    s = node.settler
    return not any(so.hash == m.incoming.hash for m in (*s.queued(), *s.signed_out.values()))


@asynccontextmanager
async def second_waiting_fees(
    c: Chain, tmp_path: Path, diagnosis: Gate
) -> AsyncIterator[tuple[Node, Api, Gate, SignedOrder, SignedOrder, int]]:
    """A node behind a proxy; Alice's ask matched twice, the first settlement pooled, the
    second match taken into a batch, its signature waiting for its fee read (held: the
    gate yielded). (node, API, the gate, her ask, the second bid, the first's nonce)"""
    fees = Gate(fee_read)
    with gated_proxy(c.deployment.rpc, [fees, diagnosis]) as url:
        # the watcher never polls after the start: the mirror does not apply the block
        cfg = node_config(c, tmp_path / "n.db")
        cfg = replace(cfg, rpc=url, poll_interval=3600.0, new_heads=False)
        async with running_node(cfg) as (node, api):
            half = c.sign(ask(c, ALICE, 2 * E18, 2400 * E6))
            await queued(api, [half], {})
            await post_all(api, [c.sign(bid(c, BOB, E18, 1200 * E6))])  # (signed, pooled)
            await wait_for(lambda: pending_txs(c) == 1, timeout=30)
            first = operator_count(c, node.sender.address, "pending") - 1
            loop = asyncio.get_running_loop()
            cache = node.settler.fees._cache  # (those the first was signed with: expired)
            await wait_for(lambda: cache is None or loop.time() - cache[1] >= FEE_TTL, 10)
            fees.armed.set()
            second = c.sign(bid(c, ERIN, E18, 1200 * E6))
            await post_all(api, [second])
            await wait_for(fees.held.is_set, timeout=30)
            assert taken(node, second)
            diagnosis.armed.set()  # (after the intake's read of the bid's state)
            move_weth_pooled(c, ALICE)
            mine_first(c, node.sender.address, first)  # (it reverts)
            assert pending_txs(c) == 0
            yield node, api, fees, half, second, first


async def unsigned_and_doomed(
    c: Chain, node: Node, api: Api, half: SignedOrder, second: SignedOrder, first: int,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Nothing signed after the first settlement: the second match withdrawn as found at
    fault by the diagnosis, Alice's ask unfunded, the second bid open, counted nothing."""
    await wait_for(lambda: pending_txs(c) > 0 or node.settler.withdrawn_matches > 0, 30)
    c.rpc.call("evm_mine")  # (a settlement signed meanwhile lands here)
    await wait_for(lambda: node.settler.idle.is_set() and not node._holds, timeout=30)
    assert operator_count(c, node.sender.address, "pending") == first + 1  # (before: + 2)
    assert (node.settler.failed, node.settler.withdrawn_matches) == (1, 1)
    assert f"{half.hash_hex} vs {second.hash_hex} failed: {DOOMED_WHY}" in caplog.text
    meta = await meta_at(api, half.hash_hex)
    assert (meta["status"], meta["pendingMakerAmount"]) == ("unfunded", "0")
    await innocent(node, api, second)


async def test_a_match_taken_before_the_hold_is_not_signed_during_the_diagnosis(
    held_chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = held_chain
    caplog.set_level(logging.INFO, "sdex.node")
    probe = c.sign(ask(c, ALICE, E18, 1200 * E6))  # (any order: the call's selector)
    diagnosis = states_read("0x" + c.exchange.encode_order_states([probe])[:4].hex())
    async with second_waiting_fees(c, tmp_path, diagnosis) as (node, api, fees, half, second, n):
        await wait_for(diagnosis.held.is_set, timeout=30)  # (its diagnosis reads: held)
        assert half.hash in node._held()
        fees.release.set()  # the second's fees come, the diagnosis under way
        s = node.settler
        await wait_for(lambda: pending_txs(c) > 0 or not taken(node, second), timeout=30)
        assert pending_txs(c) == 0, "signed while its order's failure was diagnosed"
        assert [m.incoming.hash for m in s.queued()] == [second.hash]  # (back, held)
        diagnosis.release.set()
        await unsigned_and_doomed(c, node, api, half, second, n, caplog)


async def test_a_match_taken_before_the_hold_is_not_signed_after_a_diagnosis_of_fault(
    held_chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = held_chain
    caplog.set_level(logging.INFO, "sdex.node")
    async with second_waiting_fees(c, tmp_path, Gate(lambda _: False)) as (
        node, api, fees, half, second, n,
    ):  # fmt: skip
        # the diagnosis ends (Alice found short) while the second waits for its fees
        await wait_for(lambda: node.settler.failed == 1 and not node._holds, timeout=30)
        assert taken(node, second)
        fees.release.set()
        await unsigned_and_doomed(c, node, api, half, second, n, caplog)
