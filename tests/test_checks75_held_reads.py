"""checks75: one peer's slow chain read holds only its own order (``PeerChecks``).

Peers' new orders go through the node's intake one group at a time. A group's call ended
only once every read it made had ended, and the next group waited for it: one order whose
read is slow (a contract maker whose ``isValidSignature`` burns the gas a view allows, or
an RPC slow to answer that call; first-seen makers need one read) held every peer's queued
checks, the whole network's gossip into this node, for the length of that read, and the
orders of other peers in its group too. Now a group whose orders left wait only on chain
reads hands the intake on (the next group starts), each order judged as its read ends,
with bounds on the reads left pending: per peer (a peer at its bound waits, the others
go on) and in all.

A real node on a real Hardhat, its RPC behind a proxy that holds every answer to a read of
the hostile contract wallet; peers' checks through the node's own gossip driver, and between
two nodes on loopback by gossip itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.gossip import GossipConfig
from sdex.gossip.gossip import Gossip
from sdex.gossip.peers import MAX_SCORE
from sdex.gossip.standings import MAX_DELIVERED
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.sends31proxy import serving_posts
from tests.test_attack30_gas_gated_wallet import gas_gated_wallet
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import contract_ask
from tests.test_node import ALICE, BOB, E6, E18, ask

HOSTILE, OTHER, HONEST = "0x" + "77" * 32, "0x" + "78" * 32, "0x" + "99" * 32
"""Peers' keys: two that push the hostile wallet's orders, one honest."""


@dataclass
class ReadHolder:
    """Forwards to ``upstream``; the answer to each read of ``needle`` (the hostile wallet)
    is held until ``release`` (``held``: how many are held now), or until its client hangs
    up (``dropped``: how many did, reads77)."""

    upstream: str
    needle: str
    url: str = ""
    held: int = 0
    dropped: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def holding_reads(upstream: str, wallet: str) -> AsyncIterator[ReadHolder]:
    holder = ReadHolder(upstream, wallet.lower().removeprefix("0x"))
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        calls = [c for c in (msg if isinstance(msg, list) else [msg]) if isinstance(c, dict)]
        hold = any(
            c.get("method") == "eth_call" and holder.needle in json.dumps(c).lower() for c in calls
        )
        async with session.post(holder.upstream, json=msg) as r:
            body = await r.read()
        if hold:
            holder.held += 1
            try:
                async with asyncio.timeout(60):
                    while not await _released(holder.release):
                        if request.transport is None or request.transport.is_closing():
                            holder.dropped += 1  # (its client hung up: nobody to answer)
                            break
            finally:
                holder.held -= 1
        return web.Response(body=body, content_type="application/json")

    try:
        async with serving_posts(handle) as holder.url:
            try:
                yield holder
            finally:
                holder.release.set()
    finally:
        await session.close()


@asynccontextmanager
async def held_node(
    c: Chain, db: Path, wallet: str, **kw: Any
) -> AsyncIterator[tuple[Node, Api, ReadHolder]]:
    """A node (``kw``: its config) whose RPC is behind ``holding_reads`` of ``wallet``, its
    mirror ready."""
    base = node_config(c, db, **kw)
    async with (
        holding_reads(base.rpc, wallet) as proxy,
        running_node(replace(base, rpc=proxy.url)) as (node, api),
    ):
        await wait_for(node.mirror_ready)
        yield node, api, proxy


async def known_alice(c: Chain, node: Node, api: Api, deadline: float | None = 120.0) -> Gossip:
    """The node's gossip driver, once Alice's account is known (an order of hers booked: her
    orders need no read); ``deadline``: its peers' orders' reads' (they stay pending while
    held)."""
    if deadline is not None:
        node.peer_intake.read_deadline = deadline
    known = c.sign(ask(c, ALICE, E18 // 1000, 3 * E6 + 999))
    assert (await api.post_order(known))[0] == 201  # (Alice's account known)
    g = node.gossip
    assert g is not None
    return g


async def honest_taken(c: Chain, g: Gossip) -> None:
    """The honest peer's orders, one the mirror judges (no read) and then a first-seen
    maker's (a read of its own), accepted."""
    plain = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3100 * E6)))
    await wait_for(done(plain), 20)
    assert plain.result()["accepted"] == 1, plain.result()
    first_seen = push(g, HONEST, c.sign(ask(c, BOB, E18, 3200 * E6)))
    await wait_for(done(first_seen), 20)
    assert first_seen.result()["accepted"] == 1, first_seen.result()


