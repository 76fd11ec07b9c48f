"""limits34: every per-client map of the node's HTTP layer stays bounded however many
distinct clients come.

The request, listing and chain-read budgets' token buckets (``sdex.httpkit.RateLimiter``)
were dropped only by a sweep every 60 s: between sweeps their maps grew with every distinct
client, and a /48 behind a trusted proxy's ``X-Forwarded-For`` (or many IPv4 addresses)
made them grow without bound (before the fix: 600 clients left 600 buckets in each map,
their /48s 600 more). Now each holds at most ``max_clients`` (``MAX_CLIENTS``), the full
buckets dropped first, then the least recently used."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex import httpkit
from sdex.gossip import refusals
from sdex.httpkit import NetworkLimiter, RateLimit, RateLimiter, TrustedProxies, parse_network
from sdex.node.api import make_app
from sdex.node.appstate import LIMITER_KEY
from sdex.node.listings import LISTING_LIMITER_KEY
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, serving
from tests.p2putil import gossip_net
from tests.test_p2p27_refusals import junk_headers

CAP = 64
CLIENTS = 600


def _clients(n: int) -> list[str]:
    """``n`` distinct clients: IPv4 addresses and IPv6 ones, each in a /48 of its own."""
    return [f"10.{i >> 8 & 255}.{i & 255}.7" if i % 2 else f"2001:db8:{i:x}:1::1" for i in range(n)]


async def test_many_clients_keep_the_budgets_maps_bounded(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpkit, "MAX_CLIENTS", CAP, raising=False)  # (the bound, made small)
    cfg = node_config(chain, tmp_path / "n.db")
    async with running_node(cfg) as (node, _api), aiohttp.ClientSession() as session:
        # the node's own app, served again behind a trusted proxy (loopback) for this test
        app = make_app(node)
        httpkit.trust_proxies(app, TrustedProxies((parse_network("127.0.0.1"),)))
        async with serving(app) as base:
            for client in _clients(CLIENTS):
                headers = {"X-Forwarded-For": client}
                async with session.get(base + "/v1/orders?perPage=1", headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status
            for key in (LIMITER_KEY, LISTING_LIMITER_KEY):
                limiter = app[key]
                sizes = (len(limiter.own._buckets), len(limiter.wider._buckets))
                assert max(sizes) <= CAP, (key, sizes)


def test_a_spent_recent_client_stays_spent() -> None:
    limiter = RateLimiter(RateLimit(rate=0.001, burst=2), max_clients=CAP)
    assert limiter.take("victim", 2.0)[0]
    for client in _clients(CAP * 10):
        limiter.take(client)
        assert len(limiter) <= CAP
        assert not limiter.take("victim")[0]  # (used last: never the one dropped)


def test_full_buckets_go_first() -> None:
    limiter = RateLimiter(RateLimit(rate=0.001, burst=2), max_clients=CAP)
    spent = [f"spender{i}" for i in range(10)]
    for client in spent:
        assert limiter.take(client, 2.0)[0]
    for client in _clients(CAP * 10):  # (a full bucket each: as no entry)
        limiter.give_back(client, 0.0)
        assert len(limiter) <= CAP
    # the spenders, older than every full bucket, are kept: the full ones went first
    assert not any(limiter.take(client)[0] for client in spent)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 5_000), min_size=1, max_size=2_000),
    st.integers(2, 100),
    st.sampled_from(["take", "give_back", "charge"]),
)
def test_never_more_buckets_than_the_bound(clients: list[int], cap: int, how: str) -> None:
    limiter = NetworkLimiter(RateLimit(rate=0.5, burst=3), max_clients=cap)
    for i in clients:
        client = _clients(i + 1)[-1] if i % 3 else f"2001:db8:1:{i:x}::1"
        if how == "take":
            limiter.take(client)
        elif how == "give_back":
            limiter.give_back(client, 1.0)
        else:
            limiter.charge(client, 1.0)
        assert len(limiter.own) <= cap and len(limiter.wider) <= cap


def test_a_debt_is_not_forgiven_by_the_sweep() -> None:
    """A bucket in debt (``charge``: a page dearer than known) is kept until its refill
    made it full; the 60 s sweep by age alone dropped it once idle ``burst / rate``."""
    limiter = RateLimiter(RateLimit(rate=1.0, burst=10), max_clients=CAP)
    limiter.charge("debtor", 20.0)  # (at -10: 20 s to fill)
    limiter._buckets["debtor"] = (-10.0, time.monotonic() - 12.0)  # (idle 12 s: at 2 now)
    limiter._sweep(time.monotonic())
    assert not limiter.take("debtor", 3.0)[0]


REFUSERS = 200
EACH = 24
"""Refusals from each address: its budget 3 s from full (64, 8 a second)."""


async def test_many_refused_addresses_keep_the_refusal_budgets_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``/p2p/``'s budgets of refusals per client address (``sdex.gossip.refusals``) swept
    only the full ones once past ``SWEEP_AT``: a refused request from each of many
    addresses (a /48's /64s, a trusted proxy's clients; here loopback 127.1.x.y) left a
    budget each, not full for seconds, and every new one rebuilt the whole map (before the fix:
    200 addresses, 121-171 budgets over a bound of 64, 3 of 3)."""
    monkeypatch.setattr(refusals, "SWEEP_AT", CAP)
    async with gossip_net(1, connect=False) as (a,):
        for i in range(REFUSERS):
            source = f"127.1.{i >> 8}.{i & 255 or 1}"
            connector = aiohttp.TCPConnector(limit=1, local_addr=(source, 0))
            async with aiohttp.ClientSession(connector=connector) as s:
                for _ in range(EACH):  # (refused from its headers alone: v 5)
                    headers = junk_headers(source, v=5)
                    async with s.get(a.url + "/p2p/digest", headers=headers) as r:
                        await r.read()
                        assert r.status == 401, r.status
        held = len(a.gossip.refusals._budgets)
        assert held <= CAP, held
