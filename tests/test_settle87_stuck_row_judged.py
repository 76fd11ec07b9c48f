"""settle87 (settle86's left): a start's pooled row stuck under a risen base fee whose call
would revert is never re-priced unjudged by its wait (a replacement at higher fees, mined,
reverted: the operator paying).

``geth``: the start's judging (``unsettled.unsettleable``) called at the row's own fee cap,
which geth refuses under the base fee ("max fee per gas less than block base fee"): the row
went unjudged, adopted, and its wait signed it again at higher fees. Now judged at the lane's
fees of now: replaced by its transfer of nothing (``replace_pooled``: cheaper than its revert
here, the chain's base fee high and its tip small beside it).
``left``: judged (Hardhat runs the call), its transfer costing more than its revert at its
own fees (a base fee far over its cap, the tip the most of its price): left to land, as
settle82 chose; its wait then re-priced its bytes unjudged (a revert at the risen fees,
paid more than the transfer). Now judged again before that (``rejudged``): its transfer.
``error`` (settle93, fixb's left): the start's call answered with an error that is no revert
(a backend's timeout): the row went unjudged, adopted outside ``rejudged`` (fixb's read-again
covers a refused fee only), and its wait re-priced its bytes unjudged. Now every row the
start could not judge is judged again by its wait: its transfer.
Either way its match fails (the maker's order is cancelled): no replacement is mined.

fix93: fee93 never believes the jump (over its cap in one block) till the blocks mined over
its cap bring it within EIP-1559's reach of those the mirror read: the start's fees of now
refused, the row judged at its own (``left``: its transfer not signed, the fee refused) and,
before, adopted outside ``rejudged``: its wait re-priced its bytes as soon as the fee was
believed, mined and reverted. Now it is judged again by its wait in every case; until then
nothing is signed at its nonce and /health says why (``replacedrow.withheld_for_fee``). The
row signed at a base fee walked up to (``fee_walked_to``): set in one block, the first run
never believed it and signed nothing.

(settle88: the block mined over its cap before the restart had the start's catch-up match
the row's orders again before its adoption, which then refused the row: fixed by
``NodeAdoption._uncross``; before that fix this test never reached the row's wait.)

Real Hardhat mining only when told, each block over the row's fee cap
(``hardhat_setNextBlockBaseFeePerGas``); a real ``sdex node`` killed by its PID with the
settlement pooled (``pooled_and_killed``); the maker's order cancelled in the Exchange's
storage once the row is adopted (no event: the node does not know); the restart in this
process behind a proxy that answers the start's call of the row as a revert (a backend that
saw the order cancelled), or, ``geth``, refuses it under the base fee as geth does."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.settlement.unsettled import intrinsic_gas, price
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import (
    answering,
    base_fee_kept,
    fee_walked_to,
    pooled_row,
    withheld_for_fee,
)
from tests.test_reconcile77_too_high import pooling
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle81_unsettled_restart import status_of
from tests.test_settle84_replaced_judged import closed_on_chain, settled_down
from tests.test_settle86_stuck_rejudged import geth_refusal, over_cap

__all__ = ["pooling"]

GWEI = 10**9
TRANSFER_GAS = 21_000


@pytest.mark.parametrize("case", ["geth", "left", "error"])
async def test_a_stuck_pooled_row_that_would_revert_is_never_repriced_unjudged(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    with contextlib.ExitStack() as stack:
        stack.enter_context(base_fee_kept(c))
        if case != "left":  # (the row signed at a base fee high beside its tip; walked:
            await fee_walked_to(c, 20 * GWEI)  # a jump there is never believed by the first run)
        maker, count, tx, got = await pooled_row(c, db)
        cap, tip = quantity(got["maxFeePerGas"]), quantity(got["maxPriorityFeePerGas"])
        revert = intrinsic_gas(bytes.fromhex(str(got["input"])[2:])) * cap
        # (geth: just over its cap, its transfer cheaper than its revert; left: far over)
        high = cap + cap // 20 + 1 if case != "left" else 10 * cap
        transfer = TRANSFER_GAS * price((high, tip + tip // 8 + 1), high)
        assert (transfer < revert) == (case != "left"), (transfer, revert)
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(high))
        c.rpc.call("evm_mine")  # (over its cap: it stays pooled)
        assert c.rpc.call("eth_getTransactionReceipt", tx) is None
        data, calls = str(got["input"]).lower(), list[str]()

        def answer(call: object) -> dict[str, object] | None:
            """The start's call of the row: refused as geth does (``geth``, a fee cap under
            the base fee), else answered as a revert (a backend that saw the maker's order
            cancelled, a cancel undone since: the node loads it open and adopts the row)."""
            if not isinstance(call, dict) or call.get("method") != "eth_call" or calls:
                return None
            asked = (call.get("params") or [None])[0]
            if not isinstance(asked, dict) or str(asked.get("data", "")).lower() != data:
                return None
            said = geth_refusal(c, call) if case == "geth" else None
            err = {"code": 3, "message": "execution reverted", "data": "0x"}
            if case == "error":  # (an error that is no revert: a backend's timeout)
                err = {"code": -32000, "message": "request timed out"}
            said = said or {"jsonrpc": "2.0", "id": call.get("id"), "error": err}
            calls.append(str(said["error"]))
            return said

        monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
        url = stack.enter_context(answering(c, answer))
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            assert len(calls) == 1, calls  # (the start judged it once: refused, or reverts)
            await withheld_for_fee(c, node, api, got, True)  # (the jump: fee93)
            stack.enter_context(closed_on_chain(c, maker.order))  # (its call reverts again)
            # (blocks over its cap: 3 make it stuck; the fee believed once they bring it
            # within EIP-1559's reach of the blocks read, its wait judges and replaces it)
            await wait_for(over_cap(c, high, lambda: not s.in_flight), timeout=120)
            operator = str(got["from"])
            # (its nonce taken by a transfer of nothing: the row's pair may be matched again
            # after, the cancel in storage having no event the node could see, and revert)
            assert _sent_at(c, operator, count) == "0x"
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None
            # (its match failed, its order cancelled: by the transfer, no replacement mined)
            assert s.replaced == 0, f"its bytes re-priced unjudged: {s.replaced} replacements"

            def counted() -> bool:  # (its row's write queued: committed soon after)
                return status_of(db, tx) == "dropped" and s.withheld_cancels == 1

            await wait_for(counted, timeout=30)  # (its transfer took the nonce)
            assert (await health(api))["settlementsWithheldCancelled"] == 1
            await settled_down(c, node)


def _sent_at(c: Chain, sender: str, nonce: int) -> str:
    """The input of ``sender``'s transaction mined at ``nonce`` (in the last 64 blocks)."""
    head = quantity(c.rpc.call("eth_blockNumber"))
    for number in range(head, max(-1, head - 64), -1):
        for t in c.rpc.call("eth_getBlockByNumber", hex(number), True)["transactions"]:
            if str(t["from"]).lower() == sender.lower() and quantity(t["nonce"]) == nonce:
                return str(t["input"])
    raise AssertionError(f"no transaction of {sender} at nonce {nonce} in the last 64 blocks")
