"""A chain whose answers stay inconsistent poll after poll (real Hardhat and SQLite; its logs
answered as something else than a list, injected into the real node's batch answers): the
watcher reads again with each poll, and after ``INCONSISTENT_POLLS`` in a row says so
(``/health`` 503, ``unreachable`` and why) instead of answering ``ok`` for ever; ``ok``
again once a poll gets through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.watch.loop import INCONSISTENT_POLLS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced


async def test_inconsistent_answers_poll_after_poll_are_said(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        await synced(node, c)
        real = w.rpc.batch
        state = {"on": True, "answered": 0}

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            out = await real(calls)
            for i, (method, _) in enumerate(calls):
                if state["on"] and method == "eth_getLogs":
                    out[i] = {"not": "a list"}
                    state["answered"] += 1
            return out

        w.rpc.batch = batch  # type: ignore[method-assign]
        c.rpc.call("hardhat_mine", hex(1))
        await wait_for(lambda: w.status != "ok", timeout=30)
        assert w.status == "unreachable" and "polls in a row inconsistent" in w.problem
        assert state["answered"] >= INCONSISTENT_POLLS
        code, health = await api.get("/health")
        assert code == 503 and health["chain"] == "unreachable", health
        state["on"] = False
        await synced(node, c)
        await wait_for(lambda: w.status == "ok", timeout=20)
        code, health = await api.get("/health")
        assert code == 200 and health["chain"] == "ok", health
