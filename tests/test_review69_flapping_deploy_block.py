"""review69a: an endpoint whose answer for the Exchange's deployment block flaps (a hostile
RPC, or a balancer over backends of two chains) made one poll of a fresh node's watcher reset
without end: ``_advance`` (no head kept) asked ``_deployed_here`` (resend68), found another
hash and reset; the reset read the block again (the other hash) and went back to
``_advance``, which asked again: a reset, its store transaction and four requests a level,
until the recursion's limit, poll after poll, the watcher never at the chain's head.

Real Hardhat, a real JSON-RPC proxy on loopback (``tests.rpcfault``) whose every other
single ask for the deployment block answers it with another hash, a real node and SQLite
store.

review73 then made the watcher re-read before it resets (``_reset(told=True)``): one wrong
answer never resets, and an endpoint that flaps on every other ask holds the watcher back
(each poll "inconsistent", read again) until its answers agree. So: while it flaps, polls go
on (no recursion) and nothing resets; once it stops, the node reaches the head, never reset."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import synced


async def test_a_flapping_deployment_block_never_resets_a_fresh_node_and_it_syncs_after(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    block = hex(c.deployment.deploy_block)
    real = c.rpc.call("eth_getBlockByNumber", block, False)
    other = dict(real, hash="0x" + "ee" * 32)
    asks = [0]
    flapping = [True]
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not (isinstance(req, dict) and req.get("method") == "eth_getBlockByNumber"):
            return None
        if req.get("params") != [block, False]:
            return None
        with lock:
            asks[0] += 1
            flap = flapping[0] and asks[0] % 2 == 0  # (the start reads the real one first)
        if not flap:
            return None
        answer = {"jsonrpc": "2.0", "id": req.get("id"), "result": other}
        return 200, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False)
        async with running_node(cfg) as (node, _):
            c.rpc.call("evm_mine")
            # polls go on while it flaps (before: each poll reset until RecursionError)
            await wait_for(lambda: asks[0] >= 9, timeout=30)
            assert node.watcher.resets == 0, node.watcher.resets
            with lock:
                flapping[0] = False
            c.rpc.call("evm_mine")
            await synced(node, c)
            assert node.watcher.resets == 0, node.watcher.resets
