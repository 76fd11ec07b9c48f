"""settle83: a match settled on chain counts once in /health's ``matchesSettled``, whichever
run saw it land.

A settlement a node recorded and sent, then was killed before its receipt, lands while the
node is down. The restart finds it landed (``sdex.settlement.rowreceipt.record_landed``: the
reconcile's receipt read, or the adoption's for a row it kept pooled) and counted its matches
nowhere, while a row adopted unread in a doubt (``counted_at_start``) was counted by the
settler's results: two paths to the same fact, two answers (doubt81 left it for a decision).
Now both count: the run that saw it land counts it, and a later start does not again.

Real Hardhat; a real ``sdex node`` process on its SQLite store, stopped; the row written as
``Store.add_settlement`` writes it, its transaction sent and mined meanwhile (one match, or a
batch of two); then the node started again, twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_up
from tests.test_node import ALICE, BOB, CAROL, DAVE
from tests.test_node_restart import OPERATOR
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle81_unsettled_restart import count, pair, record, signed_match, status_of


@pytest.mark.parametrize("matches", [1, 2])
async def test_a_row_that_landed_while_the_node_was_down_counts_its_matches_once(
    chain: Chain, tmp_path: Path, matches: int
) -> None:
    """Before: ``matchesSettled`` 0 at the restart that found it landed (failed 3 of 3)."""
    c = chain
    db = tmp_path / "n.db"
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    async with node_up(c, db, None, OPERATOR):
        pass  # (the store made, the node stopped)
    pairs = [pair(c, BOB, ALICE, price), pair(c, CAROL, DAVE, price)][:matches]
    tx = signed_match(c, pairs, count(c))
    record(db, tx, pairs)
    c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined on the send: landed while down)
    got = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
    assert got is not None and int(got["status"], 16) == 1, got
    async with node_up(c, db, None, OPERATOR) as (_, api):
        assert status_of(db, tx.tx_hash) == "mined"
        body = await health(api)
        assert body["matchesSettled"] == matches, body["matchesSettled"]  # (before: 0)
        assert body["matchesFailed"] == 0
    async with node_up(c, db, None, OPERATOR) as (_, api):  # (its row no longer pending)
        assert (await health(api))["matchesSettled"] == 0
