"""flake60's finding (the cause of `test_user50_late_cancel_fill`'s rare failure): a peer's
soft-cancelled order taken while the node's chain read of its fills failed (or took over
``FILLED_READ_WAIT``) was held with the mirror's word, 0 while the mirror is behind, and a
closed order takes no fill of a block applied later: the node said nothing traded, for
good, and the audit flagged the earlier fill. Such orders are now read again
(``_read_cancelled``), and a failed read of them is tried again after ``cancels_retry``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack38_cancelled_entries import PEER, entry
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_review52_cancelled_read_drop import dropping_node


async def test_a_cancel_taken_while_the_fills_read_failed_gets_the_chains_fill_later(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with dropping_node(c, tmp_path) as (node, api, proxy, dropping):
        node.cancels_retry = 0.5
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        dropping.on = True  # (the chain drops every connection: the mirror falls behind)
        c.exchange.fill_order(c.sender(CAROL), half, 1000 * E6)  # 1 WETH of it filled
        await wait_for(lambda: not node.mirror_ready(), timeout=30)
        calls = proxy.seen["eth_call"]
        assert await node.take_cancelled_many([entry(c, half)], PEER) == ["accepted"]
        assert proxy.seen["eth_call"] > calls  # (the fills were asked for: dropped)

        async def filled() -> int:
            code, body = await api.get(f"/v1/orders/{half.hash_hex}")
            assert code == 200 and body["metaData"]["status"] == "cancelled", body
            return int(body["metaData"]["filledMakerAmount"])

        assert await filled() == 0  # (the mirror's word: it has not seen the fill)
        # (its read again, at once: dropped too; then again after ``cancels_retry``)
        await wait_for(lambda: proxy.seen["eth_call"] > calls + 1, timeout=30)
        dropping.on = False
        await wait_for(node.mirror_ready, timeout=30)

        async def counted() -> bool:
            return await filled() == E18

        await wait_for(counted, timeout=30)  # (before: 0 for good)
