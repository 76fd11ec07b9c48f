"""gate36: what bounds the peers' pushes waiting for a check (``GossipCore._waiting``, the
check queue ``sdex.gossip.checks.PeerChecks``).

Neither has a size bound of its own: an entry is a push being served (``core.receive`` puts
it, ``Gossip.run_check``'s ``finally`` takes it out, whatever the check did), so they hold
at most the pushes in flight: over HTTP one a connection (``NodeConfig.max_http``, and
``max_http_per_client`` an address), over a stream ``MAX_IN_FLIGHT`` (16) a stream, at most
``SERVED_PER_PEER`` streams an admitted peer (strangers get none). This test holds the
intake and has one peer push four times that over its stream: the extras are answered 429
at once, the waiting checks stay at ``MAX_IN_FLIGHT``, and every one leaves once the intake
answers. (Real gossip drivers and routes on aiohttp on loopback: ``tests.p2putil``.)"""

from __future__ import annotations

import asyncio

from sdex.gossip import GossipConfig
from sdex.gossip.actions import Check
from sdex.gossip.stream import MAX_IN_FLIGHT
from tests.p2putil import Member, gossip_net, order
from tests.test_gossip_checks import no_check_left
from tests.test_stream import open_link, until

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)


def waiting_checks(m: Member) -> int:
    return sum(isinstance(p.action, Check) for p in m.gossip.core._waiting.values())


async def test_one_peers_pushes_waiting_for_a_check_are_bounded_by_its_stream() -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        link = await open_link(a, b)
        never, most = asyncio.Event(), 0

        async def stuck(objs: list[object], peer: str | list[str]) -> list[str]:
            nonlocal most
            most = max(most, waiting_checks(b), len(b.gossip.checks._queue))
            await never.wait()
            return ["rejected"] * len(objs)

        b.node.submit_many_from_peer = stuck  # type: ignore[method-assign]
        sent = MAX_IN_FLIGHT * 4
        pushes = [
            asyncio.create_task(link.request("POST", "/orders", None, {"orders": [order(i)]}, 30))
            for i in range(1, sent + 1)
        ]
        await until(lambda: sum(t.done() for t in pushes) >= sent - MAX_IN_FLIGHT)
        refused = [t.result()[0] for t in pushes if t.done()]
        assert refused == [429] * (sent - MAX_IN_FLIGHT), refused
        await until(lambda: waiting_checks(b) == MAX_IN_FLIGHT)
        assert len(b.gossip.checks._queue) <= MAX_IN_FLIGHT
        never.set()
        answered = await asyncio.wait_for(asyncio.gather(*pushes), 20)
        assert sorted(s for s, _ in answered) == [200] * MAX_IN_FLIGHT + [429] * (
            sent - MAX_IN_FLIGHT
        )
        await until(lambda: no_check_left(b))
        assert most <= MAX_IN_FLIGHT, most
