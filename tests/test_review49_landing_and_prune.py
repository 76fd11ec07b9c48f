"""review49: the time a settlement took to land (``StageTimes.landing``, attack48) moves the
node's expiry clock (``NodeState.now``) ahead of the chain's (``chain_time``).

- One settlement that waited out a stalled chain (or a slow receipt) kept that clock up to a
  minute ahead until 16 more settlements landed: on a quiet node for as long as it stayed
  quiet, every order with less than that left was refused, or closed as expired for good, on
  a chain that settles at once again. A landing now counts for ``StageTimes.memory`` seconds
  (``LANDING_MEMORY``).
- The store's sweep of dead rows (``--drop-closed-after``) judged "expired" by that clock:
  a soft cancel the chain still honoured, up to a minute before its expiry, was deleted, so
  ``/p2p/cancelled`` no longer served it (a joining peer never learns of the cancel and
  takes the withdrawn order: attack38) and ``GET /v1/orders/{hash}`` answered 404. The
  sweep now goes by the chain's clock, as its option says.
- That sweep took a closed order's row saying ``filled`` 0 for a never-traded order: one
  soft-cancelled and then filled on chain (a soft cancel binds the nodes, not the chain)
  lost its row beside its listed fill. A fill row now keeps it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import Api, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.sandwich import node_on
from tests.test_attack44_chain_clock import pending_time
from tests.test_left48_dead_rows import pruning
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

STALL = 6
"""Seconds the chain holds a settlement before mining it."""
MEMORY = 2.0
"""The node's landing memory in the first test (the product's is minutes)."""


async def stalled_trade(c: Chain, node: Node, api: Api, stall: float = STALL) -> None:
    """A trade whose settlement the chain holds ``stall`` seconds: settled, the node idle."""
    operator = c.address(19)
    c.rpc.call("evm_setAutomine", False)
    try:
        first = c.sign(ask(c, ALICE, E18, 2000 * E6))
        assert (await api.post_order(first))[0] == 201
        assert (await api.post_order(c.sign(bid(c, BOB, E18, 2000 * E6))))[0] == 201

        def sent() -> bool:
            pending = c.rpc.call("eth_getTransactionCount", operator, "pending")
            return bool(pending != c.rpc.call("eth_getTransactionCount", operator, "latest"))

        await wait_for(sent, timeout=30)
        held = time.monotonic()
        # the stall itself: the chain mines nothing for ``stall`` seconds
        await wait_for(lambda: time.monotonic() >= held + stall, timeout=stall + 5)
        c.rpc.call("evm_mine")
    finally:
        c.rpc.call("evm_setAutomine", True)

    async def filled() -> bool:
        return await api.status(first) == "filled"

    await wait_for(filled, timeout=30)
    await wait_for(lambda: node.settler.idle.is_set(), timeout=30)


async def two_sweeps(node: Node) -> None:
    """Until the node's dead-rows sweep has run to the last row twice more."""
    sweeps = [node._prune_rest]

    def swept() -> bool:
        if node._prune_rest != sweeps[-1]:
            sweeps.append(node._prune_rest)
        return len(sweeps) > 2

    await wait_for(swept, timeout=10)


async def test_a_stalled_settlement_stops_moving_the_clock_after_the_memory(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        node.settler.stages.memory = MEMORY
        await stalled_trade(c, node, api)
        landed = time.monotonic()
        # quiet since: no settlement, the memory passes
        await wait_for(lambda: time.monotonic() >= landed + MEMORY + 0.5, timeout=MEMORY + 5)
        # an honest ask with 5 s left, on a chain that settles at once
        honest = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=node.chain_time() + 5))
        code, body = await api.post_order(honest)
        assert code == 201, body
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 2000 * E6)), "ioc")
        assert code == 201, body

        async def honest_filled() -> bool:
            return await api.status(honest) == "filled"

        await wait_for(honest_filled, timeout=30)


async def test_the_dead_rows_sweep_keeps_a_soft_cancel_the_chain_still_honours(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    async with running_node(pruning(c, tmp_path, monkeypatch)) as (node, api):
        await wait_for(node.mirror_ready)
        await stalled_trade(c, node, api)
        landing = node.settler.stages.landing
        assert landing >= STALL - 1
        expiry = node.chain_time() + landing + 6
        withdrawn = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
        assert (await api.post_order(withdrawn))[0] == 201
        await soft_cancel(c, api, withdrawn, ALICE)
        later = c.sign(ask(c, ALICE, E18, 3100 * E6))  # (the highest seq: kept anyway)
        assert (await api.post_order(later))[0] == 201
        # past its expiry by the node's clock, not by the chain's: two sweeps more
        await wait_for(lambda: node.now() > expiry + 1, timeout=30)
        assert node.chain_time() < expiry - 2  # (else the test ran too slowly to tell)
        await two_sweeps(node)
        assert node.chain_time() < expiry
        code, body = await api.get(f"/v1/orders/{withdrawn.hash_hex}")
        assert code == 200, body  # (404: its row deleted)
        assert body["metaData"]["status"] == "cancelled", body
        proofs, _ = await node.store.soft_cancels_after(0, 100, node.chain_time())
        assert [p.signed.hash_hex for p in proofs] == [withdrawn.hash_hex]  # /p2p/cancelled's


async def test_the_dead_rows_sweep_keeps_a_cancelled_order_someone_filled_on_chain(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A soft cancel binds the nodes, not the chain: the order was filled on chain after it
    (another node's settlement, a direct ``fillOrder``). Its fill is in ``/v1/fills``, but
    its row, closed, keeps ``filled`` 0: the sweep took it for a never-traded order and
    deleted it (``GET /v1/orders/{hash}`` 404 beside a fill of it)."""
    c = chain
    async with running_node(pruning(c, tmp_path, monkeypatch)) as (node, api):
        await wait_for(node.mirror_ready)
        withdrawn = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=pending_time(c) + 600))
        assert (await api.post_order(withdrawn))[0] == 201
        await soft_cancel(c, api, withdrawn, ALICE)
        c.exchange.fill_order(c.sender(BOB), withdrawn, 1000 * E6)  # on chain all the same
        await synced(node, c)
        c.rpc.call("evm_increaseTime", 660)  # it expires
        c.rpc.call("evm_mine")
        later = c.sign(ask(c, ALICE, E18, 3100 * E6, expiry=pending_time(c) + 600))
        assert (await api.post_order(later))[0] == 201  # (the highest seq: kept anyway)
        await synced(node, c)
        fills = await api.listing("/v1/fills", orderHash=withdrawn.hash_hex)
        assert [f["orderHash"] for f in fills["records"]] == [withdrawn.hash_hex]
        await two_sweeps(node)
        code, body = await api.get(f"/v1/orders/{withdrawn.hash_hex}")
        assert code == 200, body  # (404: its row deleted, its fill listed)
