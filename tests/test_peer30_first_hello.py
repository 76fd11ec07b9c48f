"""A first hello (signed for no node id) introduces only its signer's claimed URL (peer30).

A node sends a first hello to every URL whose id it does not know, so a node that introduces
its own many URLs to it collects as many first hellos, each freshly timed, and could replay
them at every other node within the skew: each spent its signer's introductions there (its
claimed URL and up to 16 shared ones, per node). Nothing tells a replayed first hello from a
genuine one, so none introduces the URLs it shares (the dial-back's answer, fresh and signed
over the dialler's own request, shares the signer's); its claimed URL, the signer's own, costs
at most one introduction, and none once the signer is admitted there."""

from __future__ import annotations

import asyncio
import json
import random

import aiohttp
import pytest

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.core import GossipCore
from tests.p2putil import Book, serve_gossip
from tests.test_peer28_table import Clock

ME = "0x" + "ee" * 20
SENDER = "0x" + "0a" * 20
SENDER_URL = "http://192.0.2.1:9000"
SHARED = [f"http://10.9.{i}.1:9000" for i in range(8)]


def core_with(admitted: bool) -> GossipCore:
    core = GossipCore(ME, "http://me.test:1", [], Book(), clock=Clock(), rng=random.Random(1))
    if admitted:
        core.peers.admit(SENDER, SENDER_URL)
    return core


@pytest.mark.parametrize(
    ("to", "admitted", "candidates", "spent", "mesh"),
    [
        (None, False, [SENDER_URL, *SHARED], 9, False),  # (the simulator: addressed)
        (ME, False, [SENDER_URL, *SHARED], 9, False),
        (ME.upper().replace("0X", "0x"), True, SHARED, 8, True),
        ("", False, [SENDER_URL], 1, False),  # a first hello: its own URL only
        ("", True, [], 0, False),  # ... nothing once it is admitted there
        ("0x" + "0b" * 20, False, [], 0, False),  # signed for another node (review29)
        ("0x" + "0b" * 20, True, [], 0, False),
    ],
    ids=["sim", "addressed", "addressed-admitted", "first", "first-admitted", "other", "other-ad"],
)
def test_what_a_hello_introduces_by_whom_it_is_signed_for(
    to: str | None, admitted: bool, candidates: list[str], spent: int, mesh: bool
) -> None:
    core = core_with(admitted)
    answer = core.hello(SENDER, SENDER_URL, {"peers": SHARED, "mesh": True}, to=to)
    assert list(core.peers.candidates) == candidates
    assert core.peers.standing(SENDER).introduced == spent
    assert answer["mesh"] is mesh and (SENDER in core.mesh) is mesh


def test_a_first_hello_neither_prunes() -> None:
    core = core_with(admitted=True)
    core.hello(SENDER, SENDER_URL, {"mesh": True}, to=ME)
    assert SENDER in core.mesh
    for to in ["", "0x" + "0b" * 20]:
        core.hello(SENDER, SENDER_URL, {"mesh": False}, to=to)
        assert SENDER in core.mesh
    core.hello(SENDER, SENDER_URL, {"mesh": False}, to=ME)
    assert SENDER not in core.mesh


async def test_a_replayed_first_hello_spends_one_introduction_over_http() -> None:
    """A's first hello (to a URL whose id it did not know), replayed at C over HTTP: C takes
    A's claimed URL as a candidate, one introduction of A's, and none of the URLs it shares."""
    served = await serve_gossip(GossipConfig(), [], admin=False)
    c = served.gossip
    try:
        a = NodeKey.generate()
        body = json.dumps({"url": SENDER_URL, "peers": SHARED, "mesh": True}).encode()
        signed = a.request_headers("POST", "/p2p/hello", body, SENDER_URL, to="")
        headers = {**signed, "Content-Type": "application/json"}
        async with asyncio.timeout(20), aiohttp.ClientSession() as session:
            url = f"{served.url}/p2p/hello"
            async with session.post(url, data=body, headers=headers) as r:
                assert r.status == 200
        assert list(c.peers.candidates) == [SENDER_URL]
        assert c.peers.standing(a.node_id).introduced == 1
    finally:
        await served.runner.cleanup()
