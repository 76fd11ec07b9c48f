"""store98: a recheck read that failed is tried again on an idle chain.

Orders due a recheck whose state the mirror lacks wait for the chain's word, read only at a
chance: a block or a settlement (``_read_rechecks``; the drain, ``_drain_rechecks``, reads
nothing, and ``_drain_later`` skips its pass while the read backs off). A start whose read
failed left them due, ``filled`` as the kill left them while the chain has them whole: on
an idle chain (Hardhat's automine, no traffic) for good. Now a failed read is tried again
once the head has not moved for ``RECHECK_IDLE`` seconds (``NodeChainState.recheck_idle``).

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback that
answers every ``getOrderStates`` call with a JSON-RPC error while told to
(``tests/recheckwait.failing_state_reads``). No block is mined after the start."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node import chainstate, verdicts
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.recheckwait import failing_state_reads, no_rows_left, stored_unknown
from tests.test_review98b_readback_idle import drain_runs

DUE = 20
"""Closed stored orders due a recheck at the start (``filled``; the chain never filled them)."""
BOUND = 60.0


async def test_a_failed_recheck_read_is_tried_again_with_no_block(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(verdicts, "START_READ_WITHIN", 2.0)
    monkeypatch.setattr(chainstate, "RECHECK_IDLE", 1.0, raising=False)
    cfg, signed = await stored_unknown(c, tmp_path, DUE, 898_000)
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
            assert failing.failed and len(node._recheck) == DUE  # (the start's read failed)
            top = int(c.rpc.call("eth_blockNumber"), 16)
            failing.on.clear()  # (the reads answer again; no block comes)

            await wait_for(lambda: not len(node._recheck), BOUND)  # (before: DUE for good)
            kept = [s.hash for s in signed if (r := node.registry.load(s.hash)) and r.filled]
            assert not kept, len(kept)  # (the chain's 0 filled: none kept at the kill's)
            await no_rows_left(node)
            assert int(c.rpc.call("eth_blockNumber"), 16) == top  # (no block came)
