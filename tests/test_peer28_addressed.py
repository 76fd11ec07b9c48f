"""A signed /p2p/ request names the node it is for (attack28): one a peer received cannot be
replayed at another node as coming from its signer (its orders, score, rate budget, mesh)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from sdex.gossip import NodeKey, identity
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of

A_URL = "http://127.0.0.1:19"


@contextlib.asynccontextmanager
async def two_nodes(chain: Chain, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    async with (
        running_node(node_config(chain, tmp_path / "b.db")) as (b, _),
        running_node(node_config(chain, tmp_path / "c.db", operator=18)) as (c, _),
    ):
        yield b, c


async def post(session: aiohttp.ClientSession, url: str, body: bytes, h: dict[str, str]) -> int:
    headers = {**h, "Content-Type": "application/json"}
    async with session.post(url, data=body, headers=headers) as r:
        return r.status


async def test_a_request_signed_for_one_node_is_refused_at_another(
    chain: Chain, tmp_path: Path
) -> None:
    """Peer A, admitted at B and C, signs a request for B; B takes it, and B (or anyone who
    saw it) replaying it at C within the freshness window is refused there."""
    async with two_nodes(chain, tmp_path) as (b, c), aiohttp.ClientSession() as session:
        assert b.gossip is not None and c.gossip is not None
        a = NodeKey.generate()
        for node in (b, c):
            assert node.gossip.peers.admit(a.node_id, A_URL) is not None
        body = json.dumps({"buckets": [1]}).encode()
        signed = a.request_headers("POST", "/p2p/hashes", body, A_URL, to=b.gossip.key.node_id)
        assert await post(session, url_of(b) + "/p2p/hashes", body, signed) == 200
        assert await post(session, url_of(c) + "/p2p/hashes", body, signed) == 401
        assert await post(session, url_of(b) + "/p2p/hashes", body, signed) == 401  # replay
        # a request that names no node is refused too (only a hello may)
        bare = a.request_headers("POST", "/p2p/hashes", body, A_URL)
        assert await post(session, url_of(c) + "/p2p/hashes", body, bare) == 401
        # the addressee is signed: rewritten, the signature names some other key, not A's
        moved = {**signed, identity.HEADER_TO: c.gossip.key.node_id}
        got = identity.verify_request("POST", "/p2p/hashes", moved)
        assert got.to == c.gossip.key.node_id and got.node_id != a.node_id
        own = a.request_headers("POST", "/p2p/hashes", body, A_URL, to=c.gossip.key.node_id)
        assert await post(session, url_of(c) + "/p2p/hashes", body, own) == 200


async def test_a_hello_replayed_elsewhere_grafts_nobody(chain: Chain, tmp_path: Path) -> None:
    """A's hello asking B for a mesh link, replayed at C, does not put A in C's mesh."""
    async with two_nodes(chain, tmp_path) as (b, c), aiohttp.ClientSession() as session:
        assert b.gossip is not None and c.gossip is not None
        a = NodeKey.generate()
        for node in (b, c):
            assert node.gossip.peers.admit(a.node_id, A_URL) is not None
        body = json.dumps({"url": A_URL, "peers": [], "mesh": True}).encode()
        signed = a.request_headers("POST", "/p2p/hello", body, A_URL, to=b.gossip.key.node_id)
        assert await post(session, url_of(b) + "/p2p/hello", body, signed) == 200
        assert a.node_id in b.gossip.core.mesh
        # C answers it (a first hello names no node: it may name another) as a stranger's
        assert await post(session, url_of(c) + "/p2p/hello", body, signed) == 200
        assert a.node_id not in c.gossip.core.mesh
        first = a.request_headers("POST", "/p2p/hello", body, A_URL)
        assert await post(session, url_of(c) + "/p2p/hello", body, first) == 200
        assert a.node_id not in c.gossip.core.mesh
        own = a.request_headers("POST", "/p2p/hello", body, A_URL, to=c.gossip.key.node_id)
        assert await post(session, url_of(c) + "/p2p/hello", body, own) == 200
        assert a.node_id in c.gossip.core.mesh
