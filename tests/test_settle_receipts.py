"""``/health`` → ``settlementReceiptsWithSend`` on a real node and Hardhat: the receipts asked
in the send's own batch, and those answered with none (polled from the event loop)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain, Engine
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_health_counts_the_receipts_asked_with_the_send(
    chain: Chain, engine: Engine, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        for i in range(3):  # one crossing at a time: each a lone send
            assert (await api.post_taken(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
            code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6)))
            assert code in (200, 201), (code, body)
            await wait_for(lambda n=i + 1: node.settler.settled >= n, timeout=20)
        code, health = await api.get("/health")
        assert code == 200, health
        counts = health["settlementReceiptsWithSend"]
        want = {"asked", "missed", "syncSends", "syncTimeouts"}
        assert set(counts) == want and 0 <= counts["missed"] <= counts["asked"]
        if engine == "hardhat":  # (the first send tried eth_sendRawTransactionSync: plain)
            assert counts["asked"] == 2, counts
        else:  # anvil serves it: every lone send goes so, none in a batch
            assert counts["asked"] == counts["missed"] == 0, counts
            assert counts["syncSends"] == 3 and counts["syncTimeouts"] == 0, counts
