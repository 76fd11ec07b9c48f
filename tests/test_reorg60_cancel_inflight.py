"""reorg60: a soft cancel taken at node A while node B's settlement of a fill of that order
is in flight (sent, not yet mined). A closes the order, reads the chain's filled amount
(chaos52: ``NodePeering._read_cancelled``), 0 as the fill is not mined yet, and the fill's
block, applied later, does not add to an order closed before it (left for the audit): A
held the order cancelled with 0 filled for good while the chain (and B) said half of it was
filled. Both nodes must agree with the chain once the fill lands: the filled amount, and the
order still cancelled (the rest not re-opened)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_user50_late_cancel_fill import filled_at


@pytest.fixture
def held_chain(chain: Chain) -> Iterator[Chain]:
    """The test chain mining only when told (``evm_mine``; automine again after)."""
    chain.rpc.call("evm_setAutomine", False)
    try:
        yield chain
    finally:
        chain.rpc.call("evm_setAutomine", True)


def pending_txs(c: Chain) -> int:
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


async def test_a_soft_cancel_while_a_fill_is_in_flight_keeps_the_fill_on_both_nodes(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with Cluster(c, tmp_path, [[], [0]], gossip_scale=GOSSIP_SCALE) as net:
        a, b = net.api(0), net.api(1)
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await b.post_taken(half))[0] == 201

        async def a_has_it() -> bool:
            return await status_at(a, half) == "open"

        await wait_for(a_has_it, timeout=60)
        assert (await b.post_taken(c.sign(bid(c, BOB, E18, 1000 * E6))))[0] == 201
        await wait_for(lambda: pending_txs(c) > 0, timeout=60)  # B's settlement: in flight
        await cancel_at(a, c, half, ALICE)

        async def b_cancelled() -> bool:
            return await status_at(b, half) == "cancelled"

        await wait_for(b_cancelled, timeout=60)
        assert c.exchange.order_info(half.order).filled == 0  # (not mined yet)
        c.rpc.call("evm_mine")  # the fill lands
        await wait_for(lambda: c.exchange.order_info(half.order).filled == E18, timeout=30)

        async def agreed() -> bool:
            seen = (await filled_at(a, half.hash_hex), await filled_at(b, half.hash_hex))
            return seen == (E18, E18)

        try:
            await wait_for(agreed, timeout=60)  # before: A held 0 filled for good
        except AssertionError:
            seen = (await filled_at(a, half.hash_hex), await filled_at(b, half.hash_hex))
            raise AssertionError(f"filled at A, B: {seen}, the chain's {E18}") from None
        assert await status_at(a, half) == "cancelled"
        assert await status_at(b, half) == "cancelled"
