"""A real node served in this process on an event loop of its own thread: for a test whose
subject is what a synchronous client (the wallet CLI under click's runner, ``NodeClient``)
meets, not the node's process (suite97).

An ``sdex node`` process costs ~0.8 CPU-s to start, nearly all of it imports (suite96), and
2-13 s of wall on a loaded 2-core machine; ``tests.test_cli_node.node`` started one for each
of ~70 wallet tests. The node here is configured exactly as ``sdex node`` configures it
(``config_for``, the CLI's options) and served by ``serve_app``, as ``running_node`` serves
one; the test's own thread stays free to block on its client. Restarts, kills and a node's
words on its own output stay real processes (``tests/nodeutil.py``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from sdex.devnet import free_port
from sdex.node.cliconfig import config_for
from sdex.node.core import Node
from tests.nodeutil import running_node, url_of, wait_for

START_WITHIN = 120.0
"""Seconds a node here has to come up (its chain checks on a loaded machine)."""


@contextlib.contextmanager
def node_thread(
    deployment: Path, key: bytes, db: Path, fee_bps: int = 0
) -> Iterator[tuple[Node, str]]:
    """A node on ``deployment``'s chain (operator ``key``, store ``db``, asking ``fee_bps``),
    as ``sdex node --deployment ... --key ... --db ... --fee-bps ...`` would run, served in
    this process on a loop of its own thread on a port of ``free_port``'s pick (picked again
    if taken: ``running_node``): (the node, its base URL), once it serves. Stopped, and its
    thread joined, on exit; an error of its start or stop is raised here."""
    cfg = config_for(
        port=free_port(), deployment=deployment, key="0x" + key.hex(), db=db, fee_bps=fee_bps
    )
    up: concurrent.futures.Future[tuple[Node, str]] = concurrent.futures.Future()
    ended: concurrent.futures.Future[None] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with running_node(cfg) as (node, api):

            async def healthy() -> bool:  # (as ``NodeProcess.wait_ready``: a 200)
                return (await api.get("/health"))[0] == 200

            await wait_for(healthy, timeout=START_WITHIN)
            up.set_result((node, url_of(node)))
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
            ended.set_result(None)
        except BaseException as e:  # (said in the test's thread: its start's or stop's error)
            if not up.done():
                up.set_exception(e)
            ended.set_exception(e)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=f"node {db.name}", daemon=True)
    thread.start()
    try:
        yield up.result(timeout=START_WITHIN)
    finally:
        if not ended.done():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        assert not thread.is_alive(), "the node's thread did not stop within 60 s"
    ended.result(timeout=0)
