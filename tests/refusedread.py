"""Closed orders out of memory and the on-chain cancel of one while the store refuses its
reads: shared by store97_cancel_refused and review96e_recheck_status."""

from __future__ import annotations

from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.reorgutil import forgotten
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_node import ALICE
from tests.test_store95_follow_refused import refusing_reads


async def closed_forgotten(node: Node, api: Api, signed: SignedOrder, status: str) -> None:
    """``signed`` closes ``status`` at ``node``, then (no grace) leaves its memory."""

    async def closed() -> bool:
        return await status_at(api, signed) == status

    await wait_for(closed, 60)
    node.registry.grace = 0.0
    await forgotten(node, signed)


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
