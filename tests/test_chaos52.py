"""A small seeded chaos run (``tests/chaosrun.py``): three ``sdex node`` processes, orders,
kills, restarts, reorgs, paused mining and moved funds; every invariant holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.chaosrun import ChaosRun
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster


async def test_a_seeded_chaos_run_keeps_every_invariant(chain: Chain, tmp_path: Path) -> None:
    async with Cluster(chain, tmp_path, [[1, 2], [0, 2], [0, 1]], GOSSIP_SCALE) as net:
        run = ChaosRun(chain, net, seed=52, steps=14, phases=2)
        summary = await run.run()
    assert summary["acked"] > 0, summary
    assert not summary["violations"], json.dumps(summary, indent=1)[-20000:]
