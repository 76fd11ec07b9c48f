"""revert78: a match is not signed while a block the node knows of is unapplied, however new
that block is (behind77 held only once it had waited 0.1 s).

Found by ``bench/chaos52.py --seeds 25`` with every fault mix (chaos77's **e**,
``/tmp/chaos52-25-r9zxo12o``, node 1): a maker's on-chain cancel of an ask was mined in block
85 and announced; the node's watcher had not applied it (it waited for an own receipt), and
83 ms after the block the node signed a match of that ask: reverted ``OrderNotFillable``, the
operator paying. Now the match waits until the block is applied and is withdrawn.

Real Hardhat, a real node served in-process (``running_node``: the subject is the signing's
hold, not the process; suite97), a real SQLite write lock from another connection (the
watcher's save of block X's head waits on it, block N announced behind it); the crossing
ask is posted the moment the node says it knows block N, so its match is signed well
within behind77's grace unless held."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_behind77_unapplied_block import (
    block_known_unapplied,
    head_saved,
    health,
    post_matched,
    resting_and_crossing,
    withdrawn,
)
from tests.test_node_restart import OPERATOR


async def test_a_match_signed_just_after_a_known_block_waits_for_it(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    resting, crossing = resting_and_crossing(c)
    async with running_node(node_config(c, db, OPERATOR)) as (_, api):
        await head_saved(c, db)
        async with block_known_unapplied(c, api, db, resting) as (sent, n):
            deadline = time.monotonic() + 20
            while True:  # (no pause between looks: posted as soon as N is known)
                seen = (await health(api))["chainMirror"]["unapplied"]
                if int(seen["latestKnown"]) >= n:
                    break
                assert time.monotonic() < deadline, seen
            post = await post_matched(api, crossing)
            at_match = float(seen["behindSeconds"])
            held = (await health(api))["chainMirror"]["unapplied"]
        # before: signed within the grace, sent once the lock ended, reverted
        stats = await withdrawn(c, api, (resting, crossing), sent, post, at_match)
        assert held["signing"] == "held", held
        # the hold the signing met counted, and ended (the block applied)
        done = stats["chainMirror"]["unapplied"]
        assert done["holds"] >= 1 and done["heldSeconds"] > 0, done
        async with api.session.get(f"{api.base}/metrics") as r:
            metrics = await r.text()
        assert "sdex_signing_holds_total" in metrics, metrics[:500]
