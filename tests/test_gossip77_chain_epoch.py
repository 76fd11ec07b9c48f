"""Every path that records a chain verdict on a peer's order carries the reorg count it
began in (gossip77, after gossip74's ``Refused.chain_epoch``). The one recorder is the peer
intake's ``_refuse`` (``sdex.node.peerintake``), reached from ``submit_from_peer`` (one
order: gossip74's test) and ``submit_each_from_peer`` (a group), each taking the count
before its intake call; gossip's checks of pushed orders (HTTP or stream frames), of
anti-entropy's fetched orders and of snapshot pages all go through ``Gossip.run_check``
and its groups (``sdex.gossip.checks``) to the second; a ``/p2p/cancelled`` page goes to
``take_cancelled_many``, which records no verdict. Here the group path: two filled orders a
peer pushed (and the same fetched), the reorg that undoes both fills made and applied by the
node's watcher as the intake yields its first verdict: neither is kept refused, and both are
taken once sent again.

Real Hardhat (the reorg by ``evm_snapshot``/``evm_revert``, the fills real ``fillOrder``s),
a real node in-process, its gossip driver's own check path."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from sdex.gossip import NodeKey
from sdex.gossip.actions import Check
from tests.conftest import Chain
from tests.reorgutil import reorged
from tests.sandwich import node_on
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask


@pytest.mark.parametrize("push", [True, False])  # (pushed; fetched or a snapshot page)
async def test_a_groups_chain_verdicts_given_across_a_reorg_are_not_kept(
    chain: Chain, tmp_path: Path, push: bool
) -> None:
    c = chain
    sells = [c.sign(ask(c, ALICE, E18 // 10, (300 + i) * E6)) for i in range(2)]
    peer = NodeKey.generate().node_id
    async with node_on(c, tmp_path) as (node, _api):
        assert node.gossip is not None
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        for i, sell in enumerate(sells):
            c.exchange.fill_order(c.sender(BOB), sell, (300 + i) * E6)  # all of it
        await synced(node, c)
        each = node.peer_intake.submit_each

        async def reorg_as_it_yields(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
            first = True
            async for got in each(*args, **kwargs):  # (the chain reads: filled)
                if first:
                    await reorged(c, node, snap)  # both fills undone, applied by the node
                    first = False
                yield got

        node.peer_intake.submit_each = reorg_as_it_yields  # type: ignore[method-assign]
        orders: list[object] = [s.to_json() for s in sells]
        counts = await node.gossip.run_check(Check(10**6, peer, orders, push=push))
        node.peer_intake.submit_each = each  # type: ignore[method-assign]
        assert counts.get("rejected") == 2, counts
        assert all(c.exchange.order_info(s.order).filled == 0 for s in sells)
        assert not any(node.refused(peer, s.hash_hex) for s in sells)
        again = await node.gossip.run_check(Check(10**6 + 1, peer, orders, push=push))
        assert again.get("accepted") == 2, again
