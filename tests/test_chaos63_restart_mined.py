"""A node's own settlement that was mined while the node was down counts in the one-shot
order it fills (chaos63). Found by ``bench/chaos52.py --seeds 2 --restart-in-reorg``
(``/tmp/chaos52-2-_t66izqs``, node 1): an IOC matched, its settlement sent and mined, and
the node stopped (SIGTERM) 0.05 s later, before its receipt or its block was applied. At the
restart ``reconcile`` found the receipt (``mined``), the stored IOC was closed ``removed``
("not resting after restart") with the filled amount of the saved mirror, whose head was
below that block, and the watcher's catch-up then applied the block: a fill of an order
already closed, counted nowhere. The order said 0 filled, the chain 99,800,000, and ``sdex
audit --node`` flagged the node's own settlement (``fill_after_node_closed``) until a reset
re-judged it. chaos52's given-up settlement (``test_chaos52_given_up``) was counted; one
found mined at the start was not."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.settlement import reconcile
from sdex.watch.watcher import CATCH_UP_BLOCKS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chaos52_given_up import counts, lands_and_counts, pooled_at_stop
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_settlement_mined_while_the_node_was_down_counts_in_its_ioc(
    chain: Chain, tmp_path: Path
) -> None:
    await _mined_while_down(chain, tmp_path, 0)


async def test_an_ioc_read_from_the_chain_at_a_restart_says_it_traded_in_part(
    chain: Chain, tmp_path: Path
) -> None:
    """fix78b: the same, the node down long enough that its restart judges the stored
    orders by the chain's word, not the saved mirror's (more than ``CATCH_UP_BLOCKS``
    behind; under load the same happens when the saved head is not read at the start,
    ``Watcher.check_head``): the IOC, half filled by the chain, was closed "ioc: not resting
    after restart" with 500,000,000 filled (CI's loaded run of the test above), where the
    fill counted after the restart (the saved mirror's way) says "partly filled"."""
    await _mined_while_down(chain, tmp_path, CATCH_UP_BLOCKS + 1)


async def _mined_while_down(c: Chain, tmp_path: Path, blocks: int) -> None:
    """An IOC's settlement pooled at a stop, mined (and ``blocks`` more) while the node is
    down: after the restart the IOC is ``removed``, its half counted, "partly filled"."""
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    low = c.sign(bid(c, BOB, E18 // 10, 50 * E6))  # BOB's at 500: rests, crosses nothing
    ioc = c.sign(bid(c, BOB, E18, 1000 * E6))  # 1 WETH at 1000: half of it trades
    try:
        async with running_node(cfg) as (node, api):
            assert (await api.post_taken(resting))[0] == 201
            assert (await api.post_taken(low))[0] == 201
            c.rpc.call("evm_mine")  # a block saved with both makers' funds in the mirror: the
            await synced(node, c)  # restart judges its orders from it, no chain read
            c.rpc.call("evm_setAutomine", False)
            code, body = await api.post_taken(ioc, "ioc")
            assert code == 201 and body["matches"], body

            async def pooled() -> bool:
                return bool(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])

            await wait_for(pooled, timeout=20)  # (the settlement sent, not mined)
    finally:  # mined once the node stopped: at its restart the receipt is there
        c.rpc.call("evm_setAutomine", True)
        c.rpc.call("evm_mine")
    if blocks:
        c.rpc.call("hardhat_mine", hex(blocks), "0x0")  # (no time passes: unexpired)
    assert c.exchange.order_info(ioc.order).filled == 500 * E6
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        await counts(api, ioc, 500 * E6)  # before: "0" for good
        _, rec = await api.get(f"/v1/orders/{ioc.hash_hex}")
        assert rec["metaData"]["status"] == "removed", rec
        assert "partly filled" in rec["metaData"]["reason"], rec


async def test_a_settlement_given_up_before_another_restart_still_counts(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chaos52 --cuts, seed 5 (``/tmp/chaos52-5-lu8neoz9``, node 0): mining paused, an IOC's
    settlement pooled, the node stopped; its restart gave the settlement up after
    ``RESTART_RECEIPT_WAIT`` (``dropped``) and closed the IOC 0 filled; the node was killed
    again, and the settlement landed under the next run, which no longer knew it was given
    up (memory only): the IOC said 0 filled for good, the chain 93,563,637."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)  # (suite89: 10 s; unmined anyway)
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    ioc = c.sign(bid(c, BOB, E18, 1000 * E6))  # 1 WETH at 1000: half of it trades
    await pooled_at_stop(c, cfg, resting, ioc, "ioc")
    try:
        async with running_node(cfg) as (node, api):  # gives it up: the chain still pools it
            assert await api.status(ioc) == "removed"
        async with running_node(cfg) as (node, api):  # the next run: no settlement pending
            await lands_and_counts(c, node, api, ioc)
    finally:
        c.rpc.call("evm_setAutomine", True)
