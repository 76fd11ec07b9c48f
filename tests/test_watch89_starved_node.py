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
import threading
from pathlib import Path

from sdex.watch.loop import LATE, STALL
from tests.conftest import Chain
from tests.nodeutil import node_up, wait_for
from tests.rpcfault import Answer, _proxy

STOPPED = STALL + 3.0
"""Seconds the node's process stays stopped: past ``STALL`` (the fault's length, not a wait)."""
BLAMED = "has not answered a read"
"""The words of the node's log when its stall check says the chain ``unreachable``."""


async def test_a_node_stopped_past_the_stall_bound_does_not_blame_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    armed, held, release = threading.Event(), threading.Event(), threading.Event()
    latest = [0]

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_getBlockByNumber":
            return None
        if (req.get("params") or [None])[0] != "latest":
            return None
        latest[0] += 1
        if armed.is_set() and not held.is_set():
            held.set()  # (a poll's read out: the node is stopped now, then it is answered)
            release.wait(60)
        return None

    db = tmp_path / "n.db"
    log = db.with_suffix(".log")
    with _proxy(chain.rpc.url, intercept) as url:
        async with node_up(chain, db, rpc=url) as (proc, api):
            await wait_for(lambda: latest[0] >= 5, timeout=60)  # (polling through the proxy)
            code, h = await api.get("/health")
            assert code == 200 and h["chain"] == "ok", h
            since = log.stat().st_size
            armed.set()
            await wait_for(held.is_set, timeout=60)
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                release.set()  # (the answer goes to the stopped node's socket)
                await asyncio.sleep(STOPPED)  # (the node's own lost time: the fault itself)
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            polled = latest[0]
            await wait_for(lambda: latest[0] >= polled + 5, timeout=60)  # (polls go on)
            code, h = await api.get("/health")
            said = log.read_text(errors="replace")[since:]
            blamed = [line for line in said.splitlines() if BLAMED in line]
            assert not blamed, f"the chain blamed for the node's lost time: {blamed}"
            assert code == 200 and h["chain"] == "ok", h
            assert h["chainMirror"]["loopLost"] > LATE, h["chainMirror"]  # (the time, said)
            assert "own loop lost" in said, said[-2000:]  # (said, the chain not judged on it)
