"""review91: the stall check's ``LATE`` rule (watch89: a check run more than ``LATE`` late
judges nothing, made again ``AGAIN`` later) let a node whose loop stays starved never judge
a hung chain: every check ran late, so each was put off again, and the hang was said only
when the read's own timeout (the RPC client's, 30 s) ran out, six times ``STALL``. A late
check is put off so the loop may read an answer waiting in its socket; once the loop has
run ``STALL`` seconds since the first late check of a row (however slowly, reading its
sockets at each turn) and the read is still unanswered, the silence is the chain's.

Real Hardhat, a real ``sdex node`` process behind a real loopback proxy that holds every
read once armed (a hung endpoint); the node's process is starved the while: stopped past
``STALL`` as the first read is held, then stopped 1 s and run 5 ms again and again (its loop
runs, late at every timer). The node must say the chain
``unreachable`` for the hang ("has not answered a read"), not only once its read times out."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from sdex.watch.loop import STALL
from tests.conftest import Chain
from tests.hungread import node_behind_hung_reads
from tests.nodeutil import wait_for

BLAMED = "has not answered a read"
"""The words of the node's log when its stall check says the chain ``unreachable``."""
UNREACHABLE = " unreachable: "
"""A status line's words when the chain is said unreachable (any cause)."""
FIRST = STALL + 2.0
"""Seconds the node's process is stopped first, as its read is held: its stall check, due
meanwhile, runs late (past ``LATE``); then in turns of ``STOPPED`` and ``RUN``."""
STOPPED, RUN = 1.0, 0.005
"""Seconds the node's process is stopped, then let run, in each turn of its starving: each
check put off ``AGAIN`` runs late again (``STOPPED`` is past ``LATE``)."""


def _starve(pid: int, done: threading.Event) -> None:
    """Stop ``pid`` ``FIRST`` seconds, then stop and continue it in turns till ``done``;
    left running."""
    try:
        os.kill(pid, signal.SIGSTOP)
        done.wait(FIRST)
        while not done.is_set():
            os.kill(pid, signal.SIGCONT)
            time.sleep(RUN)
            os.kill(pid, signal.SIGSTOP)
            done.wait(STOPPED)
            os.kill(pid, signal.SIGSTOP)
            done.wait(STOPPED)
            os.kill(pid, signal.SIGCONT)
            time.sleep(RUN)
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_a_starved_node_says_a_hung_chain_unreachable_before_its_read_times_out(
    chain: Chain, tmp_path: Path
) -> None:
    every = node_behind_hung_reads(chain, tmp_path, lambda _: True, first_only=False, bound=120)
    async with every as (proc, _, hung, logged):

        def said() -> list[str]:
            return [line for line in logged().splitlines() if UNREACHABLE in line]

        done = threading.Event()
        starver = threading.Thread(target=_starve, args=(proc.pid, done), daemon=True)
        hung.armed.set()
        await wait_for(hung.held.is_set, timeout=60)  # (a read out, held: the hang began)
        starver.start()
        try:
            await wait_for(lambda: bool(said()), timeout=90)  # (said, for one cause)
        finally:
            done.set()
            starver.join(10)
            hung.release.set()
        first = said()[0]
        assert BLAMED in first, f"the hang said only when the read timed out: {first}"
