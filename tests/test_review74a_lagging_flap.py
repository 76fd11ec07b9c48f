"""review74a: a lagging answer and a flapped one in the same poll reset nothing.

A poll whose head came from a backend behind (a block below every kept one: ``Behind``, a
load balancer's lagging replica) asks whether the chain proves itself another one
(``sdex.watch.fork._redeployed``): one answer of another hash for the deployment block, in
that batch, was taken for that proof, and the watcher reset the store of an unchanged chain
(every fill dropped and read again, the pending settlements given up, their matches signed
again). Another hash there proves it only when a second read repeats it. Real Hardhat, a
real node and SQLite store, a real proxy on loopback lying once each way
(``tests/rpcfault.py``)."""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import synced


def _forward(upstream: str, req: object) -> tuple[int, object]:
    body = json.dumps(req).encode()
    fwd = urllib.request.Request(upstream, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(fwd, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


async def test_a_lagging_head_and_one_flapped_deploy_block_reset_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    deploy = hex(cfg.deploy_block)
    armed, lies = threading.Event(), {"head": 0, "hash": 0}
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not armed.is_set():
            return None
        if isinstance(req, dict) and req.get("method") == "eth_getBlockByNumber":
            if req.get("params", [None])[0] == "latest":
                with lock:
                    if lies["head"]:
                        return None
                    lies["head"] += 1
                behind = dict(req, params=[hex(cfg.deploy_block + 1), False])
                status, answer = _forward(c.rpc.url, behind)  # (a replica far behind)
                return status, json.dumps(answer).encode()
            return None
        calls = req if isinstance(req, list) else []
        at = [
            i
            for i, call in enumerate(calls)
            if isinstance(call, dict)
            and call.get("method") == "eth_getBlockByNumber"
            and call.get("params", [None])[0] == deploy
        ]
        if not at:
            return None
        with lock:
            if lies["hash"]:
                return None
            lies["hash"] += 1
        status, answer = _forward(c.rpc.url, req)
        assert isinstance(answer, list)
        for a in answer:
            if a.get("id") == calls[at[0]].get("id") and isinstance(a.get("result"), dict):
                a["result"]["hash"] = "0x" + "cd" * 32  # (the flapped answer)
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            armed.set()
            await wait_for(lambda: lies == {"head": 1, "hash": 1}, timeout=30)
            c.rpc.call("hardhat_mine", hex(2))
            await synced(node, c)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            assert not node.store.rejudge_due
