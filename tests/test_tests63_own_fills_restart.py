"""tests63: a node's own settlement, mined again after the node restarted, is still its own.

The fills a node writes are marked ``settledByThisNode`` when their transaction is one it
sent (``Settler.ours``, in memory: the settlements of this run). A restarted node that
wrote such a fill again read only that: a reorg that undid its settlement's block while
it was down (or after), the same transaction mined again, and its fills were listed as
another node's; so was a fill its start replayed from the chain (its row left out at load,
attack31's ``log_index`` edit, seen on a loaded machine where the head was saved before
that block). The store's own record of its settlements (``settlements``) says so for good.
Real Hardhat (``evm_snapshot``/``evm_revert``), a real node on loopback, SQLite."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import reorg, settled, the_settlement
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_settlement_mined_again_while_its_node_was_down_is_still_its_own(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        for s in (resting, taker):
            code, body = await api.post_order(s)
            assert code == 201, body
        await settled(c, node, api, taker)
        tx, raw = await the_settlement(c, api)
        _, fills = await api.get("/v1/fills")
        assert [f["settledByThisNode"] for f in fills["records"]] == [True, True], fills
    reorg(c, snap)  # (while the node is down: its settlement's block undone)
    assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
    c.rpc.call("evm_mine")  # the same transaction, mined again
    async with running_node(cfg) as (node, api):
        await synced(node, c)  # (its saved head off the chain: the undone block rolled back)

        async def listed() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(listed, timeout=20)
        _, fills = await api.get("/v1/fills")
        block = int(c.rpc.call("eth_getTransactionReceipt", tx)["blockNumber"], 16)
        assert {(f["transactionHash"].lower(), f["blockNumber"]) for f in fills["records"]} == {
            (tx, block)
        }, fills  # (the block it was mined again in)
        # (before: False, both: the restarted node knew only this run's settlements)
        assert [f["settledByThisNode"] for f in fills["records"]] == [True, True], fills
