"""expiry54, on a real node: an order that aged into the landing window is held apart (no walk
meets it again), yet it is still ``open`` (not ``unfunded``), a crossing order still matches the
orders that may trade, and the held one is closed ``expired`` once a block passes its expiry."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.sandwich import node_on
from tests.test_landing49_expiry_clock import LANDING, at, window_expiry
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review49_landing_and_prune import stalled_trade


async def test_an_order_in_the_landing_window_is_held_open_and_expires_by_chain_time(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        await stalled_trade(c, node, api, stall=LANDING)
        expiry = window_expiry(c, node)
        honest = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
        other = c.sign(ask(c, ALICE, E18, 3050 * E6))  # far from its expiry
        for o in (honest, other):
            code, body = await api.post_order(o)
            assert code == 201, body
        at(c, expiry - 10)  # within the landing time of ``honest``'s expiry
        await synced(node, c)
        assert node.chain_time() < expiry - 5 and node.now() >= expiry
        # a crossing bid passes ``honest`` (the better price) and matches ``other``
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3100 * E6)), "ioc")
        assert code == 201, body
        assert [m["restingOrderHash"] for m in body["matches"]] == [other.hash_hex], body
        e = node.book.entry(honest.hash)
        assert e.late and e.level is not None and e.level.live == 0  # out of the walk's way
        assert await api.status(honest) == "open"  # held, not ``unfunded``

        async def other_filled() -> bool:
            return await api.status(other) == "filled"

        await wait_for(other_filled, timeout=30)
        # a block past its expiry: closed ``expired`` by the chain's clock
        at(c, expiry)
        await synced(node, c)
        assert await api.status(honest) == "expired"
        assert node.book.late == {}
