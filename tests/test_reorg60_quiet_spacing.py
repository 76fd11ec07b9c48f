"""reorg60: ``BlockSpacing`` on a quiet devnet. A chain that mines on the send (Hardhat's
automine, ``sdex devnet``) used by hand mines a block minutes after the last: its heads'
gaps were all minutes, the least of them taken as the chain's spacing, capped at
``MAX_LANDING`` (60 s) as the time a settlement takes to land (``NodeState.now``): every
order expiring within a minute was left unmatched, although a settlement lands there at
once. A gap longer than ``MAX_LANDING`` is the chain idle, not its spacing, and only gaps
that agree (a chain mining on an interval) count."""

from __future__ import annotations

from pathlib import Path

from sdex.watch.clocklead import BlockSpacing
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_attack44_chain_clock import pending_time
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

QUIET = 180
"""Seconds between the blocks of the quiet devnet (its users' sends, minutes apart)."""


async def test_a_quiet_automine_chain_matches_an_order_expiring_within_a_minute(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        for _ in range(4):  # (four sends, minutes apart: each its own block)
            c.rpc.call("evm_increaseTime", QUIET)
            c.rpc.call("evm_mine")
            head = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda h=head: node.watcher.chain_head >= h, timeout=30)  # type: ignore[misc]
        assert node.settler.stages.landing == 0  # (nothing settled: the spacing decides)
        expiry = pending_time(c) + 30  # (the chain's clock: the node follows it, attack44)
        soon = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=expiry))
        code, body = await api.post_order(soon)
        assert code == 201, body
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 2100 * E6)), "ioc")
        assert code == 201, body
        assert len(body["matches"]) == 1, body  # before: [] (60 s taken to land)

        async def filled() -> bool:
            return await api.status(soon) == "filled"

        await wait_for(filled, timeout=30)
        assert node.settler.failed == 0


def test_idle_gaps_and_a_send_chains_uneven_gaps_are_no_spacing() -> None:
    s = BlockSpacing()
    for n in range(10, 15):  # (a quiet chain mining on the send: minutes between blocks)
        s.saw(n, 1_000 + QUIET * (n - 10))
    assert s.value == 0  # before: 180 (then capped at 60 s)
    s = BlockSpacing()
    for n, t in enumerate([1_000, 1_001, 1_030, 1_031, 1_045]):  # (a busy one, unevenly)
        s.saw(n, t)
    assert s.value == 0  # before: 1
    s = BlockSpacing()
    for n, t in enumerate([1_000, 1_012, 1_024, 1_048, 1_060, 1_300, 1_312]):
        s.saw(n, t)  # (every 12 s, one slot missed, once idle four minutes)
    assert s.value == 12
