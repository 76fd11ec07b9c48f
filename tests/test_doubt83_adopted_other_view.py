"""doubt83: the lane's next nonce is past an adopted row still in flight only in the view it
was adopted in (review82a's fourth hole in doubt82's ``_past_adopted``).

doubt82 has the lane's next nonce past every row a start adopted that is still in flight
(Hardhat's pending count leaves out one whose fee cap is below the next base fee). After a
chain reset, the old chain's adopted rows stay in flight a few seconds (till their waits find
the chain replaced) and the lane signed past their nonces on the new chain: "nonce too high"
on Hardhat, or pooled behind a gap nobody fills. Now a row adopted in another view than the
lane's is left out of it, as ``_count`` leaves such rows out of its own. Real Hardhat, a real
node in this process with its SQLite store and its own lane; the old chain's adopted row is
one signed and adopted under another view of the chain (never sent to this one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

AHEAD = 3
"""Nonces the old chain's adopted row is past the new chain's count."""


def nonces(db: Path) -> list[int]:
    """``db``'s settlement rows' nonces."""
    with sqlite3.connect(db) as conn:
        return [int(n) for (n,) in conn.execute("SELECT nonce FROM settlements").fetchall()]


async def test_an_old_chains_adopted_row_in_flight_moves_no_nonce_of_the_new_chain(
    chain: Chain, tmp_path: Path
) -> None:
    """A row adopted under another view of the chain (a reset since) at a nonce past this
    chain's count, still in flight; a crossing pair matched. Its settlement is signed at the
    chain's count (before: past the old row's nonce, refused "nonce too high"), mined, both
    orders filled, no refusal."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        s = node.settler
        await synced(node, c)
        operator = s.sender.address
        count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
        view = s.async_sends.viewed()
        assert view is not None
        base, tip = await s.fees.current(s.receipts)
        old = s.sender.sign_at(count + AHEAD, operator, b"", 30_000, fees=(base, tip))
        s.signed_views[old.tx_hash] = ((view[0], view[1], view[2] - 1), old)  # (a reset since)
        s.in_flight.add(old.tx_hash)
        s.ours.add(old.tx_hash)
        s.adopted_into(old)
        s.sender.forget_nonce()  # (the reset: the lane's nonce read on the new chain)
        try:
            resting = c.sign(ask(c, ALICE, E18 // 10, 300 * E6, salt=8301))
            assert (await api.post_taken(resting))[0] == 201
            taker = c.sign(bid(c, BOB, E18 // 10, 300 * E6, salt=8302))
            code, body = await api.post_taken(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body

            async def filled() -> bool:
                return {await api.status(resting), await api.status(taker)} == {"filled"}

            await wait_for(filled, timeout=60)
            signed = nonces(cfg.db)
            assert s.nonce_refusals == 0, (s.nonce_refusals, signed, count)  # (before: 1)
            assert signed and all(n < count + AHEAD for n in signed), (signed, count)
        finally:
            s.in_flight.discard(old.tx_hash)  # (its wait would find the chain replaced)
