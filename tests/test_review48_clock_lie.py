"""review48: the chain's clock lead (attack44) only grew, for the node's life: one block an
endpoint stamped ahead (its hash kept: no reorg to undo it), or one a chain stamped ahead and
then caught up with, moved the node's expiry clock that far ahead for good. Every order
expiring within the lead was refused as expired and every open one swept as expired, though
the chain, its next blocks stamped by the wall clock, would settle them. Now the lead is what
the chain's recent blocks (``LEAD_BLOCKS``) show. Real node, real Hardhat behind a proxy."""

from __future__ import annotations

from pathlib import Path

from sdex.node import Node
from sdex.order import random_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import stamping_proxy
from tests.test_attack44_chain_clock import pending_time
from tests.test_node import ALICE, E6, E18, ask

LIE = 20
"""Seconds the endpoint stamps one block ahead of the chain: past ``MARGIN`` and the lead
Hardhat's own ``NEWER`` blocks show (each a second past the last: 9 s), with room for load.
The test waits for the chain's clock to pass the lie: about ``LIE`` - 9 seconds."""
MARGIN = 6
"""Seconds the order has left by the chain's next block: more than the node's own clock
runs ahead of it (the chain's lead and a second of block spacing), less than the lie's."""
NEWER = 9
"""Blocks the chain mines after it (more than ``LEAD_BLOCKS``: 8)."""


def _applied(node: Node) -> int:
    """The number of the head the node's watcher applied last (-1: none yet)."""
    head = node.watcher.applied
    return -1 if head is None else head.number


async def test_one_block_stamped_ahead_does_not_move_the_clock_for_good(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with stamping_proxy(c.rpc.url) as (url, lies):
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False)
        async with running_node(cfg) as (node, api):
            lied = int(c.rpc.call("eth_blockNumber"), 16) + 1
            lies[lied] = LIE
            c.rpc.call("evm_mine")
            await wait_for(lambda: _applied(node) >= lied, timeout=30)
            real = int(c.rpc.call("eth_getBlockByNumber", hex(lied), False)["timestamp"], 16)
            assert node.now() >= real + LIE  # (the lie was taken: it is the chain's word)
            del lies[lied]
            c.rpc.call("hardhat_mine", hex(NEWER))  # the chain goes on, stamped as it is
            await wait_for(lambda: _applied(node) >= lied + NEWER, timeout=30)
            # the chain's own clock past the lied stamp: only a lead can still count the lie
            await wait_for(lambda: pending_time(c) > real + LIE, timeout=LIE + 30)
            expiry = pending_time(c) + MARGIN
            order = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=expiry, salt=random_salt()))
            code, body = await api.post_order(order)
            # before: 400 EXPIRED, the node's clock LIE s past the chain's, for good
            assert code == 201, (body, node.now() - pending_time(c))
