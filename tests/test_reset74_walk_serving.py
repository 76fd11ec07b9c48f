"""A start with a reset's re-judging due (``rejudge_due``: a chain replaced while the node
was down, or a reset a kill interrupted) walks every closed order again, about 1 ms each
(review73). It did so before the node was ready: 503 "starting" to every wallet for ~10 s
per 10,000 closed orders, without bound. Now the node is ready first, says ``rejudging`` on
``/health`` while the walk runs, and takes orders meanwhile. Real Hardhat (``evm_revert``
while the node is down), a loopback proxy holding the walk's chain read, a real node."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.rpcfault import DOMAIN_SELECTOR, Calls, Gate, gated_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


def _state_read(calls: Calls) -> bool:
    """A chain read of orders' state (not the domain's, read at every start)."""
    for c in calls:
        params = c.get("params")
        if c.get("method") == "eth_call" and isinstance(params, list) and params:
            data = str(params[0].get("data") or "") if isinstance(params[0], dict) else ""
            if not data.startswith(DOMAIN_SELECTOR):
                return True
    return False


async def test_a_start_with_a_rejudging_due_serves_while_it_walks(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    filled = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(filled))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await settled(c, node, api, taker)
        assert await api.status(filled) == "filled"
    revert(c, snap)  # the settlement undone while the node was down,
    c.rpc.call("hardhat_mine", hex(3))
    deployed = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)["hash"]
    identity = ChainIdentity(cfg.chain_id, cfg.exchange, deployed)
    store = Store(cfg.db, identity, c.domain)
    await store.reset_chain(identity)  # its reset committed, its walk not done (a kill)
    store.close()
    walk = Gate(_state_read)  # (the walk's read of the closed orders' state: held)
    walk.armed.set()
    with gated_proxy(c.rpc.url, [walk]) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            # ready while the walk is held (before: 503 "starting" till it was done)
            await wait_for(walk.held.is_set, timeout=30)
            assert node.rejudging and node.store.rejudge_due
            code, health = await api.get("/health")
            assert (code, health["chain"]) == (503, "rejudging")
            other = c.sign(ask(c, CAROL, E18, 3100 * E6))
            assert (await api.post_order(other))[0] == 201  # (intake serves meanwhile)
            walk.release.set()
            await wait_for(lambda: not node.rejudging, timeout=30)
            assert await api.status(filled) == "open"  # the new chain never filled it
            assert await api.status(other) == "open"
            await wait_for(lambda: not node.store.rejudge_due, timeout=10)
            code, health = await api.get("/health")
            assert (code, health["chain"]) == (200, "ok")
