"""signer78: a replayed signed ``/p2p/`` request costs its signer nothing.

The gate charged a request to its signer's budget (``admit``) before it asked the replay
guard: an eavesdropper (or a forwarder, a proxy on the path) that replays an honest peer's
signed requests took a token of that peer's budget each, and the peer's own requests were
then answered 429. Now a replay is refused before anything is charged.

Real gossip nodes on real aiohttp servers on loopback (``tests.p2putil``); the replays come
from another address (127.0.0.2) than the peer's own.
"""

from __future__ import annotations

import asyncio

import aiohttp

from sdex.gossip import GossipConfig
from sdex.httpkit import RateLimit
from tests.p2putil import Member, serve_gossip

BURST = 24
"""The node's budget per peer (a refill of one token every 20 s: none during the test)."""
REPLAYS = 2 * BURST
"""Replays sent: twice the peer's budget, under the replaying address's refusals (64)."""


async def get(url: str, headers: dict[str, str], source: str) -> int:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as s,
        s.get(url, headers=headers) as r,
    ):
        await r.read()
        return r.status


def signed_digest(peer: Member, node: Member) -> tuple[str, dict[str, str]]:
    """A fresh ``GET /p2p/digest`` of ``peer``'s, signed for ``node``."""
    key = peer.gossip.key
    headers = key.request_headers("GET", "/p2p/digest", b"", peer.url, node.gossip.node_id)
    return node.url + "/p2p/digest", headers


async def test_replays_of_a_peers_request_leave_its_budget_whole() -> None:
    quiet = GossipConfig(dial_interval=0.1, ae_interval=1e6)
    node = await serve_gossip(quiet, [], limit=RateLimit(rate=0.05, burst=BURST))
    peer = await serve_gossip(quiet, [node.url])
    try:
        for m in (node, peer):
            await m.gossip.start()
        async with asyncio.timeout(20):
            while node.gossip.peers.get(peer.gossip.node_id) is None:
                await asyncio.sleep(0.05)
        url, headers = signed_digest(peer, node)
        assert await get(url, headers, "127.0.0.1") == 200  # (the peer's own request)
        replayed = [await get(url, headers, "127.0.0.2") for _ in range(REPLAYS)]
        assert set(replayed) == {401}, replayed  # (before: 401, then 429 once it was drained)
        for _ in range(3):  # the peer's next requests are served: its budget is its own
            assert await get(*signed_digest(peer, node), "127.0.0.1") == 200
    finally:
        for m in (node, peer):
            await m.runner.shutdown()
            await m.gossip.stop()
            await m.runner.cleanup()
