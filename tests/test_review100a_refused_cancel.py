"""review100a (confirm98's left): in ``poll_receipt``, a receipt not believed (one ``whole``
finds wrong, edge94, or one not confirmed) went straight back to asking again, skipping the
loss check: while a sticky liar told it at every ask, the wait never sent the settlement's
bytes again, never replaced it, never cancelled it at ``RECEIPT_TIMEOUT``; its orders held for
ever. A receipt not believed may be the chain's (counted lost, its matches would be made again
while it is mined), so it is never lost on it; but a transaction at its nonce (its bytes, a
replacement, its cancel) is safe either way: only one at a nonce is mined. Now the checks go
on while such a receipt is told: at ``RECEIPT_TIMEOUT`` its cancel is sent.

Real Hardhat mining only when told; a real node in this process behind settle89's real
loopback balancer (``sticky_balancer``), whose every answer to an ask for the pooled
settlement's receipt is a made-up one (a block no chain has, at the head's number, no logs);
once the cancel went, the liar stops and the chain mines one transaction at its nonce: the
cancel (the settlement given up, lost), or the settlement or its replacement (settled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.settlement import receipts
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle84_replaced_judged import settled_down
from tests.test_settle89_sticky_receipt import Said, pooled_behind_sticky

__all__ = ["pooling"]

FAKE = "0x" + "5a" * 32
"""The made-up block the liar's receipt names."""


async def test_a_refused_receipt_told_at_every_ask_lets_the_cancel_go(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    monkeypatch.setattr(receipts, "RECEIPT_TIMEOUT", 3.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, _, count):
        s = node.settler
        (tx,) = s.in_flight
        head = c.rpc.call("eth_getBlockByNumber", "latest", False)
        lies: list[int] = []
        lying = [True]

        def answer(call: object, port: int) -> Said:
            if not lying[0] or not isinstance(call, dict):
                return None
            if call.get("method") != "eth_getTransactionReceipt" or call.get("params") != [tx]:
                return None
            lies.append(port)
            made_up = {
                "transactionHash": tx, "transactionIndex": "0x0", "blockHash": FAKE,
                "blockNumber": head["number"], "from": node.sender.address,
                "to": c.exchange.address, "cumulativeGasUsed": "0x5208",
                "gasUsed": "0x5208", "contractAddress": None, "logs": [],
                "logsBloom": "0x" + "00" * 256, "status": "0x1", "type": "0x2",
                "effectiveGasPrice": "0x1",
            }  # fmt: skip
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": made_up}

        b.answer = answer
        await wait_for(lambda: len(lies) >= 3, timeout=30)
        # before: asked again at once each time, no check: no cancel, however long
        await wait_for(lambda: s.cancelled >= 1, timeout=120)
        assert s.lost == 0 and s.failed == 0  # (never lost on a receipt told)
        lying[0] = False
        c.rpc.call("evm_mine")
        await wait_for(lambda: not s.in_flight, timeout=120)
        # one transaction at its nonce: the cancel (lost, its matches failed), or the
        # settlement (or its replacement at higher fees) after all (settled once)
        counted = (s.lost, s.failed, s.settled)
        assert counted in {(1, 1, 0), (0, 0, 1)}, counted
        if (mined := c.rpc.call("eth_getTransactionReceipt", tx)) is not None:
            assert counted == (0, 0, 1) and mined["status"] == "0x1", (counted, mined)
        assert nonce(c.rpc, node.sender.address) == count + 1
        await settled_down(c, node)
