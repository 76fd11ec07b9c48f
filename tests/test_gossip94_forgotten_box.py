"""gossip94: an answer to a push whose peer's box was forgotten meanwhile counts for none.

``GossipCore._forget`` (a peer evicted, or dropped for room) drops the peer's box while
pushes to it are in flight. When the peer came back, a new box was made; the old push's
answer then took the new box's ``in_flight`` down by one it never counted, to -1 once its
own push was answered: one push more than ``push_window`` in flight from then on. Now the
answer of a call counts only in the box it left from, if that is still its peer's.

Two in-process nodes on loopback (``tests.p2putil``: the real ``Gossip`` driver and routes
on real aiohttp servers), ``push_window`` 1; node 1 holds its answers to pushes till told.
Node 0 forgets node 1's box (as an eviction does) while a push is in flight, pushes again to
the box made anew, and both answers come."""

from __future__ import annotations

import asyncio

import pytest

from sdex.gossip import GossipConfig
from tests.nodeutil import wait_for
from tests.p2putil import MemoryNode, gossip_net, order

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


class Holds(MemoryNode):
    """Answers each push once ``go`` is done; counts the pushes that came."""

    def __init__(self) -> None:
        super().__init__()
        self.came = 0
        self.go: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def submit_many_from_peer(self, objs: list[object], peer: str | list[str]) -> list[str]:
        self.came += 1
        await self.go
        return await super().submit_many_from_peer(objs, peer)


@pytest.mark.parametrize("streams", [True, False], ids=["stream", "http"])
async def test_an_answer_for_a_forgotten_box_counts_for_none(streams: bool) -> None:
    cfg = GossipConfig(dial_interval=0.1, ae_interval=1e6, push_window=1, streams=streams)
    async with gossip_net(2, [cfg, cfg], makes=[MemoryNode, Holds]) as (a, b):
        held = b.node
        assert isinstance(held, Holds)
        core, key = a.gossip.core, b.gossip.node_id
        a.node.post(order(1))

        async def came(n: int) -> bool:
            return held.came >= n

        await wait_for(lambda: came(1), timeout=BOUND)
        core._forget(key)  # (as an eviction does: its box dropped, its push in flight)
        a.node.post(order(2))  # (to a box made anew: the peer came back)

        async def sent() -> bool:  # (node 1 takes a peer's pushes one at a time: not come)
            box = core._boxes.get(key)
            return box is not None and box.in_flight == 1

        await wait_for(sent, timeout=BOUND)
        box = core._boxes[key]
        held.go.set_result(None)

        async def answered() -> bool:
            return b.node.orders.keys() >= {order(1)["hash"], order(2)["hash"]} and (
                core._boxes[key].in_flight <= 0
            )

        await wait_for(answered, timeout=BOUND)
        await asyncio.sleep(0)  # (both answers handed to the core: the orders are in)
        assert core._boxes[key] is box and box.in_flight == 0  # before: -1
