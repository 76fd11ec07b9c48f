"""review75: a lagging head and one flapped chain id in the same poll reset nothing.

review74a made another hash at the deployment block prove a replaced chain only when a
second read repeats it (``sdex.watch.fork._redeployed``); another chain id in the same
batch still proved it on one answer. The watcher's reset then read the chain id again, found
the node's own, and went on: the store of an unchanged chain reset (every fill dropped and
read again, the pending settlements given up, their matches signed again). Another chain id
proves it only when a second read, a request of its own, repeats it. Real Hardhat, a real
node and SQLite store, a real proxy on loopback lying once each way (``tests/rpcfault.py``)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy, lagging_proxy
from tests.test_mirror import synced
from tests.test_review74a_lagging_flap import _forward


async def test_a_lagging_head_and_one_flapped_chain_id_reset_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    once = lagging_proxy(c.rpc.url, cfg.deploy_block, "id", lambda _, n: n == 1)
    with once as (url, armed, lies):
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            armed.set()
            await wait_for(lambda: lies == {"head": 1, "id": 1}, timeout=30)
            c.rpc.call("hardhat_mine", hex(2))
            await synced(node, c)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            assert not node.store.rejudge_due


async def test_another_chain_id_said_twice_is_still_proof(chain: Chain, tmp_path: Path) -> None:
    """The other side: a chain behind the URL that answers another id at every ask (with a
    head below our blocks) is still taken for another chain (``wrong-chain``), not waited on
    as a lagging backend."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    armed = threading.Event()

    def intercept(req: object) -> Answer | None:
        if not armed.is_set():
            return None
        calls = req if isinstance(req, list) else [req]
        status, answer = _forward(c.rpc.url, req)
        answers = answer if isinstance(answer, list) else [answer]
        for call in calls:
            if not isinstance(call, dict):
                continue
            for a in answers:
                if a.get("id") != call.get("id"):
                    continue
                if call.get("method") == "eth_chainId":
                    a["result"] = "0x1"
                elif call.get("method") == "eth_getBlockByNumber" and call["params"][0] == "latest":
                    behind = dict(call, params=[hex(cfg.deploy_block + 1), False])
                    a["result"] = _forward(c.rpc.url, behind)[1]["result"]  # (behind)
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            armed.set()
            await wait_for(lambda: node.watcher.status == "wrong-chain", timeout=30)
            assert "chain id is 1" in (node.watcher.problem or "")