async def _released(release: asyncio.Event) -> bool:
    """Whether ``release`` is set within a moment (a held answer then looks at its client)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.05):
            await release.wait()
    return release.is_set()


def push(
    g: Gossip, sender: str, *orders: SignedOrder, standing: bool = True
) -> asyncio.Task[dict[str, int]]:
    """``sender``'s push of ``orders`` checked here, as the route does (its counts); the
    sender admitted first, with the highest score and value delivered since long ago unless
    not ``standing`` (strangers and peers of little standing share one bound of pending
    reads: reads77, sybil77)."""
    if g.peers.get(sender) is None:
        port = 9000 + int(sender[2:6], 16) % 1000  # (a URL each)
        peer = g.peers.admit(sender, f"http://127.0.0.1:{port}")
        assert peer is not None
        if standing:  # (its last point of delivered value earned long ago, now the last)
            peer.standing.delivered = MAX_DELIVERED - 1
            g.peers.reward(sender, MAX_SCORE)
    objs: list[object] = [dict(o.to_json()) for o in orders]
    return asyncio.create_task(g.run_check(g.core.receive(sender, objs)))


def done(task: asyncio.Task[Any]) -> Callable[[], bool]:
    return task.done


async def rested(g: Gossip, order: SignedOrder, sender: str = HONEST) -> None:
    """``order`` pushed by ``sender`` (``push``) and taken: accepted, resting here."""
    resting = push(g, sender, order)
    await wait_for(done(resting), 30)
    assert resting.result()["accepted"] == 1, resting.result()


async def test_a_held_read_holds_no_other_peers_check(chain: Chain, tmp_path: Path) -> None:
    """One peer's order waits on its held read; checks queued after it are answered."""
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        g = await known_alice(c, node, api, deadline=None)
        hostile = push(g, HOSTILE, contract_ask(c, w))
        await wait_for(lambda: proxy.held == 1, 30)
        await honest_taken(c, g)
        assert not hostile.done() and proxy.held == 1  # (its read still held)
        proxy.release.set()
        await wait_for(done(hostile), 30)
        assert sum(hostile.result().values()) == 1 and not hostile.result()["accepted"]


async def test_a_held_read_holds_no_other_order_of_its_group(chain: Chain, tmp_path: Path) -> None:
    """Another hostile order and an honest one queued together go in one group, the next
    while the first's read is held; the honest one is answered while the other's is held."""
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, _api, proxy):
        g = node.gossip
        assert g is not None
        merged = g.checks.merged
        # in one turn: the first leads a group of its own, the others wait for its turn
        first = push(g, HOSTILE, contract_ask(c, w))
        second = push(g, OTHER, contract_ask(c, w))
        honest = push(g, HONEST, c.sign(ask(c, BOB, E18, 3200 * E6)))  # (first-seen)
        await wait_for(done(honest), 20)
        assert honest.result()["accepted"] == 1, honest.result()
        assert g.checks.merged == merged + 1  # (the other two went in one group)
        await wait_for(lambda: proxy.held > 0, 20)  # (the two: one read, or two)
        assert not first.done() and not second.done()
        proxy.release.set()
        await wait_for(lambda: first.done() and second.done(), 30)


