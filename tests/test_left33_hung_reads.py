"""left33: a chain read already under way when the chain hangs is answered promptly.

chainhang33 marks a hung chain (Hardhat stopped with SIGSTOP) ``unreachable`` within
``sdex.watch.loop.STALL`` seconds, and intake refuses new orders that need a chain read. But
a read sent before that (``Intake._read_state``, its ``StateBatcher.get``) waited the RPC
client's 30 s, so a wallet's POST timed out first. Now such reads fail as soon as the chain
is marked unreachable, with the same chain-down answer (503, ``CHAIN_UNAVAILABLE``, "does not
follow the chain"), and the node reads again when the chain answers again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from sdex.chainnode import Engine
from tests.nodeutil import running_node, wait_for
from tests.test_chain_outage import OwnChain, OwnOrders
from tests.test_chainhang33 import DETECTED_WITHIN, STALL
from tests.test_node import CAROL, DAVE


async def test_a_read_under_way_fails_once_the_chain_is_unreachable(
    tmp_path: Path, engine: Engine
) -> None:
    net = OwnChain("hungreads33", engine)
    stopped = False
    proc = net.node.proc
    assert proc is not None
    try:
        own = OwnOrders(net, net.deploy(), tmp_path / "n.db")
        async with running_node(own.cfg) as (node, api):
            await wait_for(lambda: node.mirror_ready() and node.watcher.subscribed)
            # Hung, then at once an order that needs a chain read (a maker not seen yet):
            # its read is sent before the node can know of the hang.
            node.watcher.stall = STALL
            os.kill(proc.pid, signal.SIGSTOP)
            stopped = True
            hung_at = time.monotonic()
            carol = own.ask(CAROL)
            posted = asyncio.create_task(api.post_order(carol))
            await wait_for(lambda: node.intake.read > 0, timeout=5)  # (its read is out)
            async with asyncio.timeout(DETECTED_WITHIN):  # (not the client's 30 s)
                code, body = await posted
            assert time.monotonic() - hung_at < DETECTED_WITHIN
            assert code == 503 and "CHAIN_UNAVAILABLE" in str(body), body
            assert "does not follow the chain" in str(body), body

            # The chain answers again: an order that needs a read is read and accepted.
            os.kill(proc.pid, signal.SIGCONT)
            stopped = False

            async def ok_again() -> bool:
                code, h = await api.get("/health")
                return code == 200 and h["chain"] == "ok"

            await wait_for(ok_again, timeout=60)
            code, body = await api.post_order(own.ask(DAVE))
            assert code == 201, body
    finally:
        if stopped:
            os.kill(proc.pid, signal.SIGCONT)
        net.stop()
