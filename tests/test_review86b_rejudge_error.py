"""review86b: settle84's judging again of an adopted row a start replaced by a transfer of
nothing (``ReplacingLane._settles_now``, asked by ``NonceLane._keep_alive`` and ``_replace``)
takes an answer that does not read (an RPC error, a timeout: no revert) as "settles nothing":
its transfer goes, takes the nonce, the row's sound matches failed (their orders matched
again later; the operator pays the transfer). One failed ``eth_call`` of a flapping endpoint
is enough, and nothing asks again, though the row's wait checks again every few seconds.

The start's own judging (``unsettled.unsettleable``) takes such an answer the other way: a
row whose call is not answered is sent as it is.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``pooled_and_killed``); the restart in this process behind a proxy that answers the
row's first call as a revert (a lagging backend: the start replaces it), swallows that
transfer, and answers the row's next call with an error ("header not found"), then truly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering, pooled_row
from tests.test_reconcile77_too_high import pooling
from tests.test_settle84_replaced_judged import Answer, settled_down

__all__ = ["pooling"]


def flapping_judge(data: str) -> tuple[list[str], Answer]:
    """What the proxy did, in order (``"revert"``, ``"transfer"``, ``"error"``), and its
    answer function."""
    done: list[str] = []

    def answer(call: object) -> dict[str, object] | None:
        if not isinstance(call, dict):
            return None
        params = call.get("params") or []
        method = call.get("method")
        asked = params[0] if method == "eth_call" and params else None
        ours = isinstance(asked, dict) and str(asked.get("data", "")).lower() == data
        if ours and "revert" not in done:
            done.append("revert")
            err = {"code": 3, "message": "execution reverted", "data": "0x"}
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": err}
        if ours and "transfer" in done and "error" not in done:
            done.append("error")
            err = {"code": -32000, "message": "header not found"}
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": err}
        if (
            method == "eth_sendRawTransaction"
            and len(str(params[0])) < 300
            and "transfer" not in done
        ):
            done.append("transfer")
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": "0x" + "00" * 32}
        return None

    return done, answer


async def test_one_unread_judging_call_does_not_turn_a_sound_row_into_its_transfer(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    done, answer = flapping_judge(str(got["input"]).lower())
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    proxied = answering(c, answer)
    with proxied as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert done == ["revert", "transfer"], done  # (replaced, the transfer swallowed)
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            c.rpc.call("hardhat_dropTransaction", tx)  # (the pool lets it go)

            def resent() -> bool:  # (its bytes, or its transfer, pooled at its nonce)
                pending = c.rpc.call("eth_getTransactionCount", got["from"], "pending")
                return quantity(pending) == count + 1

            await wait_for(resent, timeout=60)
            assert "error" in done, done  # (its judging call answered an error)
            c.rpc.call("evm_mine")
            await wait_for(lambda: tx not in s.in_flight, timeout=60)
            mined = c.rpc.call("eth_getTransactionReceipt", tx)
            assert mined is not None, "a sound row's transfer sent on one unread call"
            assert quantity(mined["status"]) == 1, mined
            assert await api.status(maker) == "filled"
            await settled_down(c, node)
