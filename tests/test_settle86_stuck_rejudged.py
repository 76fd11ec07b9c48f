"""settle86 (settle84's left): an adopted row a start replaced by a transfer of nothing
(``unsettled.replace_pooled``), stuck in the pool under a risen base fee, is judged again at
the fees it would go with and replaced at higher fees (``ReplacingLane._replace``), or, if it
would settle nothing now, its transfer sent in its place at those fees.

Before, no real-chain test took that path; and the judging call carried the row's own fee
cap, under the base fee: geth refuses such a call ("max fee per gas less than block base
fee"; measured here, Hardhat and anvil run it), so on geth the row was never judged, never
replaced, stuck until its bound cancelled it (its sound matches failed).

Real Hardhat mining only when told, each block over the row's fee cap
(``hardhat_setNextBlockBaseFeePerGas``); a real ``sdex node`` killed by its PID with the
settlement pooled (``pooled_and_killed``); the restart in this process behind a proxy that
answers the row's first call as a revert (a lagging backend: the start replaces the row),
swallows that transfer, and, ``geth``, answers an ``eth_call`` whose fee cap is under the
latest block's base fee as geth does."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
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
from tests.test_settle84_replaced_judged import (
    closed_on_chain,
    kept_open,
    settled_down,
    transfer_once,
)

__all__ = ["pooling"]

GWEI = 10**9
MINE_EVERY = 0.25
"""Seconds between the blocks ``over_cap`` mines while it is polled."""


def geth_refusal(c: Chain, call: object) -> dict[str, object] | None:
    """geth's answer to an ``eth_call`` whose ``maxFeePerGas`` is under the latest block's
    base fee (its message, code -32000); None for any other call (forwarded)."""
    if not isinstance(call, dict) or call.get("method") != "eth_call":
        return None
    params = call.get("params") or []
    asked = params[0] if params else None
    if not isinstance(asked, dict) or "maxFeePerGas" not in asked:
        return None
    cap = quantity(asked["maxFeePerGas"])
    base = quantity(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"])
    if cap >= base:
        return None
    message = (
        f"err: max fee per gas less than block base fee: address {asked.get('from')}, "
        f"maxFeePerGas: {cap}, baseFee: {base} (supplied gas {quantity(asked.get('gas', '0x0'))})"
    )
    return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32000, "message": message}}


def over_cap(c: Chain, fee: int, done: Callable[[], bool]) -> Callable[[], bool]:
    """A condition for ``wait_for``: ``done()``, a block of base fee ``fee`` mined every
    ``MINE_EVERY`` seconds while it is not."""
    last = [0.0]

    def cond() -> bool:
        if done():
            return True
        if time.monotonic() - last[0] >= MINE_EVERY:
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(fee))
            c.rpc.call("evm_mine")
            last[0] = time.monotonic()
        return False

    return cond


@pytest.mark.parametrize(
    ("case", "geth", "dropped"),
    [
        ("settles", False, False),
        ("reverts", False, False),
        ("settles", True, False),
        ("reverts", True, False),
        ("settles", True, True),
    ],
    ids=["settles", "reverts", "settles-geth", "reverts-geth", "dropped-geth"],
)
async def test_a_rejudged_row_stuck_under_the_base_fee_is_judged_and_replaced(
    pooling: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    geth: bool,
    dropped: bool,
) -> None:
    """``settles``: replaced at higher fees, mined, the maker filled, nothing counted withheld;
    ``reverts`` (the maker's order cancelled on chain, the node does not know): its transfer
    at those fees takes the nonce, the row dropped, counted once as a withheld cancel.
    ``geth``: before, never judged (its call refused), never replaced: stuck. ``dropped``:
    the pool lets the row go once the base fee is over its cap; its wait judges it (before,
    refused: nothing sent, then its transfer at its bound, stuck under the base fee too).
    fix93: ``dropped``'s jump, past EIP-1559's reach of the blocks read (fee93), is not
    believed: nothing signed, /health saying why, till the blocks over its cap bring it in
    reach (a few: signed at a base fee walked up to, the jump a quarter over its cap; ten
    times from a base fee of some thousand wei took ~116 blocks, past the row's unknown
    bound, ``UNKNOWN_TIMEOUT``: its transfer took the nonce, a row that would settle)."""
    c = pooling
    db = tmp_path / "n.db"
    with contextlib.ExitStack() as stack:
        stack.enter_context(base_fee_kept(c))
        if dropped:  # (signed at a base fee walked up to: the jump over its cap a few
            await fee_walked_to(c, 20 * GWEI)  # blocks' reach from it, within its unknown bound)
        maker, count, tx, got = await pooled_row(c, db)
        cap = quantity(got["maxFeePerGas"])
        high = cap + cap // 4 if dropped else 10 * cap  # (each block's base fee: over its cap)
        done, transfer = transfer_once(c, str(got["input"]).lower(), True, False)
        refused: list[str] = []

        def answer(call: object) -> dict[str, object] | None:
            if (said := transfer(call)) is not None or not geth:
                return said
            if (said := geth_refusal(c, call)) is not None:
                refused.append(str(said["error"]))
            return said

        monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
        url = stack.enter_context(answering(c, answer))
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert "transfer" in done, done  # (the start replaced it, the transfer swallowed)
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and tx in s.in_flight, timeout=30)
            restore: Callable[[], None] = kept_open
            if case == "reverts":  # (no event: the node holds it open)
                restore = stack.enter_context(closed_on_chain(c, maker.order))
            if dropped:  # (a block over its cap first: its wait's call is refused before)
                c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(high))
                c.rpc.call("evm_mine")
                c.rpc.call("hardhat_dropTransaction", tx)
                await withheld_for_fee(c, node, api, got, False)  # (the jump: fee93)
            # (blocks over its cap: it stays pooled, 3 blocks make it stuck; a jump's fee
            # believed once they bring it within EIP-1559's reach of the blocks read)
            await wait_for(over_cap(c, high, lambda: tx not in s.in_flight), timeout=90)
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None  # (never its bytes)
            restore()
            if case == "settles":
                assert s.replaced >= 1 and s.withheld_cancels == 0, (s.replaced, s.withheld_cancels)
                assert await api.status(maker) == "filled"
            else:

                def counted() -> bool:  # (its row's write queued: committed soon after)
                    return status_of(db, tx) == "dropped" and s.withheld_cancels == 1

                await wait_for(counted, timeout=30)  # (its transfer took the nonce)
                assert (await health(api))["settlementsWithheldCancelled"] == 1
            assert quantity(c.rpc.call("eth_getTransactionCount", got["from"])) >= count + 1
            await settled_down(c, node)
