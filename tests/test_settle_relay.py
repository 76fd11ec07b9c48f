"""The next batch formed on the chain thread as the broadcast before it ends (no hop through
the event loop), still recorded before it is sent, and given back if its record fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_settle_handoff import fail_once
from tests.test_settlement_pipeline import all_filled, first_then_five, hold_first_broadcast


def mined_nonce(c: Chain, address: str) -> int:
    return int(c.rpc.call("eth_getTransactionCount", address, "latest"), 16)


def block_loop_until(cond: Callable[[], bool], timeout: float) -> bool:
    """Hold the event loop (a busy loop: nothing of the node runs on it) until ``cond()``
    holds; whether it did within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)  # (the event loop stays held: that is the point)
    return False


async def five_wait_for_the_first(
    c: Chain, node: Any, api: Api
) -> tuple[list[SignedOrder], threading.Event]:
    """The first settlement's broadcast held on the chain thread, five more matches made
    meanwhile, the loop waiting for its end (armed): the orders, and the hold's release."""
    entered, busy = hold_first_broadcast(node.settler.sender)
    try:
        orders = await first_then_five(c, node, api, entered.is_set)
        await wait_for(lambda: node.settler.relay_armed)
    except BaseException:
        busy.set()
        raise
    return orders, busy


async def test_the_next_batch_goes_out_as_the_one_before_ends_without_the_event_loop(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        settler, c = node.settler, chain
        operator = settler.sender.address
        start = mined_nonce(c, operator)
        orders, busy = await five_wait_for_the_first(c, node, api)
        try:
            # The event loop is held from before the first broadcast ends: the five's
            # settlement is formed, signed, recorded and sent by the chain thread alone.
            busy.set()
            out = block_loop_until(lambda: mined_nonce(c, operator) == start + 2, 20.0)
        finally:
            busy.set()
        assert out, "the second settlement did not go out while the event loop was held"
        await all_filled(node, api, orders)
        assert settler.relayed == 1
        assert not node.store.pending_settlements()  # (both recorded, then mined)


async def test_a_batch_formed_on_the_chain_thread_whose_record_fails_is_never_sent(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        settler = node.settler
        orders, busy = await five_wait_for_the_first(chain, node, api)
        try:
            refused = fail_once(node.store, "add_settlement")  # the five's record
            busy.set()
            await wait_for(lambda: settler.refused == 1)
        finally:
            busy.set()
        assert settler.relayed == 1 and len(refused) == 1
        assert chain.rpc.call("eth_getTransactionByHash", refused[0]) is None  # never sent

        async def done() -> bool:
            return all([await api.status(t) == "filled" for t in orders])

        await wait_for(done)  # given back undiagnosed, matched again and settled
        assert settler.settled == 6 and settler.refused == 1
