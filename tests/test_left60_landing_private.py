"""left60: ``landing_why`` (left50) looked at the public ladder only. An IOC or FOK order
that met nothing because the order restricted to its maker that it crosses (in its maker's
private ladder, book49) expires within the landing time was answered a plain ``dropped`` or
``killed``, as if nothing crossed it. Real node, real Hardhat (left50's stalled settlement
makes the landing time)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.sandwich import node_on
from tests.test_left50_landing_reason import crossed_expiring_is_why
from tests.test_node import BOB
from tests.test_review49_landing_and_prune import STALL, stalled_trade


async def test_a_restricted_order_expiring_within_the_landing_time_is_the_reason(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        await stalled_trade(c, node, api)
        assert node.settler.stages.landing >= STALL - 1
        # (before: the plain word, "dropped" or "killed")
        await crossed_expiring_is_why(c, node, api, taker=c.address(BOB).lower())
