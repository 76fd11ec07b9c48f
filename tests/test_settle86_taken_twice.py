"""settle86 (review86b's "also"): a start's pooled row replaced by a transfer of nothing
(``unsettled.replace_pooled``) is given up at once only when the transfer's receipt is told
twice, ``LOST_RECHECK`` apart, as a loss is (``unsettled._mined_at_once``; review79's rule).

Before, one answer with a receipt of the transfer gave the row up (``NonceTaken``), its
orders matched again at the next nonce. Behind a balancer one of whose backends follows
another chain (or lies), the row still pooled on the chain followed landed, and so did the
settlement matched again after it: reverted, the operator paying (the count two past the
row's nonce, not one).

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``pooled_and_killed``); the restart in this process behind a proxy that answers the
row's first call as a revert (the start replaces it), swallows that transfer, and answers
the first ask for its receipt with one (another backend's chain mined it), then forwards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.keccak import keccak
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering, pooled_row
from tests.test_reconcile77_too_high import mined_and_filled, pooling
from tests.test_settle84_replaced_judged import Answer, settled_down, transfer_once

__all__ = ["pooling"]


def another_chains_receipt(c: Chain, data: str, operator: str) -> tuple[list[str], Answer]:
    """``transfer_once``'s (the row's call answered as a revert once, the transfer swallowed)
    and the first ask for that transfer's receipt answered with one (``operator``'s, a block
    past the head); what was done, in order, and the answer function."""
    done, swallow = transfer_once(c, data, True, False)
    transfer: list[str] = []

    def answer(call: object) -> dict[str, object] | None:
        if not isinstance(call, dict):
            return None
        params = call.get("params") or []
        method = call.get("method")
        if method == "eth_sendRawTransaction" and "transfer" not in done:
            said = swallow(call)
            if said is not None and "transfer" in done:
                transfer.append("0x" + keccak(bytes.fromhex(str(params[0])[2:])).hex())
            return said
        if method == "eth_getTransactionReceipt" and transfer and params == transfer[:1]:
            if "receipt" in done:
                return None
            done.append("receipt")
            head = quantity(c.rpc.call("eth_blockNumber"))
            got = {
                "transactionHash": transfer[0],
                "transactionIndex": "0x0",
                "blockHash": "0x" + keccak(b"another chain").hex(),
                "blockNumber": hex(head + 1),
                "from": operator,
                "to": operator,
                "cumulativeGasUsed": hex(21_000),
                "gasUsed": hex(21_000),
                "effectiveGasPrice": hex(10**9),
                "contractAddress": None,
                "logs": [],
                "logsBloom": "0x" + "00" * 256,
                "status": "0x1",
                "type": "0x2",
            }
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": got}
        return swallow(call)

    return done, answer


async def test_one_receipt_of_the_transfer_does_not_give_a_pooled_row_up(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    done, answer = another_chains_receipt(c, str(got["input"]).lower(), str(got["from"]))
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    with answering(c, answer) as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert done == ["call", "transfer", "receipt"], done  # (the lie told once)
            s = node.settler
            # (before: given up at the start, its orders matched again: sent at the next nonce)
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert s.withheld_cancels == 0
            await mined_and_filled(c, node, api, maker, count)  # (before: count + 2, a revert)
            assert quantity(c.rpc.call("eth_getTransactionReceipt", tx)["status"]) == 1
            await settled_down(c, node)
