"""A peer's copy refused as filled by a chain read from before a reorg that undid the fill
is not kept refused (gossip74; ``sdex.node.refused``). reopen67 forgets the chain's verdicts
at a reorg (``Refused.forget_chain``), but a check under way then noted its verdict after:
the reopened order's hash was skipped by every anti-entropy round for ``REFUSED_SECONDS``
(600 s), as reopen67 was.

Real Hardhat (the reorg by ``evm_snapshot``/``evm_revert``, the fill a real ``fillOrder``),
a real node in-process: its peer intake's own check runs, and the reorg is made and applied
by the node's watcher as that check returns, before its verdict is noted (the race: a check
awaiting the chain when the reorg lands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.gossip import NodeKey
from tests.conftest import Chain
from tests.reorgutil import reorged
from tests.sandwich import node_on
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_a_filled_verdict_given_across_a_reorg_is_not_kept(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    peer = NodeKey.generate().node_id
    async with node_on(c, tmp_path) as (node, _api):
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        c.exchange.fill_order(c.sender(BOB), sell, 300 * E6)  # all of it, on chain
        await synced(node, c)
        check = node.peer_intake.submit

        async def reorg_as_it_returns(*args: Any, **kwargs: Any) -> Any:
            verdict = await check(*args, **kwargs)  # (the chain read: filled)
            await reorged(c, node, snap)  # the fill undone, applied by the node
            return verdict

        node.peer_intake.submit = reorg_as_it_returns  # type: ignore[method-assign]
        assert await node.submit_from_peer(sell.to_json(), peer) == "rejected"
        node.peer_intake.submit = check  # type: ignore[method-assign]
        assert c.exchange.order_info(sell.order).filled == 0
        # before: refused (a verdict of the chain the reorg undid, kept for 600 s)
        assert not node.refused(peer, sell.hash_hex)
        assert await node.submit_from_peer(sell.to_json(), peer) == "accepted"
