"""budget33: a per-sender budget of chain reads (attack30's "Left").

Every order with a fresh salt from a contract maker whose ``isValidSignature`` burns the gas
it gets costs the chain one verdict ``eth_call`` (and, on Hardhat, ~7.5 MB it never gives
back). Before the budget a client could send them as fast as its HTTP rate allowed. Now the
orders that need a chain read spend a token of their sender's bucket (a wallet client's
address, ``NodeConfig.chain_read_limit``; a peer's key, ``peer_chain_read_limit``): past it
a wallet is answered 429 (code 103, ``Retry-After``), the order neither stored nor gossiped;
a peer's copy is ``rejected`` for now (no penalty, not kept: fetched again later). Orders the
mirror judges alone spend nothing, and another client's budget is its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from sdex.gossip.gossip import GossipConfig
from sdex.httpkit import RateLimit
from sdex.node.cliconfig import read_bounds
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder, sign_order
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import OWNER, gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_node import ALICE, BOB, E6, E18, ask

BURST = 3
TINY = RateLimit(rate=1e-4, burst=BURST)
"""A budget a test spends at once and that does not refill while it runs: one read in ~3 h,
so none comes back within a test's 300 s (pytest's timeout), not even to an IPv6 /48's
bucket, ``WIDER_READS`` times the rate (review33's: at 0.05 a second, its /48 got a read
back every 5 s, and 15 posts on a loaded machine took longer: a 400 where a 429 was due)."""


def contract_ask(c: Chain, wallet: str) -> SignedOrder:
    return sign_order(replace(ask(c, ALICE, E18, 3000 * E6), maker=wallet), c.domain, c.keys[OWNER])


@contextlib.asynccontextmanager
async def client_at(base: str, address: str) -> AsyncIterator[Api]:
    """A wallet client whose connections come from ``address`` (another loopback address:
    another client for the node's per-client bounds)."""
    conn = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=conn) as session:
        yield Api(session, base)


async def test_a_burner_flood_is_throttled_per_client(chain: Chain, tmp_path: Path) -> None:
    c = chain
    w = burner(c)
    cfg = node_config(c, tmp_path / "n.db", chain_read_limit=TINY)
    async with running_node(cfg) as (node, honest), client_at(honest.base, "127.0.0.2") as hostile:
        await wait_for(node.mirror_ready)
        reads = node.intake.read
        answers = [await hostile.post_order(contract_ask(c, w)) for _ in range(BURST + 3)]
        codes = [code for code, _ in answers]
        assert codes == [400] * BURST + [429] * 3, answers
        assert all(body["code"] == 103 for _, body in answers[BURST:]), answers
        assert node.intake.read - reads == BURST  # the chain read BURST times, not more
        assert node.chain_health()["ordersThrottled"] == 3
        # the refused ones were not stored, nor booked
        async with hostile.session.post(
            hostile.base + "/v1/orders", json=dict(contract_ask(c, w).to_json())
        ) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        # another client's orders are untouched: ordinary ones and one that needs a read
        for maker in (ALICE, BOB, ALICE, BOB, ALICE, BOB):
            code, body = await honest.post_order(c.sign(ask(c, maker, E18, 3000 * E6)))
            assert code == 201, body
        code, body = await honest.post_order(contract_ask(c, w))
        assert code == 400 and "signature" in str(body).lower(), body


async def test_orders_the_mirror_judges_spend_nothing(chain: Chain, tmp_path: Path) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", chain_read_limit=RateLimit(rate=0.05, burst=2))
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        # two first-seen accounts: a read each (the whole budget), then the mirror knows them
        for i in range(12):
            code, body = await api.post_order(c.sign(ask(c, (ALICE, BOB)[i % 2], E18, 3000 * E6)))
            assert code == 201, (i, body)
        w = gas_gated_wallet(c)  # an honest contract maker: its orders each need a read
        refused = contract_ask(c, w)
        code, body = await api.post_order(refused)
        assert code == 429 and body["code"] == 103, body
        assert (await api.get(f"/v1/orders/{refused.hash_hex}"))[0] == 404  # not stored


