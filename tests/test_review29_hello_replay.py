"""review29: a hello signed for another node and replayed here spends nothing of its
signer's. Only its mesh request was dropped: the URLs it shares were still introduced as
its signer's, each spending one of the signer's introductions (then a lifetime quota of
``MAX_INTRODUCED`` per id; peer30 made it a refilling budget, ``MAX_INTRODUCED`` at once and
one per ``INTRODUCE_SECONDS``), so a node that received a peer's hello could use up that
peer's introductions everywhere else (its later, genuine ones dropped until they refill)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from sdex.gossip import NodeKey
from sdex.gossip.peers import MAX_INTRODUCED
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

A_URL = "http://127.0.0.1:19"


async def test_a_hello_for_another_node_introduces_nothing_as_its_signers(
    chain: Chain, tmp_path: Path
) -> None:
    async with (
        running_node(node_config(chain, tmp_path / "c.db")) as (c, _),
        aiohttp.ClientSession() as session,
    ):
        assert c.gossip is not None
        peers = c.gossip.peers
        a, b = NodeKey.generate(), NodeKey.generate()
        shared = [f"http://10.9.{i}.1:9000" for i in range(MAX_INTRODUCED)]
        body = json.dumps({"url": A_URL, "peers": shared, "mesh": True}).encode()
        # A's hello to B (B, or anyone on the path, has it): replayed at C
        signed = a.request_headers("POST", "/p2p/hello", body, A_URL, to=b.node_id)
        url = f"http://{c.config.host}:{c.config.port}/p2p/hello"
        headers = {**signed, "Content-Type": "application/json"}
        async with session.post(url, data=body, headers=headers) as r:
            assert r.status == 200
        assert peers.standing(a.node_id).introduced == 0
        assert not any(u in peers.candidates for u in shared)
        assert a.node_id not in c.gossip.core.mesh
        # A's own hello to C still shares its URLs (A's quota is whole)
        own = a.request_headers("POST", "/p2p/hello", body, A_URL, to=c.gossip.key.node_id)
        async with session.post(url, data=body, headers={**headers, **own}) as r:
            assert r.status == 200
        assert all(u in peers.candidates for u in shared[: MAX_INTRODUCED - 1])
