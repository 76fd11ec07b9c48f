"""review28: a flood of junk ``/p2p/`` requests from an address gated that address's
admitted peers too (``sdex.gossip.refusals`` said they shared its budget of refusals only,
not their proved requests): every request from it, proved or not, was answered 429 before
its headers were read. Nodes on one host (a devnet: 127.0.0.1) or behind one NAT share an
address. Now a connection that carried a proved request of a peer in the table is heard
while its address is gated (its requests still verified; a refusal on it ends that).

Real gossip nodes (``tests.p2putil``) on loopback; the flood and the peer from 127.0.0.7."""

from __future__ import annotations

import secrets

import aiohttp

from sdex.gossip import NodeKey
from tests.p2putil import gossip_net
from tests.test_p2p27_refusals import flood, junk_headers

SOURCE = "127.0.0.7"


async def _get(s: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with s.get(url + "/p2p/digest", headers=headers) as r:
        await r.read()
        return r.status


async def test_an_admitted_peers_kept_connection_is_heard_through_a_flood() -> None:
    async with gossip_net(2) as (a, b):
        # (no refill within the test: on a loaded machine the budget's 8 a second came back
        # between the flood and the junk below, and the peer was heard again: 200 for 429)
        a.gossip.refusals.rate = a.gossip.refusals.wider_rate = 1e-4
        key: NodeKey = b.gossip.key
        connector = aiohttp.TCPConnector(limit=1, local_addr=(SOURCE, 0))
        async with aiohttp.ClientSession(connector=connector) as s:

            def signed() -> dict[str, str]:
                to = a.gossip.key.node_id  # (signed for ``a``: peer28)
                return key.request_headers("GET", "/p2p/digest", b"", f"http://{SOURCE}:9", to)

            assert await _get(s, a.url, signed()) == 200  # (its connection, kept alive)
            got = await flood(a.url, SOURCE, 300, secrets.token_bytes(2_000))
            assert got.get(429, 0) > 100, got  # the address is gated
            for _ in range(5):
                assert await _get(s, a.url, signed()) == 200
            # junk on that connection: refused, and the connection is heard no more
            assert await _get(s, a.url, junk_headers(SOURCE)) == 401
            assert await _get(s, a.url, signed()) == 429
        # a stranger's key gets no such pass, nor a new connection of the peer's
        stranger = NodeKey.generate()
        connector = aiohttp.TCPConnector(limit=1, local_addr=(SOURCE, 0))
        async with aiohttp.ClientSession(connector=connector) as s:
            headers = stranger.request_headers(
                "GET", "/p2p/digest", b"", f"http://{SOURCE}:9", a.gossip.key.node_id
            )
            assert await _get(s, a.url, headers) == 429
