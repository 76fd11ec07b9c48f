"""settle80: a settlement withdrawn before its send is never sent again after a restart.

revert79's ``BatchTx._recheck`` gives a settlement's nonce back when an order of it closed
between its signature and its send and it is the lane's last: the next settlement is signed
at that nonce. The withdrawn row was marked ``dropped`` by a write of its own, queued once the
settler woke from the withdrawal (behind any record queued meanwhile) and never tied to the
next row: when that write had not committed (a kill first) or failed, and the next row had,
the store held two ``pending`` rows at one nonce, and a restart's reconcile sent the
withdrawn bytes again (the first in the table): a paid revert for an order cancelled on
chain, the next settlement refused "nonce too low" and its matches matched again. Now the drop
is queued before the nonce is given back, and the next row recorded at that nonce drops the
withdrawn one in its own transaction (``Store.add_settlement``'s ``given_back``).

Real Hardhat, a real ``sdex node`` process behind a loopback proxy (``tests.withdrawnutil``): the
withdrawn settlement signed while its record waits on the node's SQLite store, locked from
another connection (revert79's (b)); the watcher's head polls held from then on, so its send
asks the chain's head (right before its recheck, its record durable); at that ask the proxy
mines its maker's cancel and locks the store until the drop's write has failed on the lock;
the next settlement, at the same nonce, is recorded and its send held at the proxy; the node
is killed by its PID and started again on the same store and chain."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_up, wait_for
from tests.test_node import BOB, E6, E18, bid
from tests.test_node_restart import OPERATOR
from tests.withdrawnutil import (
    count,
    crossing_pair,
    health,
    pending_at,
    withdrawn_node,
)


async def test_a_withdrawn_settlement_is_not_sent_again_at_a_restart(
    chain: Chain, tmp_path: Path
) -> None:
    """The withdrawn settlement's drop refused (the store locked past its busy timeout), the
    next settlement at its nonce recorded, the node killed before that one left: the restart
    sends only the next one (before: both rows pending, the withdrawn one sent first and
    reverted, the next refused and matched again: failed 3 of 3)."""
    c = chain
    db = tmp_path / "n.db"
    price, resting, crossing, w = crossing_pair(c, db)
    later = c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB)  # (crosses ``crossing``)
    async with withdrawn_node(c, w, resting, crossing) as (proc, api, withdrawn, at):
        assert (await health(api))["settlementsWithheldCancelled"] == 0  # (not cancelled)
        assert withdrawn in pending_at(db)  # (its drop never stored)

        async def ok() -> bool:  # (the watcher's own writes refused meanwhile: failing)
            return (await health(api))["chain"] == "ok"

        await wait_for(ok, timeout=30)
        w.send.armed.set()
        assert (await api.post_order(later))[0] == 201
        await wait_for(w.send.held.is_set, timeout=30)  # (recorded, its send held)
        rows = pending_at(db)
        proc.kill()  # (SIGKILL, by its PID: the next settlement's row pending)
        proc.wait(timeout=10)
        w.send.release.set()
    assert set(rows.values()) == {at}, rows  # (the next one, at the nonce given back)
    async with node_up(c, db, None, OPERATOR) as (proc, api):

        async def settled() -> bool:
            return await api.status(later) == "filled"

        await wait_for(settled, timeout=60)
    # before: both rows pending, the withdrawn one sent again first, mined and reverted (its
    # order cancelled on chain: the operator paid), the next refused and matched again
    again = c.rpc.call("eth_getTransactionReceipt", withdrawn)
    assert again is None, f"the withdrawn bytes were mined again, status {again['status']}"
    (next_row,) = (h for h in rows if h != withdrawn)
    got = c.rpc.call("eth_getTransactionReceipt", next_row)
    assert got is not None and int(got["status"], 16) == 1, got  # (no revert)
    assert count(c, c.address(OPERATOR)) == at + 1, rows
