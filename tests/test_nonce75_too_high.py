"""nonce75: a settlement the chain refuses as "Nonce too high" settles (settle77: sent again
as signed once the nonce below it is filled by a transfer of nothing; nonce75 signed its
matches again at the count, which behind a balancer settled them twice:
``test_settle77_too_high_balancer``).

A refusal for a nonce past the chain's count says the chain did not take the transaction
(Hardhat while it automines: "transactions can't be queued"): it cannot land unless sent
again. The settler took only "too low" for a refusal and any other answer for a fate
unknown: the settlement was awaited, found unknown to the chain and counted lost, its
matches failed and the wallet's IOC never traded. A lane's nonce runs past the chain's count
when blocks holding its settlements are undone before the watcher has seen it (a devnet's
``evm_revert``, a reorg between two polls); the watcher here polls once a minute. Real
Hardhat, a real node and SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chainnode import Engine
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.reorgutil import rewound_lane, traded_again


@pytest.fixture(autouse=True)
def hardhat_only(engine: Engine) -> None:
    if engine == "anvil":
        pytest.skip("Hardhat only: anvil queues a transaction past the count, never refuses it")


async def test_a_settlement_refused_as_nonce_too_high_is_sent_again_and_settles(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=60.0)
    async with running_node(cfg) as (node, api):
        s = node.settler
        lane = await rewound_lane(c, node, api, "pending")
        other = await traded_again(c, node, api, lane)
        assert s.nonce_refusals >= 1
        assert await api.status(other) == "filled"
        mined = int(c.rpc.call("eth_getTransactionCount", lane.operator, "latest"), 16)
        assert mined == lane.known + 1  # (a transfer of nothing at the count, then it)
        assert s.gap_fills == lane.known - lane.count
