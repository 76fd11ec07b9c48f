"""review93c: a closed record leaves memory only once its soft cancel's proof is committed.

The registry's eviction dropped a closed record once the store's row matched it, compared
on status, filled and reason only (``Store.committed_rows`` read no ``cancel_sig``). A
wallet's cancel whose close committed and whose proof (the maker's cancel signature) the
store refused was answered 503 and the order held ``cancelled``; a wallet that did not send
it again left the row ``cancelled`` without the proof, which matched the record: the record
left memory and nothing wrote the proof again. The node then could never show that cancel
to a peer asking why the order is not open (``cancel_proofs``, ``/p2p/cancelled``), nor
keep it through ``sdex audit``. Real Hardhat (the suite's chain); a real node served
in-process on loopback, its SQLite store refusing only the proof's write (a real trigger)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_api_writes import refuse
from tests.test_cancel90_cancel_reaches_every_node import stored_row
from tests.test_node import ALICE, E6, E18, ask

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
REFUSE = (
    "CREATE TRIGGER no_proof BEFORE UPDATE OF cancel_sig ON orders WHEN NEW.cancel_sig != ''"
    " BEGIN SELECT RAISE(ABORT, 'refused here'); END"
)
"""The store refuses the cancel's proof, not the order's close (its own job)."""


async def test_a_cancel_whose_proof_was_refused_keeps_its_record_until_the_proof_is_stored(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db, closed_grace=0.2)) as (node, api):
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await api.post_taken(withdrawn))[0] == 201
        signature = sign_cancel(c.domain, withdrawn.hash, c.keys[ALICE])
        await refuse(node, REFUSE)
        code, body = await api.post(
            f"/v1/orders/{withdrawn.hash_hex}/cancel", {"signature": "0x" + signature.hex()}
        )
        assert (code, body["status"]) == (503, "cancelled"), body  # (its proof refused)
        assert stored_row(db, withdrawn) == ("cancelled", "")  # the close stored, no proof
        await refuse(node, "DROP TRIGGER no_proof")  # the store works again; no resend

        def evicted() -> bool:
            return withdrawn.hash not in node.records

        await wait_for(evicted, timeout=BOUND)
        # before: evicted past its grace with the row as it was, the proof lost for good
        want = ("cancelled", "0x" + signature.hex())
        assert await asyncio.to_thread(stored_row, db, withdrawn) == want
        proofs = await node.store.cancel_signatures([withdrawn.hash_hex])
        assert proofs == {withdrawn.hash_hex.lower(): "0x" + signature.hex()}
