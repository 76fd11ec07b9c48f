"""A peer's read of the store through the writer, while another connection holds the
database's write lock, is answered 503 (retry later), not 500 and a traceback (gossip70,
found by chaos69): ``/p2p/cancelled`` (a page of soft cancels) and ``/p2p/fetch`` with a
``why`` of an evicted order (``cancel_proofs``) read through the writer, whose transaction
cannot begin while the lock is held; the wallets' order routes answer 503 there already."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp

from sdex.gossip import GossipConfig
from sdex.gossip.client import PeerClient
from sdex.gossip.stream import dial
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of
from tests.p2putil import serve_gossip
from tests.test_stream import until

EVICTED = bytes.fromhex("5a" * 32)
"""A hash the node's filter of evicted orders says it may hold: its cancel is read from
the store."""


async def test_a_peers_reads_while_the_store_is_locked_are_answered_503(
    chain: Chain, tmp_path: Path, caplog: object
) -> None:
    db = tmp_path / "n.db"
    async with running_node(node_config(chain, db)) as (node, _):
        assert node.gossip is not None
        await asyncio.wrap_future(  # (the writer's busy timeout cut: the refusal comes sooner)
            node.store._writer.submit(lambda d: d.execute("PRAGMA busy_timeout=300"))
        )
        node.registry.evicted.add(EVICTED)
        quiet = GossipConfig(dial_interval=0.1, ae_interval=1e6)
        peer = await serve_gossip(quiet, [url_of(node)])
        try:
            await peer.gossip.start()
            await until(lambda: node.gossip is not None and len(node.gossip.peers) == 1)
            await locked_reads(node, peer.gossip.key, peer.url, db)
        finally:
            await peer.runner.shutdown()
            await peer.gossip.stop()
            await peer.runner.cleanup()


async def locked_reads(node: Node, key: object, me: str, db: Path) -> None:
    assert node.gossip is not None
    to, url = node.gossip.key.node_id, url_of(node)
    why = {"hashes": [], "why": ["0x" + EVICTED.hex()]}
    async with aiohttp.ClientSession() as session:
        client = PeerClient(session, key, me)  # type: ignore[arg-type]
        link = await dial(session, key, me, url, to, lambda _k: None)  # type: ignore[arg-type]
        try:
            other = sqlite3.connect(db, isolation_level=None, timeout=30)  # (an operator's shell)
            try:
                other.execute("BEGIN IMMEDIATE")  # the write lock, held by another connection
                got = await client.call("POST", url, "/p2p/fetch", why, to=to)
                assert got.status == 503, (got.status, got.body)  # before: 500
                assert "retry" in str(got.body)
                got = await client.call("GET", url, "/p2p/cancelled", to=to)
                assert got.status == 503, (got.status, got.body)  # before: 500
                status, body = await link.request("GET", "/cancelled", {}, None, 10)
                assert status == 503, (status, body)  # before: 500, a traceback logged
                assert "retry" in str(body)
                other.execute("COMMIT")
            finally:
                other.close()
            # the lock gone: the same reads are answered
            assert (await client.call("POST", url, "/p2p/fetch", why, to=to)).status == 200
            status, body = await link.request("GET", "/cancelled", {}, None, 10)
            assert (status, body["orders"]) == (200, [])
        finally:
            await link.close()
