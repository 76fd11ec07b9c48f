"""One host serving many keys on many ports cannot take a real node's peer table (attack28's
eclipse): a node bounded to 2 peers per host (loopback here, its ``peers_per_loopback``)
dials every key that says hello from that host and admits 2."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import aiohttp

from sdex.gossip import PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_hostile import HostilePeer, hello_answer

KEYS = 5


async def test_one_host_with_many_keys_gets_its_share(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(chain, tmp_path / "n.db")
    cfg = replace(cfg, gossip=replace(cfg.gossip, peers_per_loopback=2))
    hosts = [HostilePeer({}) for _ in range(KEYS)]
    for h in hosts:
        h.answers["/p2p/hello"] = hello_answer(h)
    async with contextlib.AsyncExitStack() as stack:
        for h in hosts:
            await stack.enter_async_context(h.serving())
        node, api = await stack.enter_async_context(running_node(cfg))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        assert node.gossip is not None
        for h in hosts:  # each key says hello from its own port: the node dials it back
            answer = await PeerClient(session, h.key, h.url).call(
                "POST", api.base, "/p2p/hello", {"url": h.url, "peers": []}
            )
            assert answer.status == 200
        await wait_for(lambda: all(h.calls.get("/p2p/hello", 0) >= 1 for h in hosts), 30)
        await wait_for(lambda: len(node.gossip.peers) >= 2, 10)  # type: ignore[union-attr]
        admitted = {p["key"] for p in node.gossip.peers.to_json()}
        assert len(admitted) == 2 and admitted <= {h.key.node_id for h in hosts}
        assert not node.gossip.peers.candidates  # each was dialled once, not again
