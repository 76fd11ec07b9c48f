"""settle83 (review of 82f9933c): a pooled row that a restart replaces by a transfer of
nothing (``unsettled.replace_pooled``: its call reverts at the latest block) is kept pending
until its nonce is proven taken without it, not given up at the transfer's send.

Behind a balancer one backend may lag: it answers the row's call as a revert and takes the
transfer (answering its hash) without it ever reaching the chain that pools the row. Before
82f9933c the row was dropped at the send, its orders matched again at the next nonce, and the
pooled bytes then landed: the same match settled twice, the second a paid revert.
review82a's test could not tell this apart (its orders were not in the node's book: the
adoption gave the row up on any version); here the orders were posted to the node, so the
row is adoptable and only the transfer's send decides.

Real Hardhat mining only when told; a real ``sdex node`` process killed by its PID with the
settlement pooled; the restart in this process behind a proxy playing the lagging backend
(the row's ``eth_call`` answered as a revert, the transfer of nothing answered as taken and
not forwarded), each once.

settle83: ``settlementsWithheldCancelled`` counted such a row at the transfer's send, also when
the row landed after all (the untaken transfer); now once its nonce is taken without it
(``taken``: the transfer forwarded, it takes the nonce once mined, the pair matched again)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.replacedrow import answering, pooled_row
from tests.rpcfault import _forward
from tests.test_node import E18
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import (
    mined_and_filled,
    pooling,
)
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle81_unsettled_restart import status_of

__all__ = ["pooling"]


@pytest.mark.parametrize("case", ["untaken", "taken", "mined"])
async def test_a_pooled_row_replaced_by_an_untaken_transfer_is_kept_and_settles_once(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """``untaken``, before (74860072): the row dropped at the transfer's send, its pair
    matched again at the next nonce; the pooled row and that one both mined, the second
    reverting (paid). Before settle83: ``settlementsWithheldCancelled`` 1 though it landed.
    ``taken``: counted once, when the transfer is mined (the pair then matched again);
    ``mined``: the transfer mined at once, the start proves the row's nonce taken without it
    (given up, counted by ``give_up``'s ``taken``), its pair matched again."""
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    data = str(got["input"]).lower()
    lagged: list[str] = []  # ("call" once answered, then "transfer" once swallowed)

    def lagging(call: object) -> dict[str, object] | None:
        if not isinstance(call, dict) or len(lagged) >= 2:
            return None
        params = call.get("params") or []
        method = call.get("method")
        asked = params[0] if method == "eth_call" and params else None
        if not lagged and isinstance(asked, dict) and str(asked.get("data", "")).lower() == data:
            lagged.append("call")
            err = {"code": 3, "message": "execution reverted", "data": "0x"}
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": err}
        if lagged == ["call"] and method == "eth_sendRawTransaction" and len(str(params[0])) < 300:
            lagged.append("transfer")  # (a transfer of nothing: its hash answered, not sent)
            if case == "mined":  # (forwarded, then a block: the transfer takes the nonce)
                answer = json.loads(_forward(c.rpc.url, call)[1])
                c.rpc.call("evm_mine")
                return dict(answer)
            if case == "taken":
                return None
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": "0x" + "00" * 32}
        return None

    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    with answering(c, lagging) as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert lagged == ["call", "transfer"], lagged  # (the replacement was sent)
            s = node.settler

            def held() -> bool:  # (before: dropped, its pair matched again and sent)
                return (s.adopted == 1 or s.sent == 1) and not s.sends

            await wait_for(held, timeout=30)
            if case == "mined":  # (given up by the start: its nonce proven taken)
                assert status_of(db, tx) == "dropped" and s.withheld_cancels == 1
                c.rpc.call("evm_mine")  # (the pair matched again)

                async def settled() -> bool:
                    return await api.status(maker) == "filled" and not s.in_flight

                await wait_for(settled, timeout=60)
                assert (await health(api))["settlementsWithheldCancelled"] == 1
                return
            assert s.withheld_cancels == 0  # (before settle83: 1, at the transfer's send)
            if case == "taken":
                await the_transfer_counted(c, node, api, maker, count)
                return
            pending = quantity(c.rpc.call("eth_getTransactionCount", got["from"], "pending"))
            assert pending == count + 1, (count, pending)  # (before: + 2, matched again)
            assert status_of(db, tx) == "pending"  # (before: "dropped" at the send)
            await mined_and_filled(c, node, api, maker, count)
            assert status_of(db, tx) == "mined"
            assert s.withheld_cancels == 0, "counted cancelled, yet it landed"
            assert (await health(api))["settlementsWithheldCancelled"] == 0
    assert c.exchange.order_info(maker.order).filled == E18


async def the_transfer_counted(
    c: Chain, node: Node, api: Api, maker: SignedOrder, count: int
) -> None:
    """The transfer pooled in the row's place mined: the row's nonce taken without it,
    counted once; its pair matched again, settled at the next nonce."""
    s = node.settler
    c.rpc.call("evm_mine")

    def counted() -> bool:
        return s.withheld_cancels == 1

    await wait_for(counted, timeout=60)
    assert (await health(api))["settlementsWithheldCancelled"] == 1

    async def matched_again() -> bool:  # (its settlement sent: pooled)
        pending = c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "pending")
        return quantity(pending) == count + 2

    await wait_for(matched_again, timeout=60)
    c.rpc.call("evm_mine")

    async def filled() -> bool:
        return await api.status(maker) == "filled" and not s.in_flight

    await wait_for(filled, timeout=60)
    assert s.withheld_cancels == 1  # (its matches failed once, "cancelled at its nonce")
    assert c.exchange.order_info(maker.order).filled == E18
