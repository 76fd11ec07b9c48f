"""Test servers on a port picked a moment before (``free_port``) that another process binds
first are started again on another pick (``portpick.on_picked_port``), and a node cluster
whose start fails leaves none of its node processes running.

harden93: ``node_up`` had no retry (dup93 saw reconcile77's ``[dropped]`` case fail once with
``PortTaken`` under load), unlike ``Cluster`` and ``running_node``; and a ``Cluster`` whose
``__aenter__`` failed (a node that exited, a timeout) never ran its ``__aexit__``: the other
nodes it had started ran on, each holding its port and CPU for the rest of the run.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

import tests.nodeutil
import tests.portpick
from sdex import chainnode
from sdex.node.process import NodeProcess
from tests.conftest import Chain
from tests.nodeutil import Cluster, node_ready, node_up
from tests.portpick import PortTaken, on_picked_port


@contextlib.contextmanager
def first_pick_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[socket.socket]]:
    """Each helper's first ``free_port`` pick is bound (and listened on) by another socket
    right after it is picked: the race of a pick and its bind, forced. Yields the thieves."""
    thieves: list[socket.socket] = []

    def pick() -> int:
        port = chainnode.free_port()
        if not thieves:
            thief = socket.socket()
            thief.bind(("127.0.0.1", port))
            thief.listen()
            thieves.append(thief)
        return port

    monkeypatch.setattr(tests.portpick, "free_port", pick)
    monkeypatch.setattr(tests.nodeutil, "free_port", pick)
    try:
        yield thieves
    finally:
        for s in thieves:
            s.close()


async def test_a_node_process_whose_port_was_taken_is_started_on_another(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "n.db"
    with first_pick_taken(monkeypatch) as thieves:
        async with node_up(chain, db) as (proc, api):  # before: PortTaken
            (thief,) = thieves
            taken = thief.getsockname()[1]
            assert api.base != f"http://127.0.0.1:{taken}"
            code, body = await api.get("/health")
            assert code == 200, body
            assert proc.poll() is None
    said = db.with_suffix(".log").read_text()
    assert f"port {taken} on 127.0.0.1 is already in use" in said


def test_a_node_process_of_a_test_without_a_loop_is_started_on_another(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment, log = tmp_path / "devnet.json", tmp_path / "n.log"
    chain.deployment.save(deployment)

    def make(port: int) -> NodeProcess:
        return NodeProcess(port, deployment, chain.keys[17], tmp_path / "n.db", log)

    with first_pick_taken(monkeypatch) as thieves, node_ready(make) as node:
        (thief,) = thieves
        taken = thief.getsockname()[1]
        assert node.port != taken and node.running()
    assert not node.running()  # (killed by its PID at the block's end)
    assert f"port {taken} on 127.0.0.1 is already in use" in log.read_text()


async def test_an_aiohttp_site_whose_port_was_taken_is_served_on_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[int] = []

    @contextlib.asynccontextmanager
    async def site(port: int) -> AsyncIterator[str]:
        tried.append(port)
        runner = web.AppRunner(web.Application())
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()

    with first_pick_taken(monkeypatch) as thieves:
        async with on_picked_port(site) as url:
            (thief,) = thieves
            assert tried == [thief.getsockname()[1], int(url.rsplit(":", 1)[1])]


async def test_a_failure_of_the_block_itself_is_not_started_again() -> None:
    starts: list[int] = []

    @contextlib.asynccontextmanager
    async def start(port: int) -> AsyncIterator[int]:
        starts.append(port)
        yield port

    with pytest.raises(PortTaken):
        async with on_picked_port(start):
            raise PortTaken("the block's own")
    assert len(starts) == 1


async def test_a_port_taken_at_every_try_fails_after_the_tries() -> None:
    starts: list[int] = []

    @contextlib.asynccontextmanager
    async def start(port: int) -> AsyncIterator[int]:
        starts.append(port)
        raise OSError(98, "Address already in use")
        yield port

    with pytest.raises(OSError, match="already in use"):
        async with on_picked_port(start):
            raise AssertionError("never entered")
    assert len(starts) == tests.portpick.PORT_TRIES


async def test_a_cluster_whose_start_fails_leaves_no_node_running(
    chain: Chain, tmp_path: Path
) -> None:
    (tmp_path / "node-1.db").mkdir()  # (node 1 cannot open its store: it exits)
    cluster = Cluster(chain, tmp_path, [[1], [0]])
    with pytest.raises(AssertionError, match="exited"):
        async with cluster:
            raise AssertionError("never entered")
    first = cluster.procs[0]
    assert first is not None
    assert first.poll() is not None  # before: node 0 ran on, on its port
