"""watch89: the watcher's stall check (``sdex.watch.loop``: a poll's read unanswered
``STALL`` seconds says the chain ``unreachable``) blamed the chain for time the node itself
lost. A node whose process was stopped (SIGSTOP: as a starved or blocked event loop, only
longer) while a poll's read was out found, as it resumed, its stall check due and the read
unanswered for longer than ``STALL``: it said the chain ``unreachable`` ("hung or paused"),
though the chain's answer had been waiting in its socket all along. Now a stall check that
runs late (``LATE``) judges nothing: it is made again once the loop has read what came.

Real Hardhat, a real ``sdex node`` process behind a real loopback proxy that holds one poll's
read of the latest block till the node is stopped, then answers it at once; the node
stopped longer than ``STALL``, then continued; the chain never stopped."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from sdex.watch.loop import LATE, STALL
from tests.conftest import Chain
from tests.hungread import node_behind_hung_reads
from tests.nodeutil import wait_for

STOPPED = STALL + 3.0
"""Seconds the node's process stays stopped: past ``STALL`` (the fault's length, not a wait)."""
BLAMED = "has not answered a read"
"""The words of the node's log when its stall check says the chain ``unreachable``."""


def _latest_block_read(req: object) -> bool:
    """Whether ``req`` is a read of the latest block (a poll's)."""
    if not isinstance(req, dict) or req.get("method") != "eth_getBlockByNumber":
        return False
    return bool((req.get("params") or [None])[0] == "latest")


async def test_a_node_stopped_past_the_stall_bound_does_not_blame_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    first = node_behind_hung_reads(chain, tmp_path, _latest_block_read, first_only=True, bound=60)
    async with first as (proc, api, hung, logged):
        hung.armed.set()  # (a poll's read held: the node is stopped now, then it is answered)
        await wait_for(hung.held.is_set, timeout=60)
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            hung.release.set()  # (the answer goes to the stopped node's socket)
            await asyncio.sleep(STOPPED)  # (the node's own lost time: the fault itself)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        polled = hung.reads
        await wait_for(lambda: hung.reads >= polled + 5, timeout=60)  # (polls go on)
        code, h = await api.get("/health")
        said = logged()
        blamed = [line for line in said.splitlines() if BLAMED in line]
        assert not blamed, f"the chain blamed for the node's lost time: {blamed}"
        assert code == 200 and h["chain"] == "ok", h
        assert h["chainMirror"]["loopLost"] > LATE, h["chainMirror"]  # (the time, said)
        assert "own loop lost" in said, said[-2000:]  # (said, the chain not judged on it)
