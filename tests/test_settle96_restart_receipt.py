"""settle96 (left43, "Settlement"): a start believes a pending row's receipt only as the live
wait believes one (``sdex.settlement.rowreceipt.believed``): its logs account for the row's
matches (``outcome.unaccounted_pairs``; edge94) and a read on a connection of its own gives
it too (``sdex.settlement.confirm``; settle93). Not believed, the row is adopted unread: its
wait judges it, the receipt confirmed.

Before, the restart's paths (``Reconcile.run``'s read, ``_receipt``, the adoption's and
``mark_unread``'s ``landed``) believed one read through the pooled client. A balancer that
pins each kept-alive connection to one backend (sticky sessions) told a pooled row
"reverted" (in a block of another chain): the row was marked ``failed`` and its pair matched
again at the next nonce behind it (both mined, the second a paid revert); told it "mined"
with no fills (a short receipt), it was marked ``mined`` and never awaited.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``tests.replacedrow.pooled_row``); the restart in this process behind settle89's real
loopback balancer (aiohttp, keep-alive) answering every ask for the row's receipt with the lie
while it lasts (the backend its pooled connections are pinned to); the confirming reads,
each on a connection of its own, ask for the block it names, and reach the chain."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import foreign_receipt, pooled_row
from tests.test_reconcile77_too_high import mined_and_filled, pending_rows, pooling
from tests.test_settle89_sticky_receipt import RECEIPT, Said, sticky_balancer

__all__ = ["pooling"]


@pytest.mark.parametrize("status", ["0x0", "0x1"])
async def test_a_sticky_backends_receipt_at_a_restart_is_not_believed(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, row = await pooled_row(c, db)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    head = quantity(c.rpc.call("eth_blockNumber"))
    # (status 0: reverted; status 1: mined with no fills, short of its match's two)
    told = foreign_receipt(tx, row, head, status)
    lies: list[int] = []
    lying = [True]
    async with sticky_balancer(c.rpc.url) as b:

        def answer(call: object, port: int) -> Said:
            if not isinstance(call, dict) or call.get("method") != RECEIPT:
                return None
            if call.get("params") != [tx] or not lying:
                return None
            lies.append(port)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": told}

        b.answer = answer
        async with running_node(replace(node_config(c, db), rpc=b.url)) as (node, api):
            s = node.settler
            assert lies, "the lie was never told"
            # before: the row marked as the lie said at the start, never adopted: "failed",
            # its pair matched again at the next nonce (a paid revert once both mined), or
            # "mined", never awaited
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert pending_rows(db) == [tx]
            assert s.settled == 0 and s.failed == 0, (s.settled, s.failed)
            assert await api.status(maker) != "filled"
            assert c.rpc.call(RECEIPT, tx) is None  # (pooled)
            lying.clear()  # (the lying backend out of the balancer)
            await mined_and_filled(c, node, api, maker, count)  # (before: count + 2, a revert)
            assert quantity(c.rpc.call(RECEIPT, tx)["status"]) == 1
            await wait_for(lambda: not pending_rows(db), timeout=30)
