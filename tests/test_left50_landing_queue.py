"""Left50 (review49): the landing time (``StageTimes.landing``: how far past a match the
chain may judge its settlement, ``NodeState.now``) was remembered from each match's
submission, queue wait included: a stream of "suspect" matches settled alone, honest ones
waiting behind them, raised it for ``memory`` seconds (up to a minute) though each
settlement, once formed, landed at once. It is now remembered from the batch's formation,
and the wait of the matches still queued counts live, while it lasts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sdex.settlement.stages import FlightTimes, StageTimes
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

QUEUED = 48.5
"""Seconds the settled match waited in the queue before its batch formed."""


async def test_a_long_queue_wait_is_not_remembered_as_the_landing_time() -> None:
    st = StageTimes()
    now = time.perf_counter()
    loop = asyncio.get_running_loop()
    formed = now - 1.5
    t = FlightTimes(loop.create_future(), loop, formed=formed, signed=now - 1.45)
    t.queued, t.send_start, t.send_end, t.receipt = now - 1.4, now - 1.3, now - 1.2, now
    st.add([formed - QUEUED], t, now, [])
    assert st.landing == 2, st.landing  # formed to receipt (1.5 s, rounded up); before: 49


SLOTS = 4
"""Settlements the node keeps in flight (``MAX_IN_FLIGHT``): a match past them queues."""
WAIT = 3.0


async def test_the_live_queue_wait_counts_in_the_landing_time(chain: Chain, tmp_path: Path) -> None:
    c = chain
    operator = c.address(19)

    def pending() -> int:
        return int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)

    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        asks = [c.sign(ask(c, ALICE, E18 // 10, (200 + i) * E6)) for i in range(SLOTS + 1)]
        for a in asks:
            assert (await api.post_taken(a))[0] == 201
        c.rpc.call("evm_setAutomine", False)  # every settlement waits in the pool
        try:
            base = pending()
            for i in range(SLOTS):
                crossing = c.sign(bid(c, BOB, E18 // 10, (200 + i) * E6))
                assert (await api.post_taken(crossing))[0] == 201
                await wait_for(lambda i=i: pending() == base + i + 1, timeout=30)
            assert node.settler.stages.landing == 0  # (nothing landed, nothing queued)
            assert (await api.post_taken(c.sign(bid(c, BOB, E18 // 10, 300 * E6))))[0] == 201
            await wait_for(lambda: len(node.settler._queue) == 1, timeout=10)
            since = time.monotonic()
            await wait_for(lambda: time.monotonic() >= since + WAIT, timeout=WAIT + 5)
            assert pending() == base + SLOTS  # (still queued: every slot in flight)
            landing = node.settler.stages.landing
            assert landing >= WAIT - 1, landing
            assert node.now() >= node.chain_time() + landing
        finally:
            c.rpc.call("evm_mine")
            c.rpc.call("evm_setAutomine", True)

        async def all_filled() -> bool:
            return all([await api.status(a) == "filled" for a in asks])

        await wait_for(all_filled, timeout=30)
