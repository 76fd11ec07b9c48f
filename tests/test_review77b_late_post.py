"""review77b: a node may answer ``POST /v1/orders`` past a wallet's 10 s and still take the
order (its chain read may take up to 8 s, reads76, then its commit wait up to 10 more,
wait74). ``sdex order`` then said only "the node at URL did not answer POST /v1/orders within
10s" (exit 1), without the order's hash: the order rested in the book, and a user trying
again signed a second one. Now the wallet reads the order back by its hash: held, it says so
and shows its status (exit 0); not held, it says that, with the hash to look up.

A real ``sdex node`` process on Hardhat, behind a real loopback HTTP proxy that passes each
request on at once and holds the node's answer to ``POST /v1/orders`` until the test lets it
go (after the wallet gave up)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import requests
from aiohttp import web
from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.nodeutil import free_port
from tests.test_cli_node import ALICE, node
from tests.test_user25_cli_errors import key, one_line

HOLD_BOUND = 60.0
"""Seconds the proxy holds an answer at most (the test lets it go sooner)."""


@contextlib.contextmanager
def holding_proxy(upstream: str, hold: bool) -> Iterator[tuple[str, threading.Event]]:
    """A loopback HTTP proxy to ``upstream``: ``POST /v1/orders`` passed on at once, its
    answer held until the event is set (when ``hold``), or dropped unsent (``hold`` False:
    the request never reaches the node, its client waits until the event)."""
    release = threading.Event()
    loop = asyncio.new_event_loop()
    port = free_port()
    runner: web.AppRunner | None = None

    async def released() -> None:
        await asyncio.to_thread(release.wait, HOLD_BOUND)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST" and request.path == "/v1/orders" and not hold:
            await released()
            return web.Response(status=504)
        async with (
            aiohttp.ClientSession() as s,
            s.request(
                request.method, upstream + request.path_qs, data=body,
                headers={"Content-Type": request.headers.get("Content-Type", "")},
            ) as r,
        ):  # fmt: skip
            answer = await r.read()
            status, ctype = r.status, r.headers.get("Content-Type", "application/json")
        if request.method == "POST" and request.path == "/v1/orders":
            await released()
        return web.Response(body=answer, status=status, headers={"Content-Type": ctype})

    async def start() -> None:
        nonlocal runner
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}", release
    finally:
        release.set()
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_an_order_taken_after_the_wallet_gave_up_is_read_back(chain: Chain, tmp_path: Path) -> None:
    with node(chain, tmp_path) as (url, _):
        maker = ["--key", key(chain, ALICE)]
        env = {"COLUMNS": "200"}
        with holding_proxy(url, hold=True) as (proxied, release):
            r = CliRunner().invoke(
                main, ["order", "buy", "1500", "0.5", "--node", proxied, *maker], env=env
            )
            release.set()
        said = one_line(r.output)
        assert r.exit_code == 0, r.output
        (order_hash,) = set(re.findall(r"order (0x[0-9a-f]{64})", said))
        assert "did not answer POST /v1/orders within 10s; read back, it holds the order" in said
        # (its repost held too: whether it is stored is not known, wallet78)
        assert "it was taken, but whether it is stored is not known (posted again" in said, said
        assert "status open (read back)" in said, said
        got = requests.get(f"{url}/v1/orders/{order_hash}", timeout=10)
        assert got.status_code == 200 and got.json()["metaData"]["status"] == "open"
        # never taken: said so, with the hash to look up; exit 1
        with holding_proxy(url, hold=False) as (proxied, release):
            r = CliRunner().invoke(
                main, ["order", "buy", "1400", "0.5", "--node", proxied, *maker], env=env
            )
            release.set()
        said = one_line(r.output)
        assert r.exit_code == 1, r.output
        (lost,) = re.findall(r"does not hold order (0x[0-9a-f]{64})", said)
        assert f"GET /v1/orders/{lost} at the node says so" in said, said
        assert requests.get(f"{url}/v1/orders/{lost}", timeout=10).status_code == 404
