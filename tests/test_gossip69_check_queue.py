"""The peers' check queue (``sdex.gossip.checks.PeerChecks``) costs a group O(the group),
not O(the queue) (gossip69; attack67 found it). An admitted peer may hold as many pushes
waiting as it holds HTTP connections (``max_http_per_client``, 512; ``max_http``, 4,096, in
all): before, each group walked the whole queue for finished checks, and each check that
ended or left was looked for and removed from a deque, O(queue) each."""

from __future__ import annotations

import asyncio

import aiohttp

import sdex.gossip.checks as checks_module
from sdex.gossip import GossipConfig
from sdex.gossip.client import PeerClient
from tests.p2putil import gossip_net, lines_run, order
from tests.test_gossip_checks import Intake, no_check_left
from tests.test_stream import until

PUSHES = 500
"""Pushes one peer holds waiting (under ``max_http_per_client``, 512)."""
PER_PUSH = 32
"""Orders a push: ``intake_chunk``'s default, so a group is one push's."""


async def test_a_group_costs_the_queue_the_same_however_many_checks_wait() -> None:
    """Real gossip drivers on loopback; ``b``'s intake held on a first push while ``a``
    (admitted) sends ``PUSHES`` more over HTTP, each ``PER_PUSH`` new orders: all wait in
    the queue. Released, the queue's code runs at most 300 lines a group (~231: since checks75
    each verdict is counted as it comes, 3 lines an order, 96 a group; ~81 before that) (before
    gossip69: a walk of the whole queue each, ~2 lines a waiting check, ~583 a group), and
    every push is answered."""
    cfg = GossipConfig(dial_interval=0.1, ae_interval=1e6, streams=False)
    async with gossip_net(2, [cfg] * 2) as (a, b):
        assert b.gossip.config.intake_chunk == PER_PUSH
        b.gossip.intake_over = lambda _sender: False  # (the queue's cost here, not a budget's:
        # 16,000 orders at once are ~2.5 s of the loop, far past a pusher's, gossip78)
        intake = Intake(b.node)
        conn = aiohttp.TCPConnector(limit=PUSHES + 2)
        async with aiohttp.ClientSession(connector=conn) as session:
            client = PeerClient(session, a.gossip.key, a.url)
            to = b.gossip.node_id

            async def push(i: int) -> int:
                body = {"orders": [order(i * PER_PUSH + k) for k in range(1, PER_PUSH + 1)]}
                got = await client.call("POST", b.url, "/p2p/orders", body, to=to, timeout=120)
                return got.status

            first = asyncio.create_task(push(0))
            await intake.held(1)
            rest = [asyncio.create_task(push(i)) for i in range(1, PUSHES + 1)]
            await until(lambda: len(b.gossip.checks._queue) == PUSHES + 1, 120)
            groups = b.gossip.checks.groups
            with lines_run({checks_module.__file__}) as lines:
                intake.release()
                codes = await asyncio.wait_for(asyncio.gather(first, *rest), 120)
            groups = b.gossip.checks.groups - groups
        assert codes == [200] * (PUSHES + 1)
        assert groups == PUSHES  # (the first was in the intake already)
        assert lines[0] <= 300 * groups, lines[0] / groups  # now ~231; before ~583
        await until(lambda: no_check_left(b))
