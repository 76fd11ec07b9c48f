"""review88: a peer's kept cancel (``_keep_orphan``: an order not held when it came, whose
signer is not checked then) that is not the order's maker's costs its sender a penalty when
the order comes (``cancelled_on_arrival``), but was dropped without one by ``cancels_kept``,
which applies the kept cancels of orders held once a held start's hold ends (held86,
review86b): a cancel kept by the last run, read back at the start (``load_orphans``), its
order held by then (the kill came before the kept rows' deletion was committed), and its
sender admitted again during the hold. Now it costs a penalty there too, as on arrival.

Real chain of the suite's engine, a real node on its SQLite store started held on the last
run's pooled row behind review85's proxies (``tests/test_review86b_held_peer_cancel.py``'s
``_held_start``); the last run's kept cancel of CAROL's ask, held open, signed by BOB's key,
written in the store as the last run wrote it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.gossip import NodeKey
from sdex.gossip.peers import INVALID_PENALTY
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.store import Store
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import BOB
from tests.test_review86b_held_peer_cancel import _held_start


async def test_a_forged_cancel_kept_over_a_restart_costs_its_peer_a_penalty(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c, forger, honest = chain, NodeKey.generate().node_id, NodeKey.generate().node_id
    held: list[SignedOrder] = []

    async def kept(store: Store, carols: SignedOrder) -> None:
        held.append(carols)
        forged = sign_cancel(c.domain, carols.hash, c.keys[BOB])  # (not CAROL's)
        await store.keep_orphan((carols.hash, forged, forger, forger, time.time()))

    async with _held_start(c, tmp_path, 8891, kept) as (_, node, api, _ask, _tx, gate):
        g = node.gossip
        assert g is not None and node.held_why()
        assert len(node.orphan_cancels) == 1  # (read back at the start)
        for i, key in enumerate((forger, honest)):
            assert g.peers.admit(key, f"http://127.0.0.{2 + i}:9") is not None
        gate.set()
        await wait_for(lambda: not node.held_why(), timeout=60)
        assert len(node.orphan_cancels) == 0  # (dropped)
        assert await api.status(held[0]) == "open"  # (not its maker's: nothing cancelled)
        assert g.peers.standing(forger).score == -INVALID_PENALTY  # (before: 0)
        assert g.peers.standing(honest).score == 0
