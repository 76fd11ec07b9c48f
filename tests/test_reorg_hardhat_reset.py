"""A devnet reset in place (``hardhat_reset``: the same genesis, so the same hashes below,
and no Exchange until it is deployed again), on a real chain of its own (the suite's
engine; anvil serves ``hardhat_reset`` too): found by the first poll that sees it (the
chain's head below our blocks and below the deployment block, no Exchange code there), not
after ``BEHIND_SECONDS`` of ``behind``; nothing dropped until the Exchange is there again,
then the old chain's fills are gone and the order open (by a reset, or by a rewind when the
deployment came back with the very same blocks)."""

from __future__ import annotations

from pathlib import Path

from sdex.chainnode import Engine
from tests.conftest import chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chain_outage import OwnChain
from tests.test_mirror import Events
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_reorg_redeployed import status_is


async def test_a_hardhat_reset_is_found_by_the_first_poll_and_drops_the_old_fills(
    tmp_path: Path,
    engine: Engine,
) -> None:
    net = OwnChain("hardhat-reset", engine)
    try:
        c = chain_of(net.rpc, net.deploy())
        rpc, dep = c.rpc, c.deployment
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
            w = node.watcher
            events = Events(await api.session.ws_connect(api.base + "/v1/ws"))
            try:
                assert (await api.post_order(signed))[0] == 201
                c.exchange.fill_order(c.sender(BOB), signed, 3000 * E6)
                rpc.call("hardhat_mine", hex(3))
                top = int(rpc.call("eth_blockNumber"), 16)
                await wait_for(lambda: w.applied is not None and w.applied.number == top)
                assert await api.status(signed) == "filled"
                failures = w.failures
                assert rpc.call("hardhat_reset") in (True, None)  # (Hardhat true, anvil null)
                assert int(rpc.call("eth_blockNumber"), 16) < dep.deploy_block
                await wait_for(lambda: w.failures >= failures + 2, timeout=20)
                code, health = await api.get("/health")
                assert (code, health["chain"]) == (503, "wrong-chain"), health
                assert "no Exchange" in w.problem, w.problem
                assert (w.resets, w.reorgs) == (0, 0)  # nothing dropped without an Exchange

                dep2 = net.deploy()  # the devnet deployed again: the reset goes through
                assert (dep2.exchange, dep2.deploy_block) == (dep.exchange, dep.deploy_block)
                # (another deployment block hash: a reset; the very same blocks again, when
                # Hardhat gave them the same timestamps: our blocks above them undone)
                await wait_for(lambda: w.resets + w.reorgs == 1, timeout=30)
                await wait_for(lambda: status_is(api, signed, "open"), timeout=20)
                assert (await api.get("/v1/fills"))[1]["total"] == 0
                assert node.store.fills()[0] == 0
                await wait_for(lambda: events.has("fill", "reverted", signed.hash_hex))
            finally:
                await events.close()
    finally:
        net.stop()
