#!/usr/bin/env python3
"""What reads78's verdict turns cost an honest contract maker without a record (no funded
open order here: each order refused for funds, so it never gets one; the worst case): its
reads one at a time (``NEW_MAKER_READS``) against reads77's 2 (``MAKER_READS`` for every
maker), alternated in one run.

bench/reads77_maker_turns.py's set-up: one Hardhat devnet, one in-process node,
bench/eip1271.py's unfunded ERC1271Wallet; ``--orders`` orders by ``submit_from_peer``, one
every ``--gap`` ms (each its own window, its own read), each verdict timed. Prints JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reads77_maker_turns import main, maker_node, one_run, report  # noqa: E402

from sdex.chain.arpcturns import Turns  # noqa: E402
from sdex.ingest.readturns import MAKER_READS  # noqa: E402


async def run(n: int, gap: float, pairs: int) -> dict[str, Any]:
    runs = []
    async with maker_node(n, pairs) as (node, s):
        sigs = node.contract_sigs
        policies = {
            "reads77": lambda: Turns(MAKER_READS),
            "reads78": lambda: Turns(MAKER_READS, sigs.keys.limit),
        }
        await one_run(node, s, 4, gap, MAKER_READS)  # (warm-up: the first reads)
        for _ in range(pairs):
            for name, turns in policies.items():  # (the reference first)
                sigs.turns = turns()
                got = await one_run(node, s, n, gap, MAKER_READS, keep=True)
                runs.append({"policy": name, **got})
    return report(n, gap, runs, "p50_ratio_78_over_77")


if __name__ == "__main__":
    main(run, __doc__)
