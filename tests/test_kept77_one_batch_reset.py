"""kept77: one batch answered from another branch resets nothing.

A poll whose head came from a backend on another branch (a block at our head's number, of
another hash: a reorg) walks back over the kept headers (``sdex.watch.fork._highest_kept``),
all of them in one batch. When that one batch, from the same backend, showed another hash at
every kept block, the watcher reset the store of an unchanged chain: every fill dropped and
read again, every order judged again, the pending settlements given up. Now the lowest kept
block's other hash must be said again by a request of its own; a second answer of ours there
proves nothing: the chain's identity in doubt (matching held) until two polls get through on
our blocks. Real Hardhat, a real node and SQLite store, a real proxy on loopback lying once
each way (``tests/rpcfault.py``)."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review74a_lagging_flap import _forward

OTHER = "0x" + "ab" * 32
"""The other branch's hash, as the lying backend answers it for each block."""


def _fills(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM fills").fetchone()[0])
    finally:
        conn.close()


async def test_one_batch_from_another_branch_resets_nothing(chain: Chain, tmp_path: Path) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=3)
    armed = threading.Event()
    lies = {"head": 0, "batch": 0, "number": 0}
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not armed.is_set():
            return None
        ours = hex(lies["number"])
        if isinstance(req, dict) and req.get("method") == "eth_getBlockByNumber":
            if req.get("params", [None])[0] != "latest":
                return None
            with lock:
                if lies["head"]:
                    return None
                lies["head"] += 1
            at = dict(req, params=[ours, False])  # (our head's number, another branch)
            status, answer = _forward(c.rpc.url, at)
            assert isinstance(answer, dict)
            answer["result"]["hash"] = OTHER
            return status, json.dumps(answer).encode()
        calls = req if isinstance(req, list) else []
        asks = [
            call
            for call in calls
            if isinstance(call, dict) and call.get("method") == "eth_getBlockByNumber"
        ]
        if not asks or len(asks) != len(calls) or ours not in [a["params"][0] for a in asks]:
            return None
        with lock:
            if lies["batch"] or not lies["head"]:
                return None
            lies["batch"] += 1
        status, answer = _forward(c.rpc.url, req)
        assert isinstance(answer, list)
        for a in answer:  # (every kept block of another hash, in this one batch)
            if isinstance(a.get("result"), dict):
                a["result"]["hash"] = OTHER
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert (await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
            assert (await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6))))[0] == 201
            await wait_for(lambda: node.settler.settled >= 1, timeout=30)
            c.rpc.call("hardhat_mine", hex(5))
            await synced(node, c)
            fills = _fills(cfg.db)
            assert fills >= 2
            assert len(node.mirror.blocks) >= 2  # (a walk over several kept headers)
            head = node.watcher.applied
            assert head is not None
            lies["number"] = head.number
            armed.set()
            await wait_for(lambda: lies["batch"] == 1, timeout=30)
            c.rpc.call("hardhat_mine", hex(2))
            await synced(node, c)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            assert not node.store.rejudge_due
            assert _fills(cfg.db) == fills
            assert node.settler.given_up == set()
            assert node.mirror.doubt.doubts == 1  # (held meanwhile; proven ours again since)
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
