"""review81: a settlement given back unsent is dropped even when the store refused the drop's
first write and no later settlement took its nonce.

settle80 and the lead's urgent drop (``BatchTx._give_back``) drop a withdrawn settlement's row
with a write of its own, and again by the next row recorded at its nonce. When that write was
refused (the store locked past its busy timeout: an operator's backup, a stuck reader) and the
lane signed nothing more at that nonce (a lone match withdrawn, nothing else to settle), the
row stayed ``pending`` with its raw bytes for the rest of the run: a restart's reconcile sent
them (a row pending and unknown to the chain is "sent again"), mined and reverted, its order
cancelled on chain: the operator paid for a settlement the node had withdrawn. Now a refused
drop is written again until it commits.

Real Hardhat, a real ``sdex node`` process behind settle80's loopback proxy: the withdrawn
settlement signed while its record waits on the node's SQLite store locked from another
connection; at its send's ask of the head the proxy mines its maker's cancel and locks the
store until the drop's write has failed on the lock; the store is unlocked, the node killed by
its PID and started again on the same store and chain."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_up, wait_for
from tests.test_node_restart import OPERATOR
from tests.withdrawnutil import (
    count,
    crossing_pair,
    health,
    pending_at,
    withdrawn_node,
)


async def test_a_given_back_settlements_refused_drop_is_written_again(
    chain: Chain, tmp_path: Path
) -> None:
    """The withdrawn settlement's drop refused, nothing signed at its nonce since: once the
    store takes writes again its row is dropped, and the restart sends nothing (before: the
    row pending till the kill, the restart sent its bytes, mined and reverted)."""
    c = chain
    db = tmp_path / "n.db"
    operator = c.address(OPERATOR)
    _price, resting, crossing, w = crossing_pair(c, db)
    async with withdrawn_node(c, w, resting, crossing) as (proc, api, withdrawn, at):

        async def ok() -> bool:  # (the watcher's own writes refused meanwhile: failing)
            return (await health(api))["chain"] == "ok"

        await wait_for(ok, timeout=30)
        with contextlib.suppress(AssertionError):  # (before the fix: never; killed anyway)
            await wait_for(lambda: withdrawn not in pending_at(db), timeout=15)
        assert count(c, operator) == at  # (nothing signed at its nonce since)
        proc.kill()  # (SIGKILL, by its PID)
        proc.wait(timeout=10)
    async with node_up(c, db, None, OPERATOR) as (proc, api):
        await wait_for(lambda: withdrawn not in pending_at(db), timeout=60)
    # before: the row pending, the restart's reconcile sent its bytes, mined and reverted
    # (its order cancelled on chain: the operator paid)
    again = c.rpc.call("eth_getTransactionReceipt", withdrawn)
    assert again is None, f"the withdrawn bytes were mined again, status {again['status']}"
    assert count(c, operator) == at
