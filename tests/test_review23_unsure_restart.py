"""Funds the mirror read at "latest" (``Mirror.unsure``: moved by a settlement of ours, they
are re-read at a block, not moved by amounts) are loaded as exact after a restart: the flag
is not saved. That is benign (the seventeenth session's gap d, analysed; review23 tests it):
a restart has no receipts of its own to apply as amounts, and the catch-up re-reads at their
block every account a Transfer or Approval touched since. Here the maker's funds, read at
"latest" and saved so, are moved by the restarted node's own settlement: the mirror still
has the chain's figures. Real Hardhat, a real node restarted on the same store."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import meta, synced
from tests.test_node import BOB, DAVE, E6, E18, ask, bid
from tests.test_restart_mirror import saved_past


async def test_funds_read_at_latest_are_right_after_a_restart_and_an_own_settlement(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    dave = (c.address(DAVE), c.weth.address)
    bob = (c.address(BOB), c.usdc.address)
    sell = c.sign(ask(c, DAVE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        assert (await api.post_taken(sell))[0] == 201
        assert dave in node.mirror.unsure  # (read with the order's chain state, at latest)
        c.rpc.call("evm_mine")
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=20)
        assert dave in node.mirror.unsure

    async with running_node(cfg) as (node, api):
        assert node.watcher.resumed and node.reloaded_from_chain == 0
        assert dave not in node.mirror.unsure  # (the flag was not saved)
        buy = c.sign(bid(c, BOB, E18 // 2, 1500 * E6))
        code, posted = await api.post_taken(buy)
        assert code == 201 and posted["matches"], posted

        async def settled() -> bool:
            return bool((await meta(api, buy))["status"] == "filled")

        await wait_for(settled, timeout=20)
        await synced(node, c)
        for maker, token in (dave, bob):
            erc20 = c.weth if token == c.weth.address else c.usdc
            truth = min(erc20.balance_of(maker), erc20.allowance(maker, c.exchange.address))
            assert node.mirror.spendable((maker, token)) == truth, (maker, token)
        assert (await meta(api, sell))["remainingFillableMakerAmount"] == str(E18 // 2)
