"""gap76: a settlement a chain queues behind a gap in the lane's nonces (anvil, geth) lands:
the gap is filled by transfers of nothing.

When blocks holding the lane's settlements are undone before the watcher sees it (a reorg
between two polls, a devnet's ``evm_revert``), the lane's next settlement is signed at a
nonce past the chain's count. Hardhat refuses it ("Nonce too high": signed again at the
count, nonce75); anvil and geth keep it pooled behind the gap and mine it once the count
comes to it. Before, the lane's replace-by-fee signed it again at rising fees, which cannot
help, and it was counted lost at ``RECEIPT_TIMEOUT`` (the gap's own filler refused: "an
earlier gap"), its matches failed and the wallet's IOC never traded. Real anvil, a real node
whose watcher polls once a minute, SQLite."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.reorgutil import rewound_lane, traded_again
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)


async def test_a_settlement_queued_past_the_chains_count_lands_the_gap_filled(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    c = anvil_chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=60.0)
    async with running_node(cfg) as (node, api):
        s = node.settler
        lane = await rewound_lane(c, node, api, "latest")
        other = await traded_again(c, node, api, lane)
        assert await api.status(other) == "filled"
        assert s.gap_fills == lane.known - lane.count  # (one transfer of nothing a missing nonce)
        assert s.replaced == 0  # (before: signed again at rising fees, which cannot help)
        mined = int(c.rpc.call("eth_getTransactionCount", lane.operator, "latest"), 16)
        assert mined == lane.known + 1
