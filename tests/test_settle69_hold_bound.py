"""settle69: the diagnosis hold's bound (``sdex.node.diaghold.HOLD_BOUND``), untested
before. settle67's case (Alice's ask matched twice, the first settlement reverted for her
WETH moved away, the second queued behind its diagnosis), with the diagnosis's chain read
held by a loopback proxy in front of the chain for longer than the bound (set to 5 s here):
the queued match is held no longer than the bound: taken from the queue while the diagnosis
still reads (a diagnosis slow behind the chain holds no match for good). Taken, it meets the
settler's other checks: here the funding check (``sdex.node.funding``), the watcher having
read the revert's block by then, withdraws it unsigned; and both orders are judged.
(Real Hardhat mining only when told, as settle67's test.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node import diaghold
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_audit62_cancel_kept import meta_at
from tests.test_cancel65_onchain_queued import operator_count
from tests.test_node import ALICE, E6, E18, ask
from tests.test_settle67_diagnosis_hold import first_reverted
from tests.test_take65_doomed_queued import hardhat_only, held_chain, innocent

__all__ = ["hardhat_only", "held_chain"]  # (the fixtures, used by name)


@contextmanager
def reads_held(upstream: str, selector: str) -> Iterator[tuple[str, threading.Event, ...]]:
    """A proxy to ``upstream`` that, once ``armed`` is set, holds each ``eth_call`` whose data
    starts with ``selector`` (``getOrderStates``: the diagnosis's read) until ``release`` is
    (at most 60 s); ``holding`` is set while one is held. Everything else goes through."""
    armed, holding, release = threading.Event(), threading.Event(), threading.Event()

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        for c in calls:
            if not (armed.is_set() and isinstance(c, dict) and c.get("method") == "eth_call"):
                continue
            if str((c.get("params") or [{}])[0].get("data") or "").startswith(selector):
                holding.set()
                release.wait(60)
                holding.clear()
                break
        return None

    with _proxy(upstream, intercept) as url:
        try:
            yield url, armed, holding, release
        finally:
            release.set()  # (before the server closes: it joins its handlers' threads)


async def test_a_diagnosis_slower_than_the_bound_holds_the_queued_match_no_longer(
    held_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diaghold, "HOLD_BOUND", 5.0)
    c = held_chain
    probe = c.sign(ask(c, ALICE, E18, 1200 * E6))  # (any order: the call's selector)
    selector = "0x" + c.exchange.encode_order_states([probe])[:4].hex()
    with reads_held(c.deployment.rpc, selector) as (url, armed, holding, release):
        cfg = node_config(c, tmp_path / "n.db")  # (its watcher never polls after the start)
        cfg = replace(cfg, rpc=url, poll_interval=3600.0, new_heads=False)
        async with running_node(cfg) as (node, api):
            half, second, _, signed_before = await first_reverted(c, node, api, armed.set)
            operator = node.sender.address
            await wait_for(holding.is_set, timeout=30)  # (its diagnosis reads: held)
            assert half.hash in node._held()  # (the queued match held back meanwhile)
            # past the bound: the queued match taken, the diagnosis still reading
            await wait_for(lambda: not node.settler.queued(), timeout=30)
            assert holding.is_set() and node._holds and not node._held()
            # (taken, it met the funding check: the watcher had read the block of the
            # revert by then, its receipt expected; Alice short, it was withdrawn unsigned)
            await wait_for(lambda: node.settler.withdrawn_matches == 1, timeout=30)
            assert operator_count(c, operator, "pending") == signed_before
            release.set()
            c.rpc.call("evm_mine")  # (the held ones land)
            await wait_for(lambda: node.settler.idle.is_set() and not node._holds, timeout=30)
            assert (node.settler.failed, node.settler.withdrawn_matches) == (1, 1)
            meta = await meta_at(api, half.hash_hex)
            assert (meta["status"], meta["pendingMakerAmount"]) == ("unfunded", "0")
            await innocent(node, api, second)
