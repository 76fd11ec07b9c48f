"""attack50: attack48's expiry attack on a node that has not settled anything yet (just
started or restarted, or quiet for ``LANDING_MEMORY``): its landing time
(``StageTimes.landing``) was 0, so on a chain that mines every few seconds an order expiring
before the next block was matched, its settlement refused there (``OrderExpired``) and the
operator paid the gas. Two wallets repeat it for free after each restart of the node, and
every ten quiet minutes. The node now takes, until a settlement of its own has landed, the
chain's block spacing as it saw it (``BlockSpacing``) as the time a settlement may take."""

from __future__ import annotations

from pathlib import Path

from sdex.watch.clocklead import BlockSpacing
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_attack48_landing_expiry import INTERVAL, head, interval_chain, next_block
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

__all__ = ["interval_chain"]


async def test_a_fresh_node_does_not_match_an_order_expiring_before_the_next_block(
    interval_chain: Chain, tmp_path: Path
) -> None:
    c = interval_chain
    operator = c.address(19)
    async with node_on(c, tmp_path) as (node, api):
        # the node has seen a few blocks, and settled nothing: no landing time of its own
        for _ in range(3):
            await next_block(c)
        assert node.settler.stages.landing == 0
        sent = c.rpc.call("eth_getTransactionCount", operator, "latest")
        start = await next_block(c)
        expiry = start + INTERVAL  # (the next block, ~INTERVAL s after ``start``, is past it)
        doomed = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=expiry))
        code, body = await api.post_order(doomed)
        assert code == 201, body
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 2100 * E6)), "ioc")
        assert code == 201, body
        assert head(c)[1] == start, "the bid came after the next block: the test was too slow"
        await wait_for(lambda: head(c)[1] >= expiry, timeout=4 * INTERVAL)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=4 * INTERVAL)

        async def expired() -> bool:
            return await api.status(doomed) == "expired"

        await wait_for(expired, timeout=4 * INTERVAL)
        assert node.settler.failed == 0
        # no settlement sent for it: the operator paid no gas for a refused match
        assert c.rpc.call("eth_getTransactionCount", operator, "latest") == sent
        assert body["matches"] == [], body


def test_the_block_spacing_is_the_least_gap_once_two_are_seen() -> None:
    s = BlockSpacing()
    s.saw(10, 1_000)
    s.saw(11, 1_300)  # (one idle gap of a chain mining on the send: not its spacing)
    assert s.value == 0
    s.saw(12, 1_304)
    assert s.value == 0  # (one gap counted: not yet)
    s.saw(12, 1_304)  # (a head seen again)
    s.saw(15, 1_313)  # (three blocks in 9 s: 3 s each)
    assert s.value == 3
    s.saw(16, 1_320, reset=True)  # (a reorg or reset: the heads before it forgotten)
    assert s.value == 0
    for n in range(17, 30):
        s.saw(n, 1_320 + 12 * (n - 16))
    assert s.value == 12  # (a chain mining every 12 s: the last heads' gaps all 12)
