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
import urllib.request
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import lagging_proxy
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
    once = lagging_proxy(c.rpc.url, cfg.deploy_block, "hash", lambda _, n: n == 1)
    with once as (url, armed, lies):
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            armed.set()
            await wait_for(lambda: lies == {"head": 1, "hash": 1}, timeout=30)
            c.rpc.call("hardhat_mine", hex(2))
            await synced(node, c)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            assert not node.store.rejudge_due
