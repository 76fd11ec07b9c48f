"""left75: the anti-entropy digest (``GET /p2p/digest``) keeps each bucket's hex string until
the bucket changes (``HeldOrders._stale``) instead of formatting all 256 a request. What it
answers is what a walk of the gossiped orders gives, whatever joined or left between two
digests. A real node (its own ``admit``, ``announce`` and ``close``)."""

from __future__ import annotations

import random
from functools import reduce
from pathlib import Path

from sdex.model import OrderStatus
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_hashes67_listing import hold


def walked(node: Node) -> list[str]:
    """The digest made from the gossiped orders as they are now."""
    buckets: list[list[int]] = [[] for _ in range(256)]
    for rec in node.registry.gossiped_records():
        h = rec.signed.hash
        buckets[h[0]].append(int.from_bytes(h, "big"))
    return [f"{reduce(lambda a, b: a ^ b, xs, 0):x}" for xs in buckets]


async def test_the_digest_follows_orders_joining_and_leaving(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        assert node.digest() == ["0"] * 256
        hold(node, chain, 600)
        first = node.digest()
        assert first == walked(node) and first != ["0"] * 256
        rng = random.Random(75)
        recs = list(node.registry.gossiped_records())
        for step in range(6):
            for rec in rng.sample(recs, 40):
                if rec.status.is_open:
                    node.registry.close(rec, OrderStatus.CANCELLED, f"test {step}")
            got = node.digest()
            assert got == walked(node), step
            got[0] = "changed by the caller"  # (a copy: what is kept is not)
            assert node.digest() == walked(node)
        assert node.digest() != first
