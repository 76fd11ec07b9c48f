"""sybil78: ``sdex node`` stopped and started again keeps its peers' delivered value
(``sdex.storestandings``): a peer readmitted after the restart has the points it had, before
it delivers anything new (it had none: every restart handed the top places to whoever
delivered first after it).

Two ``sdex node`` processes on loopback and a real Hardhat: node 1 (seeded with node 0)
passes a wallet's order on to node 0, which credits node 1 a point; node 0 is stopped
(SIGTERM, by its PID) and started again on the same database."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import Cluster, wait_for
from tests.test_node import ALICE, E6, E18, ask


async def test_a_restarted_node_keeps_its_peers_delivered_value(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with Cluster(c, tmp_path, [[], [0]], gossip_scale=0.1) as cl:
        one = cl.node_key(1).node_id

        async def delivered() -> int | None:
            code, health = await cl.api(0).get("/health")
            assert code == 200, health
            got = [p["delivered"] for p in health["gossip"]["peers"] if p["key"] == one]
            return got[0] if got else None

        async def admitted() -> bool:
            return await delivered() is not None

        async def credited() -> bool:
            return (await delivered() or 0) >= 1

        await wait_for(admitted, timeout=60)
        code, body = await cl.api(1).post_order(c.sign(ask(c, ALICE, E18, 3900 * E6)))
        assert code == 201, body
        await wait_for(credited, timeout=60)
        points = await delivered()
        proc = cl.procs[0]
        assert proc is not None
        proc.terminate()  # (a clean stop: what it holds is written)
        proc.wait(timeout=30)
        cl.spawn(0)
        await cl.wait_healthy(0)
        await wait_for(admitted, timeout=60)
        assert await delivered() == points
