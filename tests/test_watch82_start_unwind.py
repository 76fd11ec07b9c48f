"""watch82: a start that found its saved head replaced holds signing till it is undone.

watch81: a node restarted after a reorg that replaced its saved head undoes the saved blocks
to the fork point with its first poll (the start's catch-up), as a running watcher undoes a
reorg. When that poll failed (the chain's latest block not read), nothing was known and not
applied: the node matched and signed on the replaced head's book (orders as judged there)
till a poll got through. Now the head proven replaced at the start is known and not applied
(``Unapplied.replaced``): signing is held as a running watcher's reorg holds it, till the
unwind is applied (or ``BOUND``).

Real Hardhat (``evm_snapshot``/``evm_revert``); a real node in-process stopped and started
again on its SQLite store, the second time behind a real loopback proxy
(``tests.headsproxy``) whose reads of the latest block answer null after the start's first."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.startheads import caught_up, failing_catch_up, replaced_while_down


async def test_a_failed_catch_up_after_a_replaced_head_holds_signing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    old, new, n = await replaced_while_down(c, db)
    async with failing_catch_up(c, db) as (proxy, node):
        w = node.watcher
        said = w.unapplied.to_json()
        # before: nothing known (appliedBlock -1, oldestUnapplied None), signing free
        assert (said["appliedBlock"], said["oldestUnapplied"]) == (n - 1, n), said
        assert said["signing"] != "free", said
        assert w.applied is None and w.mirror.head is not None
        assert w.mirror.head.hash == old["hash"]  # (not undone yet: the case in point)
        await caught_up(proxy, node, new)
        assert w.reorgs == 1
