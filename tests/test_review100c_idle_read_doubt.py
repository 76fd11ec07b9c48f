"""review100c: store98's idle recheck read (``NodeChainState.recheck_idle``) read the chain
in a doubt of its identity. It tries a failed recheck read again once the mirror's head has
not moved for ``RECHECK_IDLE`` seconds: the head stands still in a doubt too (the watcher
applies no block while answers of another chain are not disproved), and the read is of
"latest" (``_states_of``: the batchers), which may be the other chain's: its word on the
orders due a recheck (``filled``, ``cancelled``) was judged, and the mirror learned its
funds (doubt82's defect, a start's reload then). No block or settlement reads them in a
doubt: the idle read now waits for the doubt's end as well.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback that
answers every ``getOrderStates`` call with a JSON-RPC error while told to
(``tests/recheckwait.failing_state_reads``): its failures count the reads tried. The doubt
is said as the watcher says one (``ChainDoubt.said``), kept (``AGREE`` raised) while the
test looks, then let end by the watcher's polls."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from sdex.node import chainstate, verdicts
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.recheckwait import failing_state_reads, stored_unknown
from tests.test_review98b_readback_idle import drain_runs

DUE = 6
IDLE = 0.5
"""``RECHECK_IDLE`` here: the idle read's chances, one each half second."""
LOOK = 20 * IDLE
"""Seconds the doubt is watched: 20 chances (before the fix, some of them read the chain)."""
BOUND = 60.0


async def test_no_idle_recheck_read_in_a_chain_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(verdicts, "START_READ_WITHIN", 2.0)
    monkeypatch.setattr(chainstate, "RECHECK_IDLE", IDLE)
    cfg, _signed = await stored_unknown(c, tmp_path, DUE, 1_000_100)
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
            assert failing.failed and len(node._recheck) == DUE  # (the start's read failed)
            monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
            node.mirror.doubt.said("review100c: another chain's answer")
            tried = failing.failed
            await asyncio.sleep(LOOK)  # (nothing to wait for: no read may come)
            assert failing.failed == tried, failing.failed - tried  # (before: read in the doubt)
            assert len(node._recheck) == DUE

            monkeypatch.setattr(doubt_module, "AGREE", 2)  # (the watcher's polls end it)
            failing.on.clear()
            await wait_for(lambda: not node.mirror.doubt.held, BOUND)
            await wait_for(lambda: not len(node._recheck), BOUND)  # (read once it ended)
