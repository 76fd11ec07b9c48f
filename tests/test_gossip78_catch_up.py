"""A busy but honest peer still converges when its pulls cost more than its request budget
(gossip78's check of gossip77: an admitted peer over its budget is answered 429 or has its
stream closed, where its snapshot pages used to shrink). A node catching up (an empty book,
as after a restart with its store lost, or a long way behind) pages through its seed's open
orders, each page dear to the seed's loop, then pulls the rest by anti-entropy: its book
equals the seed's within a bound.

Two real gossip drivers on loopback; the seed holds ``HELD`` orders and its snapshot pages
take ``DEAR`` seconds of its loop thread's CPU an order (burnt on the CPU clock); its peers'
request budget is ``LIMIT`` (a page of 500 costs ~25 tokens of 40: the walk is refused
after two or three pages)."""

from __future__ import annotations

import time

from sdex.gossip import GossipConfig
from sdex.httpkit import RateLimit
from tests.p2putil import MemoryNode, order, serve_gossip
from tests.test_stream import until

HELD = 3_000
DEAR = 100e-6
LIMIT = RateLimit(rate=400.0, burst=40)


class DearPages(MemoryNode):
    def snapshot_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        page, nxt = super().snapshot_page(after, limit, max_bytes)
        end = time.thread_time() + DEAR * len(page)
        while time.thread_time() < end:
            pass
        return page, nxt


async def test_a_node_catching_up_on_dear_pages_converges() -> None:
    seed_cfg = GossipConfig(dial_interval=0.1, ae_interval=1e6)
    cfg = GossipConfig(dial_interval=0.1)  # (anti-entropy each second, as a node)
    seed = await serve_gossip(seed_cfg, [], make=DearPages, limit=LIMIT)
    for i in range(1, HELD + 1):
        seed.node.add(order(i))
    await seed.gossip.start()
    late = await serve_gossip(cfg, [seed.url], limit=LIMIT)
    # (in the seed's table already, as a restarted node is: its requests are metered)
    assert seed.gossip.peers.admit(late.gossip.node_id, late.url) is not None
    try:
        await late.gossip.start()
        t0 = time.monotonic()
        await until(lambda: len(late.node.orders) == HELD, 120)
        took = time.monotonic() - t0
        assert late.node.digest() == seed.node.digest()
        print(f"converged in {took:.1f} s; {seed.gossip.peer_costs.to_json()}")
    finally:
        for m in (late, seed):
            await m.runner.shutdown()
            await m.gossip.stop()
            await m.runner.cleanup()
