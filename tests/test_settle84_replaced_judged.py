"""settle84 (settle83's left): an adopted row that a start replaced by a transfer of nothing
(``unsettled.replace_pooled``: its call reverts at the latest block) is judged again before
any send of its bytes: sent only if its call settles now, else its transfer.

Before, its wait sent its own bytes again once the transfer left the pool (the row unknown,
its nonce not taken: ``NonceLane._keep_alive``), or signed it again at higher fees
(``_replace``): mined and reverted, the operator paying. And on a chain that mines the
transfer at once, the start waited ``RESTART_RECEIPT_WAIT`` for the row's receipt, and
``LOST_RECHECK`` more, before it gave the row up: now its transfer's receipt proves its nonce
taken and it is given up then.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled (``pooled_and_killed``); the maker's order cancelled in the Exchange's storage
(no block mined: the row stays pooled) so that its call really reverts; the restart in this
process behind a proxy that swallows the transfer (a backend that lags: it never reaches the
chain) or mines it at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.keccak import keccak
from sdex.node.core import Node
from sdex.order import Order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering, pooled_row
from tests.rpcfault import _forward
from tests.test_node import CAROL, DAVE
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pooling
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle81_unsettled_restart import pair, status_of

__all__ = ["pooling"]

Answer = Callable[[object], dict[str, object] | None]


@contextlib.contextmanager
def closed_on_chain(c: Chain, order: Order) -> Iterator[Callable[[], None]]:
    """``order`` cancelled in the Exchange's storage (its fill state's slot found by trying
    the first few mapping slots), no block mined, no event: the node does not know; put back
    by the function given, or after."""
    exchange, was = c.exchange.address, c.exchange.order_info(order)
    for slot in range(8):
        key = "0x" + keccak(was.hash + slot.to_bytes(32, "big")).hex()
        before = c.rpc.call("eth_getStorageAt", exchange, key, "latest")
        c.rpc.call(
            "hardhat_setStorageAt", exchange, key, "0x" + (1 << 255).to_bytes(32, "big").hex()
        )
        if c.exchange.order_info(order).status != was.status:
            break
        c.rpc.call("hardhat_setStorageAt", exchange, key, before)
    else:
        raise AssertionError("the Exchange's fill states' slot not found")

    def restore() -> None:
        c.rpc.call("hardhat_setStorageAt", exchange, key, before)

    try:
        yield restore
    finally:
        restore()


def kept_open() -> None:
    """(Nothing closed on chain: nothing to put back.)"""


def transfer_once(c: Chain, data: str, lie: bool, mine: bool) -> tuple[list[str], Answer]:
    """What the proxy did (``"call"``: the row's call answered as a revert, once, if ``lie``;
    ``"transfer"``: the first transfer of nothing), and its answer function: that transfer
    swallowed (its hash answered, never sent on), or, ``mine``, forwarded and mined at once."""
    done: list[str] = []

    def answer(call: object) -> dict[str, object] | None:
        if not isinstance(call, dict) or "transfer" in done:
            return None
        params = call.get("params") or []
        method = call.get("method")
        asked = params[0] if method == "eth_call" and params else None
        if (
            lie
            and not done
            and isinstance(asked, dict)
            and str(asked.get("data", "")).lower() == data
        ):
            done.append("call")
            err = {"code": 3, "message": "execution reverted", "data": "0x"}
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": err}
        if method == "eth_sendRawTransaction" and len(str(params[0])) < 300:
            done.append("transfer")
            if mine:
                got = json.loads(_forward(c.rpc.url, call)[1])
                c.rpc.call("evm_mine")
                return dict(got)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": "0x" + "00" * 32}
        return None

    return done, answer


async def settled_down(c: Chain, node: Node) -> None:
    """(The maker's balance back) Whatever the node sent since mined, nothing left in flight
    nor pooled: the shared chain as the next test expects it."""
    operator = c.address(OPERATOR)

    async def quiet() -> bool:
        c.rpc.call("evm_mine")
        pending = c.rpc.call("eth_getTransactionCount", operator, "pending")
        return not node.settler.in_flight and pending == c.rpc.call(
            "eth_getTransactionCount", operator, "latest"
        )

    await wait_for(quiet, timeout=60)


@pytest.mark.parametrize("case", ["reverts", "settles"])
async def test_an_adopted_replaced_row_is_judged_again_before_its_bytes_go(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The start replaced the pooled row (its call answered as a revert by a lagging backend,
    once), the transfer swallowed, the row adopted (its orders open); then, ``reverts``, the
    maker's order cancelled on chain (the node does not know), and the pool drops the row.
    ``reverts``: its wait sends its transfer (before: its bytes, mined and reverted, paid),
    which takes the nonce, counted once; ``settles``: its bytes, mined, the maker filled."""
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    done, answer = transfer_once(c, str(got["input"]).lower(), True, False)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    proxied = answering(c, answer)
    with contextlib.ExitStack() as stack, proxied as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert "transfer" in done, done  # (the replacement was sent, and swallowed)
            s = node.settler

            def adopted() -> bool:
                return s.adopted == 1 and tx in s.in_flight

            await wait_for(adopted, timeout=30)
            restore: Callable[[], None] = kept_open
            if case == "reverts":  # (no event: the node holds it open)
                restore = stack.enter_context(closed_on_chain(c, maker.order))
            c.rpc.call("hardhat_dropTransaction", tx)  # (the pool lets it go)

            def resent() -> bool:  # (its bytes, or its transfer, pooled at its nonce)
                pending = c.rpc.call("eth_getTransactionCount", got["from"], "pending")
                return quantity(pending) == count + 1

            await wait_for(resent, timeout=60)
            c.rpc.call("evm_mine")

            def ended() -> bool:
                return tx not in s.in_flight

            await wait_for(ended, timeout=60)
            mined = c.rpc.call("eth_getTransactionReceipt", tx)
            restore()  # (what the node matches again from here settles)
            if case == "settles":
                assert mined is not None and quantity(mined["status"]) == 1, mined
                assert s.withheld_cancels == 0
                assert await api.status(maker) == "filled"
            else:
                assert mined is None, f"its bytes sent again, mined: status {mined['status']}"

                def counted() -> bool:  # (its row's write queued: committed soon after)
                    return status_of(db, tx) == "dropped" and s.withheld_cancels == 1

                await wait_for(counted, timeout=30)  # (its transfer took the nonce)
                assert (await health(api))["settlementsWithheldCancelled"] == 1
            await settled_down(c, node)


async def test_a_replaced_row_whose_transfer_mined_at_once_is_given_up_then(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain mines the transfer on its send (the proxy mines it before it answers): the
    row's nonce proven taken, the row given up within the start (before: the start waited
    ``RESTART_RECEIPT_WAIT`` for the row's receipt, here 90 s, then ``LOST_RECHECK``)."""
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    done, answer = transfer_once(c, str(got["input"]).lower(), False, True)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 90.0)
    proxied = answering(c, answer)
    with closed_on_chain(c, maker.order) as restore, proxied as url:
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(45):  # (before: 90 s in the start's wait)
                node, api = await stack.enter_async_context(
                    running_node(replace(node_config(c, db), rpc=url))
                )
            assert done == ["transfer"], done
            s = node.settler
            assert status_of(db, tx) == "dropped" and s.withheld_cancels == 1
            assert tx not in s.in_flight and s.adopted == 0
            assert (await health(api))["settlementsWithheldCancelled"] == 1
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None
            assert quantity(c.rpc.call("eth_getTransactionCount", got["from"])) >= count + 1
            restore()
            await settled_down(c, node)


async def test_a_replaced_row_never_adopted_is_not_held_for_good(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start replaced the pooled row (its maker's order cancelled on chain, no event),
    its transfer swallowed; the node does not adopt it (the order is not open at the load):
    given up, never counted. Its ``withheld`` and ``cancels`` entries are gone once the next
    settlement lands (before: held till the process ended, one a such row and start)."""
    c = pooling
    db = tmp_path / "n.db"
    maker, _, tx, got = await pooled_row(c, db)
    done, answer = transfer_once(c, str(got["input"]).lower(), False, False)
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    proxied = answering(c, answer)
    with closed_on_chain(c, maker.order) as restore, proxied as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert done == ["transfer"], done
            s = node.settler
            assert s.adopted == 0 and tx in s.withheld  # (not adopted: given up)
            restore()  # (it lands as it is, given up: the watcher applies it)
            resting, incoming = pair(c, CAROL, DAVE, 3000)
            assert (await api.post_order(resting))[0] == 201
            assert (await api.post_order(incoming))[0] == 201

            async def landed() -> bool:
                c.rpc.call("evm_mine")
                return await api.status(resting) == "filled" and not s.in_flight

            await wait_for(landed, timeout=60)
            assert tx not in s.withheld and tx not in s.cancels  # (before: held for good)
            assert s.withheld_cancels == 0
            await settled_down(c, node)
