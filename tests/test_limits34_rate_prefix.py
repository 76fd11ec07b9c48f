"""limits34: the general rate limit counts an IPv6 client's /56 and /48 too.

The node's per-client token bucket (``NodeConfig.rate_limit``, the ``guard`` middleware) was
keyed by ``client_group`` alone: an IPv6 client by its /64. A site is routinely given a /48
(65,536 /64s; RFC 6177) and each of its /64s had a full bucket of its own: one /48 made
65,536 times the requests the limit allows (before the fix: every one of 15 requests from 15
/64s of one /48 was answered, none throttled). The chain-read budget already charged the /56
and /48 (review33); both now use one helper (``sdex.httpkit.NetworkLimiter``): each wider
network holds at most ``WIDER_CLIENTS`` clients' budget."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sdex.httpkit import RateLimit, parse_network
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

BURST = 3
WIDER = 4
"""``sdex.httpkit.WIDER_CLIENTS`` (named here: the test states the bound it expects)."""


async def _get(session: aiohttp.ClientSession, base: str, client: str) -> int:
    async with session.get(base + "/health", headers={"X-Forwarded-For": client}) as r:
        await r.read()
        return r.status


async def test_a_48s_many_64s_share_one_rate_limit(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(
        chain,
        tmp_path / "n.db",
        rate_limit=RateLimit(rate=0.001, burst=BURST),
        trusted_proxies=(parse_network("127.0.0.1"),),
    )
    room = WIDER * BURST  # what the /48 (and each /56 in it) holds in all
    async with running_node(cfg) as (_node, api), aiohttp.ClientSession() as session:
        # each from a /64 of its own, all in one /56 of one /48
        codes = [await _get(session, api.base, f"2001:db8:7:{n:x}::1") for n in range(room + 3)]
        assert codes == [200] * room + [429] * 3, codes
        # a /64 of another /56 in the same /48: the /48 is spent
        assert await _get(session, api.base, "2001:db8:7:100::1") == 429
        # a client of another /48 keeps its own budget, and an IPv4 client its own
        assert await _get(session, api.base, "2001:db8:8::1") == 200
        assert await _get(session, api.base, "192.0.2.1") == 200
        # one /64 alone still gets its own burst, no more
        own = [await _get(session, api.base, "2001:db8:9::1") for _ in range(BURST + 1)]
        assert own == [200] * BURST + [429], own


async def test_a_48s_many_64s_share_one_listing_budget(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(
        chain,
        tmp_path / "n.db",
        listing_rate_limit=RateLimit(rate=0.001, burst=BURST),
        trusted_proxies=(parse_network("127.0.0.1"),),
    )
    room = WIDER * BURST
    async with running_node(cfg) as (_node, api), aiohttp.ClientSession() as session:

        async def page(client: str) -> int:  # (an empty page: 1 record's tokens)
            url = api.base + "/v1/orders?perPage=1"
            async with session.get(url, headers={"X-Forwarded-For": client}) as r:
                await r.read()
                return r.status

        codes = [await page(f"2001:db8:7:{n:x}::1") for n in range(room + 2)]
        assert codes == [200] * room + [429] * 2, codes
        assert await page("2001:db8:8::1") == 200