async def test_a_peers_pending_reads_are_bounded(chain: Chain, tmp_path: Path) -> None:
    """A peer with ``reads_pending_per_peer`` reads pending waits for one to end before more
    of its orders go in (the others' go on); past ``reads_pending`` in all, every new group
    waits for a read to end. Every check gets its verdicts once the reads end."""
    c = chain
    w = burner(c)
    gossip = replace(GossipConfig(), reads_pending=3, reads_pending_per_peer=2)
    async with held_node(c, tmp_path / "n.db", w, gossip=gossip) as (node, _api, proxy):
        g = node.gossip
        assert g is not None
        hostile = [push(g, HOSTILE, contract_ask(c, w))]
        await wait_for(lambda: proxy.held == 1, 30)
        hostile.append(push(g, HOSTILE, contract_ask(c, w)))
        await wait_for(lambda: g.checks.pending_reads == 2, 30)
        share = min(2, node.contract_sigs.share(w))  # (its reads held; the rest wait: reads78)
        hostile.append(push(g, HOSTILE, contract_ask(c, w)))  # (its peer at its bound)
        honest = push(g, HONEST, c.sign(ask(c, BOB, E18, 3200 * E6)))
        await wait_for(done(honest), 20)
        assert honest.result()["accepted"] == 1, honest.result()
        assert proxy.held == share and g.checks.parked == 1
        other = push(g, OTHER, contract_ask(c, w))
        # (another peer's: in, its read waiting for the wallet's turn: reads77)
        await wait_for(lambda: g.checks.pending_reads == 3, 20)
        bounded = g.checks.bounded
        late = push(g, HONEST, c.sign(ask(c, ALICE, E18, 3300 * E6)))
        await wait_for(lambda: g.checks.bounded > bounded, 20)  # (three pending in all)
        assert not late.done() and proxy.held == share and g.checks.pending_reads == 3
        proxy.release.set()
        await wait_for(lambda: all(t.done() for t in [*hostile, other, late]), 30)
        assert late.result()["accepted"] == 1, late.result()
        for t in [*hostile, other]:
            assert sum(t.result().values()) == 1 and not t.result()["accepted"]
        assert g.checks.pending_reads == 0 and not g.checks._queue


async def test_between_nodes_a_held_read_holds_no_other_push(chain: Chain, tmp_path: Path) -> None:
    """Two nodes on loopback: ``a`` reads the chain directly, ``b`` through the proxy. A
    contract maker's order posted to ``a`` reaches ``b`` by gossip, where its read is held;
    an order posted to ``a`` after it (a first-seen maker's on ``b``: a read of its own)
    reaches ``b``'s book while that read is held, and the held one once it ends."""
    c = chain
    w = gas_gated_wallet(c)  # (an honest contract maker: valid, its verdict a chain read)
    fast = GossipConfig(dial_interval=0.1, ae_interval=0.3)
    base_a = node_config(c, tmp_path / "a.db", gossip=fast)
    base_b = node_config(c, tmp_path / "b.db", operator=18, gossip=fast)
    async with (
        holding_reads(base_b.rpc, w) as proxy,
        running_node(base_a) as (a, api_a),
        running_node(replace(base_b, rpc=proxy.url, peers=(api_a.base,))) as (b, _api_b),
    ):
        await wait_for(lambda: a.mirror_ready() and b.mirror_ready())
        assert a.gossip is not None and b.gossip is not None
        await wait_for(lambda: b.gossip.node_id in a.gossip.core.mesh, 30)
        contract = contract_ask(c, w)
        assert (await api_a.post_order(contract))[0] == 201
        await wait_for(lambda: proxy.held > 0, 30)
        honest = c.sign(ask(c, BOB, E18, 3200 * E6))
        assert (await api_a.post_order(honest))[0] == 201
        await wait_for(lambda: b.knows(honest.hash_hex.lower()), 20)
        assert not b.knows(contract.hash_hex.lower()) and proxy.held > 0
        proxy.release.set()
        await wait_for(lambda: b.knows(contract.hash_hex.lower()), 30)
