"""A gossip call skipped because the operator cut the link, and an outbox held while its peer
waits out a backoff, are said in the debug log (tests63: a cancel that never reached a peer
left no line to find why), at most once every few seconds however many there are
(``sdex.gossip.quietlog``). Real gossip drivers on real aiohttp servers on loopback
(``tests.p2putil``)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from sdex.gossip import GossipConfig
from sdex.gossip.quietlog import SAY_EVERY
from tests.p2putil import gossip_net, order


async def test_calls_skipped_for_a_cut_link_are_said_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sdex.gossip")
    async with gossip_net(2, [GossipConfig(dial_interval=0.1)] * 2) as (a, b):
        a.gossip.links_blocked.add(b.url)
        left = time.monotonic()
        async with asyncio.timeout(20):
            i = 0
            while a.gossip.cut_calls.skipped < 5 or a.gossip.core.held_back.skipped < 5:
                a.node.post(order(100 + i))  # (each a push to b: skipped, then held)
                i += 1
                await asyncio.sleep(0.02)
        took = time.monotonic() - left
        lines = [r.getMessage() for r in caplog.records if r.name == "sdex.gossip"]
        cut = [m for m in lines if f"to {b.url} skipped: the link is cut" in m]
        held = [m for m in lines if f"for {b.url} held: it waits out a backoff" in m]
        most = 1 + int(took / SAY_EVERY) + 1
        assert 1 <= len(cut) <= most, (took, cut)
        assert 1 <= len(held) <= most, (took, held)
        assert a.gossip.cut_calls.skipped > len(cut), (a.gossip.cut_calls.skipped, cut)
