"""users86: a wallet's soft cancel whose writes are not committed in time says what the node
holds.

The cancel is applied in memory before its writes commit (its order closed, out of the book,
passed on to peers); a stalling store's 503 said "the cancel was not stored: ...", which a
wallet reads as not applied (the order still open, perhaps to trade) — review84. Now it says
the node cancelled the order and has not stored the cancel, that a restart before it does
would bring the order back, and that the same cancel sent again is safe (200: stored), with
the order's hash and status as a 200's.

Real Hardhat (the suite's chain), a real node and SQLite store, its writer stalled by a job
held on a ``threading.Event`` (as ``test_users83_answer_due``'s)."""

from __future__ import annotations

from pathlib import Path

from sdex.order import sign_hash
from tests.conftest import Chain
from tests.nodeutil import wait_for, writer_stuck
from tests.test_node import ALICE, node_with_resting_ask


async def test_a_cancel_applied_but_not_stored_says_so(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        await wait_for(node.replayed, 60)
        node.store_wait = 1.0  # (its commit wait: the subject is the answer, not its time)
        sig = "0x" + sign_hash(c.domain.cancel_digest(resting.hash), c.keys[ALICE]).hex()
        path = f"/v1/orders/{resting.hash_hex}/cancel"
        with writer_stuck(node):
            code, answer = await api.post(path, {"signature": sig})
            _, held = await api.get(f"/v1/orders/{resting.hash_hex}")
        assert code == 503 and isinstance(answer, dict), (code, answer)
        said = str(answer["reason"])
        assert "cancelled order" in said and "has not stored the cancel" in said, said
        assert "send the same cancel again" in said and "not stored:" not in said, said
        assert answer["orderHash"] == resting.hash_hex and answer["status"] == "cancelled"
        assert held["metaData"]["status"] == "cancelled"  # (what it said: applied, in memory)
        assert resting.hash not in node.book
        code, answer = await api.post(path, {"signature": sig})  # (the store moved: stored)
        assert code == 200 and answer["status"] == "cancelled", (code, answer)
