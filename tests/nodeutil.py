"""Helpers for node tests: a real node (in-process or its own process) on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.node.main import serve
from sdex.order import SignedOrder
from tests.conftest import Chain

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_config(chain: Chain, db: Path, operator: int = 19, **kw: Any) -> NodeConfig:
    cfg = NodeConfig.from_deployment(
        chain.deployment, chain.keys[operator], db, port=free_port()
    )
    return replace(cfg, **kw) if kw else cfg


@contextlib.asynccontextmanager
async def running_node(cfg: NodeConfig) -> AsyncIterator[tuple[Node, Api]]:
    async with serve(cfg) as node, aiohttp.ClientSession() as session:
        yield node, Api(session, f"http://{cfg.host}:{cfg.port}")


class Api:
    """A thin JSON client for tests: returns (status, body) and never raises on 4xx."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        async with self.session.get(self.base + path, params=params or None) as r:
            return r.status, await r.json(content_type=None)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.session.post(self.base + path, json=body) as r:
            return r.status, await r.json(content_type=None)

    async def post_order(self, signed: SignedOrder, tif: str | None = None) -> tuple[int, Any]:
        body: dict[str, Any] = dict(signed.to_json())
        if tif:
            body["timeInForce"] = tif
        return await self.post("/v1/orders", body)

    async def status(self, signed: SignedOrder) -> str:
        code, rec = await self.get(f"/v1/orders/{signed.hash_hex}")
        assert code == 200, rec
        return str(rec["metaData"]["status"])


async def wait_for(
    cond: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 15.0
) -> None:
    """Poll ``cond`` until it holds; fail after ``timeout`` seconds (bounded, no bare sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if asyncio.iscoroutine(r):
            r = await r
        if r:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def node_process(
    chain: Chain, deployment: Path, db: Path, port: int, key_index: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``sdex node`` in its own process; killed (by its PID) on exit if still running."""
    key = "0x" + chain.keys[key_index].hex()
    cmd = [
        sys.executable, "-m", "sdex.cli", "node", "--port", str(port),
        "--deployment", str(deployment), "--key", key, "--db", str(db),
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
