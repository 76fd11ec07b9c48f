"""Closed orders out of memory, the on-chain cancel of one while the store refuses its reads
(store97_cancel_refused, review96e_recheck_status) and a removed IOC's fill mined again while
refused, taken back once (store96_read_later, store97_remined_kill, review96e_remined_stop):
the steps they share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sdex.audit import audit_network
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.reorgutil import forgotten
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_mirror import meta
from tests.test_node import ALICE, CAROL, E6, E18, ask
from tests.test_store95_follow_refused import refusing_reads


async def closed_forgotten(node: Node, api: Api, signed: SignedOrder, status: str) -> None:
    """``signed`` closes ``status`` at ``node``, then (no grace) leaves its memory."""

    async def closed() -> bool:
        return await status_at(api, signed) == status

    await wait_for(closed, 60)
    node.registry.grace = 0.0
    await forgotten(node, signed)


async def filled_forgotten(c: Chain, node: Node, api: Api) -> SignedOrder:
    """ALICE's ask of 1 WETH for 1000 USDC taken at ``node``, filled whole on chain by CAROL,
    closed ``filled`` and (no grace) out of memory: the order."""
    whole = c.sign(ask(c, ALICE, E18, 1000 * E6))
    assert (await api.post_taken(whole))[0] == 201
    assert c.exchange.fill_order(c.sender(CAROL), whole, 1000 * E6).status == 1
    await closed_forgotten(node, api, whole, "filled")
    return whole


async def cancelled_on_chain(
    c: Chain, node: Node, api: Api, signed: SignedOrder, refuse: bool
) -> None:
    """ALICE cancels ``signed`` on chain by its hash (the reader refusing every read of the
    orders while its block is applied, or not); the store reading again, the order is
    ``cancelled`` at the node (the chain's word: a cancel first)."""
    reader, refused = refusing_reads(node) if refuse else (None, [])
    try:
        assert c.exchange.cancel_order(c.sender(ALICE), signed.order).status == 1
        c.rpc.call("evm_mine")
        top = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: node.watcher.saved >= top, 60)
        assert refused or not refuse, "the order's row was never read"
    finally:
        if reader is not None:
            reader.set_authorizer(None)
    assert c.exchange.order_info(signed.order).status == 3  # (the contract: CANCELLED)
    c.rpc.call("evm_mine")  # (a block to judge it with, the store reading)

    async def cancelled() -> bool:
        return await status_at(api, signed) == "cancelled"

    await wait_for(cancelled, 60)


async def taken_back(api: Api, taker: SignedOrder) -> None:
    """``taker`` (reorged_ioc's IOC, closed ``removed``, its settlement mined again while its
    row's read was refused) has its fill back at the node: the chain's 3000 USDC."""

    async def back() -> bool:
        m = await meta(api, taker)
        return (m["status"], m["filledMakerAmount"]) == ("removed", str(3000 * E6))

    await wait_for(back, 60)  # (before: "0" for good)


async def taken_in_once(
    c: Chain, api: Api, taker: SignedOrder, caught_up: Callable[[], Awaitable[None]]
) -> None:
    """One more block, the node past it (``caught_up``): ``taker``'s fill taken in once
    (still the chain's 3000 USDC); the audit of the node clean."""
    c.rpc.call("evm_mine")  # (one more block: nothing taken in twice)
    await caught_up()
    assert (await meta(api, taker))["filledMakerAmount"] == str(3000 * E6)
    report = await asyncio.to_thread(
        audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
    )
    assert report.ok, report.to_json()
