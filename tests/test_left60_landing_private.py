"""left60: ``landing_why`` (left50) looked at the public ladder only. An IOC or FOK order
that met nothing because the order restricted to its maker that it crosses (in its maker's
private ladder, book49) expires within the landing time was answered a plain ``dropped`` or
``killed``, as if nothing crossed it. Real node, real Hardhat (left50's stalled settlement
makes the landing time)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.sandwich import node_on
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review49_landing_and_prune import STALL, stalled_trade


async def test_a_restricted_order_expiring_within_the_landing_time_is_the_reason(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        await stalled_trade(c, node, api)
        assert node.settler.stages.landing >= STALL - 1
        bob = c.address(BOB).lower()
        soon = c.sign(ask(c, ALICE, E18, 3000 * E6, taker=bob, expiry=node.chain_time() + 4))
        code, body = await api.post_order(soon)
        assert code == 201 and body["metaData"]["status"] == "open", body
        for tif, word in (("ioc", "dropped"), ("fok", "killed")):
            code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3100 * E6)), tif)
            assert code == 201 and body["matches"] == [], body
            assert body["outcome"] == word, body
            reason = body["metaData"]["reason"]  # (before: the plain word)
            assert reason.startswith(word + ": the orders it crosses expire within"), reason
