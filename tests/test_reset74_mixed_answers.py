"""A reset's re-read from the deployment block through an endpoint whose answers mix two
chains (real Hardhat, a loopback proxy): the logs of the old chain, the headers of the new.
The final blocks' logs (deeper than the kept headers, read without them) are checked against
the new chain's headers of the blocks they name: the old chain's fill is never kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import stale_logs_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask


async def test_a_resets_re_read_keeps_no_log_of_another_chains_block(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=2)
    with stale_logs_proxy(c.rpc.url) as (url, stale, told):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert (await api.post_order(whole))[0] == 201
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            fill = c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            assert await api.status(whole) == "filled"
            at = hex(fill.block_number)
            old: list[dict[str, Any]] = c.rpc.call("eth_getLogs", {"fromBlock": at, "toBlock": at})
            assert old and all(lg["blockHash"] == fill.block_hash for lg in old)
            revert(c, snap)  # no kept header (2 deep) is on the new branch: a reset
            stale.extend(old)  # (one backend still answers the old chain's logs)
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another block there)
            c.rpc.call("hardhat_mine", hex(6))
            new = c.rpc.call("eth_getBlockByNumber", at, False)
            assert new["hash"] != fill.block_hash  # (the fill's height: another block)
            await wait_for(lambda: node.watcher.resets == 1, timeout=30)
            # the range read again and again, each answer with the old chain's logs: not
            # taken (the order's re-judging waits for a range read that holds together)
            # (before: the first answer was taken, the old chain's fill in the mirror)
            await wait_for(lambda: told[0] >= 3 or node.mirror.filled_of(whole.hash), timeout=30)
            assert (await api.get("/v1/fills"))[1]["total"] == 0
            assert node.mirror.filled_of(whole.hash) == 0
            stale.clear()  # (the backend caught up: the range reads, nothing of the old)
            await synced(node, c)
            assert await api.status(whole) == "open"
            assert (await api.get("/v1/fills"))[1]["total"] == 0