async def test_a_peer_over_its_budget_is_deferred_not_refused(chain: Chain, tmp_path: Path) -> None:
    """A peer's copies past its budget are ``rejected`` for now (no penalty, no verdict kept:
    anti-entropy fetches them again), and accepted once its bucket has refilled."""
    c = chain
    w = gas_gated_wallet(c)
    limit = RateLimit(rate=2.0, burst=1)
    cfg = node_config(c, tmp_path / "n.db", peer_chain_read_limit=limit)
    async with running_node(cfg) as (node, _api):
        await wait_for(node.mirror_ready)
        first, second = contract_ask(c, w), contract_ask(c, w)
        objs: list[object] = [dict(first.to_json()), dict(second.to_json())]
        peer = "0x" + "ab" * 20
        assert await node.submit_many_from_peer(objs, peer) == ["accepted", "rejected"]
        assert not node.refused(peer, second.hash_hex)

        async def taken() -> bool:
            return await node.submit_from_peer(dict(second.to_json()), peer) == "accepted"

        await wait_for(taken, timeout=10)


def test_the_read_budgets_are_options(tmp_path: Path) -> None:
    """``--chain-read-limit`` and ``--peer-chain-read-limit`` (``read_bounds``): orders a
    second, bursts of 10 s of it (at least 1); unset, the defaults; not a rate above 0, a
    ``ValueError`` naming the option (a usage error of ``sdex node``)."""
    cfg = NodeConfig("http://x", 31337, "0x" + "11" * 20, 0, {}, bytes(32), tmp_path / "n.db")
    assert read_bounds(cfg) == cfg
    assert (cfg.chain_read_limit, cfg.peer_chain_read_limit) == (
        RateLimit(rate=10, burst=100),
        RateLimit(rate=100, burst=1_000),
    )
    out = read_bounds(cfg, 2, 100)
    assert out.chain_read_limit == RateLimit(rate=2, burst=20)
    assert out.peer_chain_read_limit == RateLimit(rate=100, burst=1_000)
    assert read_bounds(cfg, 0.05).chain_read_limit == RateLimit(rate=0.05, burst=1)
    bad = [(0, None), (-1, None), (float("nan"), None), (None, 0), (None, 1e12), (None, -2)]
    for per_client, per_peer in bad:
        with pytest.raises(ValueError, match="chain-read-limit"):
            read_bounds(cfg, per_client, per_peer)


async def test_a_peers_orders_past_its_budget_arrive_later(chain: Chain, tmp_path: Path) -> None:
    """Every order a wallet got a 201 for on node A reaches node B, whose budget of reads for
    A holds one at a time: the copies past it come again by anti-entropy (never lost)."""
    c = chain
    w = gas_gated_wallet(c)  # an honest contract maker: each order needs a chain read
    gossip = GossipConfig(ae_interval=0.2, dial_interval=0.1)
    cfg = node_config(c, tmp_path / "a.db", gossip=gossip)
    other = node_config(
        c,
        tmp_path / "b.db",
        operator=18,
        gossip=gossip,
        peer_chain_read_limit=RateLimit(rate=2.0, burst=1),
    )
    async with (
        running_node(cfg) as (a, api_a),
        running_node(replace(other, peers=(api_a.base,))) as (b, api_b),  # (the port a bound)
    ):
        await wait_for(lambda: a.gossip is not None and len(a.gossip.peers) > 0, timeout=20)
        await wait_for(b.mirror_ready)
        posted = [contract_ask(c, w) for _ in range(6)]
        for signed in posted:
            code, body = await api_a.post_order(signed)
            assert code == 201, body

        async def all_held_by_b() -> bool:
            got = [(await api_b.get(f"/v1/orders/{s.hash_hex}"))[0] for s in posted]
            return got == [200] * len(posted)

        await wait_for(all_held_by_b, timeout=60)
        assert b.peer_intake.throttled > 0  # (some copies did wait for the budget)
