"""p2p27: a proved peer that reopens streams in a loop is bounded.

A stream upgrade costs its node two ECDSA recoveries, an ECDH, a signature and a websocket
handshake, but was charged to the peer's rate limit as one request: an admitted peer could
open 2,000 streams a second (each closing its older ones). Now an upgrade costs 1/32 of the
peer's burst (``sdex.gossip.routes.STREAM_OPENS``): 32 at once, then 16 a second at the
node's defaults. Real gossip nodes (``tests.p2putil``) on loopback, the real dialer.
"""

from __future__ import annotations

import time

import aiohttp

from sdex.gossip import stream
from sdex.gossip.stream import StreamDown
from tests.p2putil import gossip_net

TRIES = 200
REFILL = 16
"""Stream opens a second a peer's bucket refills at the node's defaults (its rate over
``STREAM_OPENS``' share of its burst)."""


async def test_a_peer_reopening_streams_is_throttled() -> None:
    """An admitted peer opens 200 streams one after another: at most its burst's share of
    them (32, and the refill while it tries) are served (before: all 200). The refill is
    counted from the loop's own time: on a loaded machine 200 dials take long enough for it
    to serve most of them (review97c: (200, 0) under -n 2 beside node tests)."""
    async with gossip_net(2) as (a, b), aiohttp.ClientSession() as session:
        opened = refused = 0
        began = time.monotonic()
        for _ in range(TRIES):
            try:
                link = await stream.dial(
                    session, b.gossip.key, b.url, a.url, a.gossip.key.node_id, lambda _: None
                )
            except StreamDown as e:
                assert "429" in str(e), e
                refused += 1
                continue
            opened += 1
            await link.close()
        allowed = 32 + REFILL * (time.monotonic() - began) + 2  # (the burst, the refill)
        assert opened + refused == TRIES
        assert opened <= allowed, (opened, refused, allowed)
        assert opened >= 32, opened  # (the burst's share is served)
