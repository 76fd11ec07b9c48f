"""A ``--peer`` URL that is not an SDEX node (ux37): a new user gave ``sdex node --peer`` the
devnet's JSON-RPC URL and nothing in the log said so. The node now warns, once, naming the URL
and what answered its hello; it still starts and keeps trying (a peer may just be down), and
says nothing of a seed that is a node, or that does not answer at all."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from aiohttp import web

from sdex.devnet import Devnet, free_port
from sdex.gossip import GossipConfig
from sdex.node.process import NodeProcess
from tests.conftest import Chain
from tests.p2putil import Member, serve_gossip

FAST = GossipConfig(dial_interval=0.1)


def warnings_about(caplog: pytest.LogCaptureFixture, url: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and url in r.getMessage()
    ]


async def wait_for(cond: object, seconds: float = 15.0) -> None:
    assert callable(cond)
    async with asyncio.timeout(seconds):
        while not cond():
            await asyncio.sleep(0.05)


async def started(seeds: list[str]) -> Member:
    m = await serve_gossip(FAST, seeds)
    await m.gossip.start()
    return m


async def stop(m: Member) -> None:
    await m.gossip.stop()
    await m.runner.cleanup()


async def test_a_json_rpc_url_as_peer_is_named_in_a_warning(
    devnet: Devnet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    m = await started([devnet.node.url])
    try:
        await wait_for(lambda: warnings_about(caplog, devnet.node.url))
        (text,) = warnings_about(caplog, devnet.node.url)
        assert "not an SDEX node" in text and "JSON-RPC" in text, text
        assert len(m.gossip.peers) == 0 and m.gossip._running  # started, not admitted
    finally:
        await stop(m)


async def test_a_web_server_as_peer_is_warned_of_once(caplog: pytest.LogCaptureFixture) -> None:
    """Any answer but an SDEX node's: one warning with its HTTP status, however often the
    node dials it again; before it, a 404 without JSON, one JSON-RPC call at the URL (is it
    a chain's? anvil's answers so: ``test_a_json_rpc_url_as_peer_is_named_in_a_warning``)."""
    caplog.set_level(logging.WARNING)
    hellos: list[str] = []

    async def not_found(request: web.Request) -> web.Response:
        hellos.append(request.path)
        return web.Response(status=404, text="<html>Not Found</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_found)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()  # (bound at once: nothing takes it first)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    m = await started([url])
    try:
        # (a seed is dialled again, backing off)
        await wait_for(lambda: hellos.count("/p2p/hello") >= 2)
        assert [p for p in hellos if p != "/p2p/hello"] == ["/"]
        (text,) = warnings_about(caplog, url)
        assert "not an SDEX node" in text and "404" in text and "/p2p/hello" in text, text
    finally:
        await stop(m)
        await runner.cleanup()


async def test_no_warning_for_a_node_or_a_peer_that_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    a = await started([])
    down = f"http://127.0.0.1:{free_port()}"
    b = await started([a.url, down])
    try:
        await wait_for(lambda: len(b.gossip.peers) == 1)
        await wait_for(lambda: b.gossip.peers._seed_failures.get(down, 0) >= 1)
        assert not warnings_about(caplog, a.url) and not warnings_about(caplog, down)
    finally:
        await stop(b)
        await stop(a)


def test_sdex_node_logs_it_and_keeps_running(chain: Chain, tmp_path: Path) -> None:
    """The user's trial itself: ``sdex node --peer`` the devnet's URL, as a real process."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    rpc = chain.deployment.rpc
    log = tmp_path / "n.log"
    proc = NodeProcess(free_port(), deployment, chain.keys[16], tmp_path / "n.db", log, [rpc])
    proc.start()
    try:
        proc.wait_ready()
        deadline = time.monotonic() + 30
        while f"--peer {rpc} is not an SDEX node" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert "JSON-RPC" in log.read_text() and proc.running()
    finally:
        proc.kill()
