"""users87: a peer's soft cancel taken here whose row is not committed in time is answered
503 saying what the node holds (``sdex.gossip.cancelstored``), as users86's wallet route does.

``POST /p2p/cancels`` of an order not held here keeps the cancel in memory (the order, if it
comes, is taken cancelled) and answers once its row is committed (cancel66). A stalling
store's 503 said "the cancel was not stored: ...", read as not taken; now it says the cancel
is kept here but not stored, that a restart before it is would lose it, and that the same
cancel again is safe (the peer sends it again after its backoff), with ``orderHash`` and
``status``; sent again once the store moves, it is answered 200 and its row is there.

Real Hardhat (the suite's chain), a real node served in-process on loopback, its SQLite
store's writer held by a job waiting on a ``threading.Event`` (as users86's test), a signed
peer request over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sdex.gossip import NodeKey, PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for, writer_stuck
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_hostile import addressee
from tests.test_node import ALICE, E6, E18, ask


async def _posted(peer: PeerClient, url: str, to: str, body: object) -> tuple[int, Any]:
    """``body`` posted to ``/p2p/cancels`` signed by ``peer`` for the node ``to``; the
    status and the answer's JSON."""
    raw = json.dumps(body).encode()
    headers = peer.key.request_headers("POST", "/p2p/cancels", raw, peer.me, to)
    headers["Content-Type"] = "application/json"
    async with peer.session.post(url + "/p2p/cancels", data=raw, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_a_peers_cancel_kept_but_not_stored_says_so(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.replayed, 60)
        node.store_wait = 1.0  # (its commit wait: the subject is the answer, not its time)
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))  # (never posted: not held here)
        notice = notice_of(c, withdrawn, c.keys[ALICE])
        with writer_stuck(node):
            code, answer = await _posted(peer, api.base, addressee(node), notice)
        assert code == 503 and isinstance(answer, dict), (code, answer)
        said = str(answer["reason"])
        assert f"the cancel of order {withdrawn.hash_hex} is kept here" in said, said
        assert "has not stored the cancel" in said and "restart" in said, said
        assert "send the same cancel again" in said and "was not stored:" not in said, said
        assert answer["orderHash"] == withdrawn.hash_hex and answer["status"] == "kept"
        assert len(node.orphan_cancels) == 1  # (what it said: kept, in memory)
        code, answer = await _posted(peer, api.base, addressee(node), notice)  # (stored now)
        assert code == 200 and answer["status"] == "kept", (code, answer)
        rows = await node.store.orphan_rows(0.0, 10)
        assert withdrawn.hash in {r[0] for r in rows}, rows
