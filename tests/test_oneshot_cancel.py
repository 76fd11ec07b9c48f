"""A one-shot await bounded in time still ends its task when the task is cancelled in the
turn of the event loop in which the awaited thing ends (the node stopping as a websocket
send, a store read or a dial completes).

On Python 3.11 ``asyncio.wait_for`` returns the awaited result then, swallowing the cancel
(the fifteenth session's watcher hang, ``tests/test_watch_cancel.py``): a websocket
subscriber's handler cancelled by the HTTP server's shutdown as a send ended would go on to
wait for the node's next event and send it (the shutdown waiting its ``shutdown_timeout``
for it); a wallet's repeat post would go on to store its order as the node stopped. Each
is now awaited under ``asyncio.timeout``. Each test completes the
awaited future and cancels the task in one synchronous step, as a loop turn that runs
both callbacks does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from sdex.gossip import GossipConfig, NodeKey
from sdex.node.wsapi import _sent
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.p2putil import gossip_net
from tests.test_stream import open_link

SDEX = Path(__file__).resolve().parent.parent / "sdex"


async def ends_cancelled(start: Callable[[asyncio.Future[bool]], Awaitable[object]]) -> bool:
    """Whether the task awaiting ``start(fut)`` ends cancelled when ``fut`` completes in the
    same turn as the cancel."""
    fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def run() -> object:
        return await start(fut)

    task = asyncio.create_task(run())
    await asyncio.sleep(0)  # (one turn: the task runs to its await of ``fut``)
    assert not task.done()
    fut.set_result(True)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert task in done
    return task.cancelled()


async def test_a_websocket_send_that_ends_as_its_handler_is_cancelled() -> None:
    assert await ends_cancelled(_sent)


async def test_a_store_read_that_ends_as_its_request_is_cancelled(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        assert await ends_cancelled(node._committed_within)


def test_no_wait_for_in_sdex() -> None:
    """Every bounded await in the package is ``asyncio.timeout`` (or ``asyncio.wait`` where
    the awaited future must outlive the wait): ``asyncio.wait_for`` swallows a cancel on
    3.11, as above (the store read of a peer's cancel proofs, ``NodePeering.cancel_proofs``,
    and a gossip stream's dial, ``Streams._open``, used it too)."""
    used = [
        f"{p.relative_to(SDEX.parent)}:{n}"
        for p in sorted(SDEX.rglob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bwait_for\(", line)
    ]
    assert used == []


async def test_a_stream_asked_for_as_the_node_stops_is_not_opened() -> None:
    """A call that finds no stream spawns its opening (``Streams.link``); the node's stop in
    the same turn (``Streams.close``, which then waits for its open streams to close) left
    that task to run with no session: it failed an assert, logged as "Task exception was
    never retrieved" by a node stopped under load (test_node_stop's load test)."""
    async with gossip_net(2, [GossipConfig(dial_interval=0.1)] * 2) as (a, b):
        streams = a.gossip.streams
        assert streams is not None
        await open_link(a, b)  # (an open stream: the stop waits for it to close)
        before = set(streams._tasks)
        assert streams.link(NodeKey.generate().node_id, "http://127.0.0.1:9") is None
        (opening,) = set(streams._tasks) - before
        await streams.close()
        await asyncio.wait({opening}, timeout=10)
        assert opening.done()
        assert opening.cancelled() or opening.exception() is None, opening
