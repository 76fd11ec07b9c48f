"""watch81: a node restarted after a reorg that replaced its saved head while it was down
unwinds to the last block it shares with the chain, from the headers it saved with that head
(each with what the block changed), as its running watcher does: the fill of the replaced
block undone, its order open again, nothing read anew from the deployment block.

Before, a saved mirror kept no header but its head's: the head proven gone (two reads of
another hash at its number), the first poll reset the store and read the chain again from
the deployment block, ``/health`` 503 ``replaying`` the whole while (a reset counted, the
log's "chain reset ... re-reading from block 1"), for a reorg of one block.

Real Hardhat (``evm_snapshot``/``evm_revert``, ``hardhat_mine``), a real ``sdex node``
process stopped by its PID and started again on its SQLite store; a third party's fill of
the node's resting order (a settlement sent by another account) in the replaced branch."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Chain
from tests.nodeutil import STARTS, Api, node_up, saved_head, wait_for
from tests.test_mirror import meta, revert
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

OPERATOR = 19
FILLER = 18
"""The account that sends the third party's settlement (not the node's operator)."""
FEES = (10**9, 10**9)


def saved_hash(db: Path) -> str | None:
    """The hash of the head the node's watcher saved in ``db`` (None: none yet)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
    return None if row is None else str(json.loads(row[0])[1])


async def chain_mirror(api: Api) -> dict[str, Any]:
    _, body = await api.get("/health")
    return dict(body["chainMirror"])


@pytest.mark.parametrize("depth", [1, 70])
async def test_a_restart_after_a_reorg_of_its_saved_head_unwinds_and_reads_no_chain_anew(
    chain: Chain, tmp_path: Path, depth: int
) -> None:
    """``depth``: blocks replaced (the fill's, and those mined on it); the chain's new head
    at the old one's height (a branch of the same length)."""
    c = chain
    db = tmp_path / "n.db"
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18 // 2, 1500 * E6))  # (never posted: the third party's)
    async with node_up(c, db, key_index=OPERATOR) as (proc, api):
        assert (await api.post_order(resting))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        data = c.exchange.encode_settlement([(resting, taker, E18 // 2)])
        tx = c.sender(FILLER).sign(c.exchange.address, data, 400_000, fees=FEES)
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined at once: block N)
        if depth > 1:
            c.rpc.call("hardhat_mine", hex(depth - 1))
        top = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_head(db) >= top, timeout=60)
        assert (await meta(api, resting))["status"] == "partially_filled"
        proc.terminate()  # (stopped by its PID)
        proc.wait(timeout=30)
    revert(c, snap)  # the fill's block and those on it replaced while the node is down
    c.rpc.call("hardhat_mine", hex(depth))
    assert int(c.rpc.call("eth_blockNumber"), 16) == top  # (same height, another head)
    assert c.exchange.order_info(resting.order).filled == 0

    new_head = c.rpc.call("eth_getBlockByNumber", "latest", False)["hash"]
    async with node_up(c, db, key_index=OPERATOR) as (proc, api):
        log, since = STARTS[proc]
        await wait_for(lambda: saved_hash(db) == new_head, timeout=60)
        said = await chain_mirror(api)
        started = log.read_bytes()[since:].decode(errors="replace")
        # before: a reset (resets 1, reorgs 0) and the chain read again from block 1
        assert (said["resets"], said["reorgs"], said["deepestReorg"]) == (0, 1, depth), said
        assert "re-reading from block" not in started and "replaying" not in started
        assert f"reorg: {depth} blocks undone back to block {top - depth}" in started
        rec = await meta(api, resting)
        assert (rec["status"], rec["filledMakerAmount"]) == ("open", "0"), rec
        _, fills = await api.get("/v1/fills")
        assert tx.tx_hash.lower() not in {f["transactionHash"].lower() for f in fills["records"]}
