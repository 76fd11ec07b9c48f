"""review96e: a closed order's fills mined again (``_remined``) while the store refused its row
were kept in memory only (``_remined_later``): the order went on the stored recheck list, but a
stop lost the amount, and the start's recheck judged the record by ``_rejudge``'s rule for an
order closed by policy (the chain's amount only up to this block's ``_back``: empty), so the
record kept the amount before the fill for good, below the chain, the audit seeing a fill
after the node closed it. Now the undone fill's row is kept in the store till the amount is
taken in, and a start takes in those whose fill row was stored (mined again).

Real Hardhat, a real node in this process on its SQLite store (stopped and started again),
the store's refusal a real SQLite authorizer on its reader."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.refusedread import taken_back, taken_in_once
from tests.reorgutil import forgotten
from tests.test_mirror import synced
from tests.test_node import E6
from tests.test_reorg_remined import reorged_ioc
from tests.test_store95_follow_refused import applied_past, refusing_reads


async def test_a_remined_fill_put_off_is_taken_in_after_a_stop(
    chain: Chain, tmp_path: Path
) -> None:
    """BOB's IOC closed ``removed`` by a reorg that undid its fill, evicted; its settlement
    mined again while the reader refuses every read of the orders, the head saved past it;
    the node stopped. Started again, the store reading: the IOC's record takes its fill back
    (before: 0 for good, the chain 3000), the audit clean."""
    c = chain
    db = tmp_path / "n.db"
    cfg = node_config(c, db, closed_grace=0.2)
    async with running_node(cfg) as (node, api):
        _, taker, tx, raw = await reorged_ioc(c, node, api)
        await forgotten(node, taker)
        _, refused = refusing_reads(node)
        assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
        await applied_past(c, node)
        assert refused, "the order's row was never read"
    assert c.exchange.order_info(taker.order).filled == 3000 * E6
    async with running_node(node_config(c, db, closed_grace=0.2)) as (node, api):
        c.rpc.call("evm_mine")  # (a block to take it in)
        await taken_back(api, taker)
        await taken_in_once(c, api, taker, lambda: synced(node, c))
