"""review100c: a ``/p2p/`` request no route takes (a path none has, a method its path has
not) was answered 404 or 405 free of every budget: ``guard`` skips ``/p2p/`` (peers have
their own limits, taken once a route proves the sender: ``sdex.gossip.gate``), and no route
ran to take them. gossip98 charged ``/p2p/`` 417s to the address's budget of refused peer
requests (``sdex.gossip.refusals``); these are peer requests refused before their sender
was proved as well: charged there, a 429 past it, the connection closed.

Real node on loopback, raw sockets."""

from __future__ import annotations

from pathlib import Path

from sdex.gossip.refusals import REFUSALS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack93_bad_heads import answer_to


def plain(method: str, path: str) -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()


async def test_an_unrouted_p2p_request_is_a_refusal(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (n, api):
        assert n.gossip is not None
        gate = n.gossip.refusals
        refused = gate.refused
        statuses = []
        for k in range(REFUSALS.burst + 8):
            method, path = ("GET", "/p2p/nope") if k % 2 else ("GET", "/p2p/orders")
            status, _headers, _body = await answer_to(api.base, plain(method, path))
            statuses.append(status)
        assert set(statuses[:8]) == {404, 405}, statuses[:8]
        assert 429 in statuses, statuses  # (before: 404 and 405 for ever, free)
        assert gate.refused - refused >= REFUSALS.burst
        ok = await answer_to(api.base, plain("GET", "/health"))
        assert ok[0] == 200  # (the API budget: untouched)
