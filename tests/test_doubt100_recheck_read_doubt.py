"""doubt100: the recheck reads review100c left reading the chain at "latest" in a doubt of
its identity (``ChainDoubt.held``), and a drain started after ``Node.stop`` collected its
tasks. review100c made the idle read wait for a doubt's end; two more read the chain then:
a settlement's results (``NodeSettlement._on_settled``'s ``finally``: receipts may come in
a doubt) and a held start's kill rechecks (``_judged_held`` -> ``_recheck_stored``, once
the held orders were read by block hash, the doubt still on). "latest" may be another
chain's: its word on the orders due a recheck was judged (doubt82's defect). Now
``_read_rechecks`` reads nothing in a doubt (nor keeps a read a doubt began during), and
the idle read tries it once the doubt ends (``ReadBackoff.owed``).

The stop: a settlement task cancelled at ``stop`` runs its ``finally`` (``_persist_open``),
which started a recheck drain (``_drain_later``) after ``stop`` had collected the drains to
cancel: a task left running into the closed store. Now none starts once ``stop`` began.

Real Hardhat, a real node and SQLite store, a real proxy on loopback that fails every
``getOrderStates`` call while told to (``tests/recheckwait.failing_state_reads``): its
failures count the reads tried. The doubt is said as the watcher says one, kept (``AGREE``
raised) while the test looks, then let end by the watcher's polls."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.mirror import doubt as doubt_module
from sdex.node import chainstate, verdicts
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.recheckwait import failing_state_reads, stored_unknown
from tests.test_review98b_readback_idle import drain_runs

DUE = 6
BOUND = 60.0


async def _no_read_in_doubt(
    c: Chain, tmp_path: Path, mp: pytest.MonkeyPatch, step: Callable[[Node], Awaitable[object]]
) -> None:
    """Orders due a recheck (a start's read failed); a doubt said; ``step`` (the node's code
    that reads them) run: no read of the chain till the doubt ends, all judged after."""
    mp.setattr(verdicts, "START_READ_WITHIN", 2.0)
    mp.setattr(chainstate, "RECHECK_IDLE", 0.5)
    cfg, _signed = await stored_unknown(c, tmp_path, DUE, 1_000_200)
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
            assert failing.failed and len(node._recheck) == DUE  # (the start's read failed)
            mp.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
            node.mirror.doubt.said("doubt100: another chain's answer")
            node._recheck.backoff.answered()  # (its next chance is a try)
            tried = failing.failed
            await step(node)
            assert failing.failed == tried, failing.failed - tried  # (before: read in the doubt)
            assert len(node._recheck) == DUE

            mp.setattr(doubt_module, "AGREE", 2)  # (the watcher's polls end it)
            failing.on.clear()
            await wait_for(lambda: not node.mirror.doubt.held, BOUND)
            await wait_for(lambda: not len(node._recheck), BOUND)  # (read once it ended)


async def test_no_settlement_recheck_read_in_a_chain_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement's results come in a doubt (its ``finally`` reads the rechecks)."""
    await _no_read_in_doubt(chain, tmp_path, monkeypatch, lambda node: node._on_settled([]))


async def test_no_held_start_recheck_read_in_a_chain_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A held start's step, its orders read by hash in the doubt (``_judged_held``)."""
    await _no_read_in_doubt(chain, tmp_path, monkeypatch, lambda node: node._recheck_stored())


async def test_no_drain_starts_after_the_stop_began(chain: Chain, tmp_path: Path) -> None:
    """A task cancelled at ``stop`` whose ``finally`` judges the rechecks (as the settlement's
    does: ``_persist_open``) starts no drain once ``stop`` collected its tasks."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
        node._recheck.add_all([os.urandom(32) for _ in range(3 * verdicts.RECHECK_PART)])
        entered = asyncio.Event()

        async def settling() -> None:  # (the settler's task, in ``_on_settled``'s ``finally``)
            try:
                entered.set()
                await asyncio.sleep(BOUND)
            finally:
                await asyncio.sleep(0)
                node._applying(True)  # (a drain waits, as for a block: it outlives the stop)
                node._persist_open()

        node._tasks.append(asyncio.create_task(settling()))
        await entered.wait()
    assert not drain_runs(node)  # (before: one left running past the stop)
    node._applying(False)


async def test_a_recheck_read_a_doubt_began_during_is_not_judged(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement's recheck read held at the proxy while a doubt is said: its answer is not
    judged (the doubt may be of it), and the orders are read once the doubt ends (before the
    ``owed`` mark: they stayed due, no failure left for the idle read to try again)."""
    monkeypatch.setattr(verdicts, "START_READ_WITHIN", 2.0)
    monkeypatch.setattr(chainstate, "RECHECK_IDLE", 0.5)
    cfg, _signed = await stored_unknown(chain, tmp_path, DUE, 1_000_300)
    with failing_state_reads(chain.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
            assert failing.failed and len(node._recheck) == DUE  # (the start's read failed)
            node._recheck.backoff.answered()  # (its next chance is a try)
            failing.on.clear()
            failing.hang.set()
            settled = asyncio.create_task(node._on_settled([]))
            await wait_for(lambda: failing.held >= 1, BOUND)
            monkeypatch.setattr(doubt_module, "AGREE", 10**9)  # (held while the test looks)
            node.mirror.doubt.said("doubt100: another chain's answer")
            failing.hang.clear()
            failing.release.set()
            await settled
            assert len(node._recheck) == DUE  # (before: judged by the read's answer)

            monkeypatch.setattr(doubt_module, "AGREE", 2)  # (the watcher's polls end it)
            await wait_for(lambda: not node.mirror.doubt.held, BOUND)
            await wait_for(lambda: not len(node._recheck), BOUND)  # (read once it ended)
