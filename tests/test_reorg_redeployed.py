"""A chain head below every header the node keeps: on another deployment (Hardhat reset and
everything deployed again, the deployment block's hash another) a reset at once; on the
same deployment (``tests/test_reorg_outage.py``) a chain behind, a reset only when the next
poll finds it so again. Real Hardhat of its own (restarted on the same port: another genesis
time, so other hashes; ``hardhat_reset`` keeps them), SQLite, and the node's chain reads
failing until the chain is deployed again (the node never sees it half deployed)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sdex.chainnode import Engine
from tests.conftest import chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chain_outage import OwnChain
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_a_redeployed_chain_below_our_headers_resets_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, engine: Engine
) -> None:
    net = OwnChain("redeployed", engine)
    try:
        c = chain_of(net.rpc, net.deploy())
        rpc, dep = c.rpc, c.deployment
        cfg = node_config(c, tmp_path / "n.db", reorg_depth=2)
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        old_deploy = rpc.call("eth_getBlockByNumber", hex(dep.deploy_block), False)["hash"]
        caplog.set_level(logging.WARNING, logger="sdex.watch")
        async with running_node(cfg) as (node, api):
            w = node.watcher
            assert (await api.post_taken(signed))[0] == 201
            c.exchange.fill_order(c.sender(BOB), signed, 3000 * E6)
            rpc.call("hardhat_mine", hex(8))
            top = int(rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: w.applied is not None and w.applied.number == top, timeout=20)
            assert await api.status(signed) == "filled"

            real_call, real_batch = w.rpc.call, w.rpc.batch
            down = {"on": True}

            def unanswered() -> None:
                if down["on"]:
                    raise ConnectionRefusedError("the devnet restarting (injected)")

            async def call(method: str, *params: Any) -> Any:
                unanswered()
                return await real_call(method, *params)

            async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
                unanswered()
                return await real_batch(calls)

            w.rpc.call, w.rpc.batch = call, batch  # type: ignore[method-assign]
            failures = w.failures
            await wait_for(lambda: w.failures > failures, timeout=20)
            net.stop()
            rpc = net.start_again()
            dep2 = net.deploy()
            assert (dep2.exchange, dep2.deploy_block) == (dep.exchange, dep.deploy_block)
            new_deploy = rpc.call("eth_getBlockByNumber", hex(dep.deploy_block), False)["hash"]
            assert new_deploy != old_deploy
            assert int(rpc.call("eth_blockNumber"), 16) < top - cfg.reorg_depth  # below ours
            caplog.clear()
            down["on"] = False
            await wait_for(lambda: w.resets == 1, timeout=30)
            await wait_for(lambda: status_is(api, signed, "open"), timeout=20)
            assert (await api.get("/v1/fills"))[1]["total"] == 0
            said = [r.getMessage() for r in caplog.records if r.name == "sdex.watch"]
            assert any("chain reset" in m for m in said), said
            assert not any(" behind: " in m for m in said), said  # proven at once
    finally:
        net.stop()


async def status_is(api: Any, signed: Any, want: str) -> bool:
    return bool(await api.status(signed) == want)
