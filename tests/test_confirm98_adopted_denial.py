"""confirm98 (left45, "Settlement confirmation"): a read apart that denied a pending row's
receipt at a restart (``rowreceipt.believed``: the reconcile's read, the adoption's; the row
adopted unread) was forgotten by the adopted row's wait (``NonceLane._receipt``: a fresh
``Tally``): the liar that told the receipt, reached by the wait's two reads apart in a row,
had it believed. Now the wait goes on from the start's ``Tally`` (``rowreceipt.kept_tally``):
barred till ``REJUDGE_AFTER``.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``tests.replacedrow.pooled_row``); the restart in this process behind settle89's real
loopback balancer (aiohttp, keep-alive), whose pooled connections tell the row's receipt
"reverted" in block 1 under another hash (a block the mirror, ``DEPTH`` blocks, does not
keep: the watcher cannot say); the first read of that block, on a connection of its own,
reaches the chain (no such block, its head past it: a denial), every later one the liar's
made-up block."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import foreign_receipt, pooled_row
from tests.test_reconcile77_too_high import mined_and_filled, pending_rows, pooling
from tests.test_settle89_sticky_receipt import RECEIPT, Said, sticky_balancer

__all__ = ["pooling"]

LIES = 6
"""Reads apart the liar answered before the test looks (before: its second made a failure)."""
AT = 1
"""The block the lie names by number (long past, not kept by the restarted mirror)."""
DEPTH = 4
"""Blocks the restarted node's mirror keeps (``reorg_depth``: block ``AT`` not among them)."""


async def test_a_denial_at_the_adoption_holds_in_the_adopted_rows_wait(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, row = await pooled_row(c, db)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    head = 0  # (the lie names block ``AT``: its fields from ``foreign_receipt``)
    told = {**foreign_receipt(tx, row, head, "0x0"), "blockNumber": hex(AT)}
    fake = str(told["blockHash"])
    block = {
        **c.rpc.call("eth_getBlockByNumber", hex(AT), False),
        "hash": fake, "transactions": [tx], "logsBloom": "0x" + "00" * 256,
    }  # fmt: skip
    lies: list[int] = []  # (the receipt told)
    denied: list[int] = []  # (the block's read that reached the chain)
    confirms: list[int] = []  # (the liar's block given to a read apart)
    lying = [True]
    async with sticky_balancer(c.rpc.url) as b:

        def answer(call: object, port: int) -> Said:
            if not lying or not isinstance(call, dict):
                return None
            method, params = call.get("method"), call.get("params") or [None]
            if method == RECEIPT and params == [tx]:
                lies.append(port)
                return {"jsonrpc": "2.0", "id": call.get("id"), "result": told}
            if method == "eth_getBlockByHash" and params[0] == fake:
                if not denied:
                    denied.append(port)  # (the chain's: none, its head past block ``AT``)
                    return None
                confirms.append(port)
                return {"jsonrpc": "2.0", "id": call.get("id"), "result": block}
            return None

        b.answer = answer
        cfg = replace(node_config(c, db), rpc=b.url, reorg_depth=DEPTH)
        async with running_node(cfg) as (node, api):
            s = node.settler
            assert lies and denied, (lies, denied)
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert node.mirror.hash_at(AT) is None  # (the watcher cannot say of it)
            # before: the wait's own reads, two in a row on the liar, believed "reverted":
            # the row failed, its pair matched again at the next nonce (a paid revert)
            await wait_for(lambda: len(lies) >= LIES or s.failed > 0, timeout=60)
            assert (s.settled, s.failed) == (0, 0), (s.settled, s.failed, confirms)
            assert tx in s.in_flight and pending_rows(db) == [tx]
            assert await api.status(maker) != "filled"
            lying.clear()  # (the lying backend out of the balancer)
            await mined_and_filled(c, node, api, maker, count)
            await wait_for(lambda: not pending_rows(db), timeout=30)
