"""review88 (users86's wallet cancel 503): a wallet's soft cancel of an order the node does
not hold (yet) is kept (202 ``"kept"``: ``NodeSoftCancel._keep_orphan``) once its row is
committed; when that commit does not come in time, users86's ``cancel_unstored`` answered
503 "order 0x… was kept at the node already (nothing to cancel)": the node holds no such
order, and the cancel, kept in memory only, is lost by a restart before it is stored (the
order, if it comes then, taken open and traded). Now the 503 says so.

Real Hardhat (the suite's chain), a real node and SQLite store, its writer stalled by a job
held on a ``threading.Event`` (as ``test_users86_cancel_unstored``'s)."""

from __future__ import annotations

import os
from pathlib import Path

from sdex.order import sign_hash
from tests.conftest import Chain
from tests.nodeutil import wait_for, writer_stuck
from tests.test_node import ALICE, node_with_resting_ask


async def test_a_kept_cancel_not_stored_says_the_order_is_not_held(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, _):
        await wait_for(node.replayed, 60)
        node.store_wait = 1.0  # (its commit wait: the subject is the answer, not its time)
        unknown = os.urandom(32)  # (an order this node never held)
        sig = "0x" + sign_hash(c.domain.cancel_digest(unknown), c.keys[ALICE]).hex()
        path = f"/v1/orders/0x{unknown.hex()}/cancel"
        with writer_stuck(node):
            code, answer = await api.post(path, {"signature": sig})
        assert code == 503 and isinstance(answer, dict), (code, answer)
        said = str(answer["reason"])
        # main: "order 0x… was kept at the node already (nothing to cancel)"
        assert "was kept at the node already" not in said, said
        assert "does not hold" in said and "a restart" in said, said
        assert "send the same cancel again" in said, said
        assert answer["orderHash"] == "0x" + unknown.hex() and answer["status"] == "kept"
        code, answer = await api.post(path, {"signature": sig})  # (the store moved: stored)
        assert code == 202 and answer["status"] == "kept", (code, answer)
