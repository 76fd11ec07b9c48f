"""A refused order row written again keeps its soft cancel's proof (review71, of chaos69's
``HeldEviction.store_refused``): the row was written again "as it is now" by its insert and
its (status, filled, reason), not its maker's cancel signature. An order whose insert a
lock refused, soft-cancelled by its maker while the lock held (the proof's write refused
too), was stored ``cancelled`` with no signature once the lock went; its record, its row now
as it held it, left memory, and the proof peers are shown (``why``) and a restart reads was
lost for good."""

from __future__ import annotations

from pathlib import Path

from sdex.order import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chaos69_refused_row import write_locked
from tests.test_node import BOB, E6, E18, bid


async def test_a_refused_rows_rewrite_keeps_the_cancel_taken_meanwhile(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node and SQLite store; another connection holds the write lock while a wallet
    posts an order (503: its row refused) and then soft-cancels it (its proof's write
    refused too). The lock goes: the row is written again, cancelled, with the proof; a
    restart reads it back (before: cancelled, no signature)."""
    c = chain
    db = tmp_path / "n.db"
    posted = c.sign(bid(c, BOB, E18, 2000 * E6))  # (nothing to trade: it rests)
    sig = sign_hash(c.domain.cancel_digest(posted.hash), c.keys[BOB])
    async with running_node(node_config(c, db)) as (node, api):
        # the start's replay done first: a wallet's order posted during it waits for it
        # (replay79), and the replay's commits, refused by the lock, make the chain "failing",
        # which refuses the order itself (CHAIN_UNAVAILABLE), not its row
        await wait_for(node.replayed, 60)
        async with write_locked(node, db):
            code, body = await api.post_order(posted)
            assert code == 503, (code, body)
            path = f"/v1/orders/{posted.hash_hex}/cancel"
            code, body = await api.post(path, {"signature": "0x" + sig.hex()})
            assert code == 503, (code, body)  # (its proof's write refused)
            rec = node.registry.get(posted.hash)
            assert rec is not None and rec.status == "cancelled"

        async def cancelled_row() -> bool:
            s = node.store.order_now(posted.hash_hex)
            return s is not None and s.status == "cancelled"

        await wait_for(cancelled_row, 30)  # (written again: chaos69)

        async def proof_stored() -> bool:
            s = node.store.order_now(posted.hash_hex)
            return s is not None and s.cancel_signature == sig

        await wait_for(proof_stored, 10)  # (before: never)
    async with running_node(node_config(c, db)) as (node, api):  # a restart keeps it
        s = node.store.order_now(posted.hash_hex)
        assert s is not None and s.status == "cancelled" and s.cancel_signature == sig
        assert await node.cancel_proofs([posted.hash_hex]) == [
            {"orderHash": posted.hash_hex, "signature": "0x" + sig.hex()}
        ]
