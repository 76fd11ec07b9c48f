"""sybil77: a call to a peer reached by host name, refused because this node's lookups of
peers' names are all in flight, is no failure of that peer's.

reads77 looked peers' names up in a pool of their own, ``arpc.PEER_LOOKUPS`` (4 at once;
past them ``ResolveTimeout`` at once). Any peer may name hosts whose resolver never answers
(its URL, those it introduces): once 4 hang, every other name's lookup is refused, and each
call to an honest peer reached by name failed at once, counted against it as if it had not
answered: five in a row past ``EVICT_SECONDS`` and it left the table. Now such a refusal
(``deadline.LookupsFull``, ``client.NotLookedUp``) backs the peer off and counts nothing.

Two real nodes on loopback over a real Hardhat; ``a`` has ``b`` in its table at
``http://localhost:<port>``, a name (looked up in the peers' pool), while the system's
resolver hangs on four other names until the test lets them go (``socket.getaddrinfo``
held for those names only, as tests/test_wallet74_resolve.py's patched resolver does)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.arpc import MAX_PEER_RESOLVING, PEER_LOOKUPS
from sdex.gossip import GossipConfig
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

REFUSED = "was not looked up"
"""What a refused lookup's error says (``deadline.Lookups.lookup``)."""


@pytest.fixture
def hung(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The system's resolver hangs on ``hung-*`` names until the event is set (then fails)."""
    release, real = threading.Event(), socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(host, str) and host.startswith("hung-"):
            release.wait(120)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()


@pytest.mark.parametrize("streams", [False, True])
async def test_a_peer_reached_by_name_is_not_failed_for_this_nodes_lookups(
    chain: Chain,
    tmp_path: Path,
    hung: threading.Event,
    caplog: pytest.LogCaptureFixture,
    streams: bool,
) -> None:
    """With the peers' lookups all held by names that hang, ``a``'s calls to ``b`` (reached
    by name) are refused at once, again and again: ``b`` is not failed for them, and once
    the lookups end, ``b`` answers ``a`` again (``streams``: over HTTP, or over a stream
    once one is open: its dial, refused too, leaves the calls to HTTP)."""
    caplog.set_level(logging.DEBUG, logger="sdex.gossip")
    c = chain
    fast = GossipConfig(dial_interval=0.1, ae_interval=0.2, streams=streams)
    async with (
        running_node(node_config(c, tmp_path / "a.db", gossip=fast)) as (a, _api_a),
        running_node(node_config(c, tmp_path / "b.db", operator=18, gossip=fast)) as (b, api_b),
    ):
        assert a.gossip is not None and b.gossip is not None
        await wait_for(lambda: a.mirror_ready() and b.mirror_ready())
        for k in range(MAX_PEER_RESOLVING):  # (four names some peers gave, hanging)
            PEER_LOOKUPS.lookup(f"hung-{k}.example", 80, socket.AF_INET)
        await wait_for(lambda: len(PEER_LOOKUPS.held) == MAX_PEER_RESOLVING, 5)
        url = api_b.base.replace("127.0.0.1", "localhost")
        peer = a.gossip.peers.admit(b.gossip.node_id, url)
        assert peer is not None and peer.failures == 0

        def refused() -> int:
            return sum(REFUSED in r.getMessage() and url in r.getMessage() for r in caplog.records)

        await wait_for(lambda: refused() >= 3 or peer.failures > 0, 20)
        assert peer.failures == 0, (peer.failures, refused())
        assert a.gossip.peers.get(b.gossip.node_id) is peer
        hung.set()  # (the resolver answers: the hung lookups fail, their slots are free)
        await wait_for(lambda: not PEER_LOOKUPS.held, 10)
        answered = peer.last_ok
        await wait_for(lambda: peer.last_ok > answered, 20)  # (b answers a again)
        assert peer.failures == 0
