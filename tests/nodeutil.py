"""Helpers for node tests: a real node (in-process or its own process) on loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from sdex.deployment import OPERATOR_ACCOUNTS
from sdex.devnet import free_port
from sdex.gossip import NodeKey
from sdex.keccak import keccak
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.node.main import serve_app
from sdex.node.process import NodeProcess
from sdex.order import SignedOrder
from sdex.signature import address_of
from tests.conftest import Chain
from tests.portpick import PORT_TRIES, PortTaken, on_picked_port, on_picked_port_sync

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
GOSSIP_SCALE = 0.2
"""Gossip timers for tests that wait on convergence: dial 0.1 s, anti-entropy 0.2 s, peer
exchange 1 s (defaults 0.5, 1 and 5 s). Not for every cluster: with one or two nodes and
little to converge, the extra dials and rounds cost more than they save (docs/BENCHMARKS.md,
suite9)."""
LISTING_TRIES = 20
"""Pages a test client reads again after a 429 before it gives up (``Api.listing``)."""


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on a loopback port of the kernel's pick (bound at once, port 0: a port
    picked first and bound later can be taken in between): its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


FRONTS = int(os.environ.get("SDEX_TEST_FRONTS", "0"))
"""Front processes of every ``node_config``'s node (``sdex node --fronts``): 0 by default;
``SDEX_TEST_FRONTS=1`` runs the tests that use it, unchanged, against fronted nodes."""


def node_config(chain: Chain, db: Path, operator: int = 19, **kw: Any) -> NodeConfig:
    cfg = NodeConfig.from_deployment(chain.deployment, chain.keys[operator], db, port=free_port())
    kw = {"fronts": FRONTS, **kw} if FRONTS else kw
    return replace(cfg, **kw) if kw else cfg


def with_minimums(cfg: NodeConfig, chain: Chain, weth: int, usdc: int) -> NodeConfig:
    """``cfg`` with the node's per-token minimums (base units), as ``--min-amount`` sets them
    (test configs have none: a rest below its lot then rests all or nothing, dust38)."""
    minimums = {chain.weth.address.lower(): weth, chain.usdc.address.lower(): usdc}
    return replace(cfg, limits=replace(cfg.limits, min_amounts=minimums))


@contextlib.asynccontextmanager
async def running_node(cfg: NodeConfig) -> AsyncIterator[tuple[Node, Api]]:
    """A node served in-process on ``cfg``, and a client of it. ``cfg.port`` is
    ``free_port``'s pick, bound once the node has checked the chain and its store: a port
    that another process took meanwhile is picked again (``on_picked_port``; the node's
    ``config.port`` is the one it serves on)."""
    start = lambda port: serve_app(replace(cfg, port=port))  # noqa: E731
    async with contextlib.AsyncExitStack() as stack:
        node, app = await stack.enter_async_context(on_picked_port(start, first=cfg.port))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield node, Api(session, url_of(node), app)


def url_of(node: Node) -> str:
    """The base URL ``node`` serves on: its ``config.port``, the port it bound (a
    ``running_node`` whose first pick was taken serves on another: not the ``cfg.port`` it
    was given, so a URL made of that before the start may name some other process)."""
    return f"http://{node.config.host}:{node.config.port}"


class Api:
    """A thin JSON client for tests: returns (status, body) and never raises on 4xx.
    ``app``: the node's (``running_node``'s), to wait on its state, if it runs in this process."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, app: web.Application | None = None
    ) -> None:
        self.session = session
        self.base = base
        self.app = app

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        async with self.session.get(self.base + path, params=params or None) as r:
            return r.status, await r.json(content_type=None)

    async def listing(self, path: str, **params: Any) -> Any:
        """A listing page (200), as a client should read one: a 429 (the per-client budget
        of listed records, ``NodeConfig.listing_rate_limit``) is waited out as its
        ``Retry-After`` says, at most ``LISTING_TRIES`` times."""
        for _ in range(LISTING_TRIES):
            async with self.session.get(self.base + path, params=params or None) as r:
                body = await r.json(content_type=None)
                if r.status != 429:
                    assert r.status == 200, (r.status, body)
                    return body
                await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), 5.0))
        raise AssertionError(f"{path}: throttled {LISTING_TRIES} times in a row")

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.session.post(self.base + path, json=body) as r:
            return r.status, await r.json(content_type=None)

    async def post_order(self, signed: SignedOrder, tif: str | None = None) -> tuple[int, Any]:
        body: dict[str, Any] = dict(signed.to_json())
        if tif:
            body["timeInForce"] = tif
        return await self.post("/v1/orders", body)

    async def post_matched(self, signed: SignedOrder, tif: str | None = None) -> Any:
        """``post_order``, answered 201 with one match: the answer's body."""
        code, body = await self.post_order(signed, tif=tif)
        assert code == 201 and len(body["matches"]) == 1, body
        return body

    async def post_taken(
        self, signed: SignedOrder, tif: str | None = None, within: float = 60.0
    ) -> tuple[int, Any]:
        """``post_order``, posted again while it is answered 503 ``CHAIN_UNAVAILABLE``
        ("try again": nothing taken), as a wallet would, for ``within`` seconds at most: the
        first answer of another kind. For a test whose subject is what follows an order's
        acceptance, not the chain's speed (flake87: at load 30 the suite's chain answered no
        read for 5 s, the node said ``unreachable``, and a reorg test's first post got 503)."""
        deadline = time.monotonic() + within
        while True:
            code, body = await self.post_order(signed, tif)
            if (
                code != 503
                or not isinstance(body, dict)
                or body.get("rejection") != "CHAIN_UNAVAILABLE"
            ):
                return code, body
            if time.monotonic() > deadline:
                raise AssertionError(f"still CHAIN_UNAVAILABLE after {within:g} s: {body}")
            await asyncio.sleep(0.2)

    async def status(self, signed: SignedOrder) -> str:
        code, rec = await self.get(f"/v1/orders/{signed.hash_hex}")
        assert code == 200, rec
        return str(rec["metaData"]["status"])


async def wait_for(
    cond: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 30.0
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
    chain: Chain,
    deployment: Path,
    db: Path,
    port: int,
    key_index: int | bytes,
    log: Path,
    peers: list[str] | None = None,
    gossip_scale: float = 1.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """``sdex node`` in its own process; killed (by its PID) on exit if still running.
    ``key_index``: a dev account's index, or the operator key itself. ``healthy`` knows it
    (``STARTS``): it is up once it says it listens (``listening``)."""
    key = chain.keys[key_index] if isinstance(key_index, int) else key_index
    since = log.stat().st_size if log.exists() else 0  # (each start appends to ``log``)
    node = NodeProcess(
        port, deployment, key, db, log, peers or [], admin=True,
        gossip_scale=gossip_scale, extra=("--fronts", str(FRONTS)) if FRONTS else (),
    ).start()  # fmt: skip
    assert node.proc is not None
    STARTS[node.proc] = (log, since)
    try:
        yield node.proc
    finally:
        node.kill()
        del STARTS[node.proc]


@contextlib.contextmanager
def node_ready(make: Callable[[int], NodeProcess], timeout: float = 60.0) -> Iterator[NodeProcess]:
    """``make(port)``'s ``sdex node`` process (not started), started on a port of
    ``free_port``'s pick and yielded once it says it listens there (``listening``) and
    ``/health`` answers (``NodeProcess.wait_ready``); started again on a new pick if another
    process took the port first (``on_picked_port_sync``); killed by its PID on exit. For a
    test without an event loop (else ``node_started``)."""

    @contextlib.contextmanager
    def start(port: int) -> Iterator[NodeProcess]:
        node = make(port)
        since = node.log.stat().st_size if node.log.exists() else 0
        node.start()
        try:
            assert node.proc is not None
            deadline = time.monotonic() + timeout
            while not listening(node.proc, node.url, node.log, since):
                if node.proc.poll() is not None:
                    node.wait_ready(0)  # (raises: it exited, its log named)
                if time.monotonic() > deadline:
                    raise AssertionError(f"{node.url}: not listening after {timeout:g} s")
                time.sleep(0.05)
            node.wait_ready(max(deadline - time.monotonic(), 1.0))
            yield node
        finally:
            node.kill()

    with on_picked_port_sync(start) as node:
        yield node


def node_run(run: Callable[[int], T], said: Callable[[T], str]) -> T:
    """``run(port)``: an ``sdex node`` run to its exit (a test of how it refuses to start) on
    a port of ``free_port``'s pick; run again on a new pick when it said (``said``: its
    words) that another process took that port first (``PortInUseError``'s words: the node
    checks its port before it opens its database or reads the chain), at most ``PORT_TRIES``
    times."""

    @contextlib.contextmanager
    def start(port: int) -> Iterator[T]:
        done = run(port)
        if f"port {port} on " in said(done) and "is already in use" in said(done):
            raise PortTaken(f"port {port}: another process listened on it first")
        yield done

    with on_picked_port_sync(start) as done:
        return done


STARTS: dict[subprocess.Popen[bytes], tuple[Path, int]] = {}
"""Each running ``node_process``'s log and where its start's lines begin there."""


def saved_head(db: Path) -> int:
    """The block number of the head the node's watcher saved in ``db`` (-1: none yet), read
    on a read-only connection of its own beside the node's writer."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
    return -1 if row is None else int(json.loads(row[0])[0])


@contextlib.asynccontextmanager
async def node_up(
    chain: Chain, db: Path, rpc: str | None = None, key_index: int = 19
) -> AsyncIterator[tuple[subprocess.Popen[bytes], Api]]:
    """``sdex node`` in its own process (``node_process``, dev account ``key_index`` its
    operator) on ``db``, through ``rpc`` (a proxy's URL: the node behind it; the chain's own
    by default), and a client of it; yielded once ``/health`` answers (``healthy``) and its
    watcher saved a head at the chain's block of then or above (the chain's blocks so far
    applied: what a test does next is judged on them). The deployment file and the log lie
    beside ``db``; its port ``free_port``'s pick, picked again if another process took it
    first (``node_started``). Kill the process by its PID (``proc.kill()``) to test a restart."""
    deployment = db.with_name(f"{db.stem}-deployment.json")
    replace(chain.deployment, rpc=rpc or chain.deployment.rpc).save(deployment)
    log = db.with_suffix(".log")
    async with (
        node_started(chain, deployment, db, key_index, log) as (proc, base),
        aiohttp.ClientSession() as session,
    ):
        top = int(chain.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_head(db) >= top, timeout=30)
        yield proc, Api(session, base)


@contextlib.asynccontextmanager
async def node_started(
    chain: Chain,
    deployment: Path,
    db: Path,
    key_index: int | bytes,
    log: Path,
    peers: list[str] | None = None,
    timeout: float = 60.0,
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    """``node_process`` on a port of ``free_port``'s pick, yielded once it says it listens
    there and ``/health`` answers (``healthy``, at most ``timeout`` s): the process and its
    base URL. A port another process took first is picked again (``on_picked_port``)."""

    @contextlib.asynccontextmanager
    async def start(port: int) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
        base = f"http://127.0.0.1:{port}"
        with node_process(chain, deployment, db, port, key_index, log, peers) as proc:
            async with aiohttp.ClientSession() as session:
                await wait_for(lambda: healthy(session, base, proc, log), timeout=timeout)
            yield proc, base

    async with on_picked_port(start) as started:
        yield started


@contextlib.contextmanager
def node_process_started(
    chain: Chain,
    deployment: Path,
    db: Path,
    key_index: int | bytes,
    log: Path,
    timeout: float = 60.0,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``node_started`` for a test without an event loop: ``node_process`` on a port of
    ``free_port``'s pick, yielded (the process, its base URL) once it says it listens there
    and ``/health`` answers; started again on a new pick if another process took the port
    first (``on_picked_port_sync``)."""

    async def up(base: str, proc: subprocess.Popen[bytes]) -> None:
        async with aiohttp.ClientSession() as session:
            await wait_for(lambda: healthy(session, base, proc, log), timeout=timeout)

    @contextlib.contextmanager
    def start(port: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
        base = f"http://127.0.0.1:{port}"
        with node_process(chain, deployment, db, port, key_index, log) as proc:
            asyncio.run(up(base, proc))
            yield proc, base

    with on_picked_port_sync(start) as started:
        yield started


def listening(proc: subprocess.Popen[bytes], base: str, log: Path, since: int) -> bool:
    """Whether the node process ``proc`` said (in ``log``, past byte ``since``: this start's
    lines) that it listens on ``base``: the node answering there is this one, not another
    process that took the port between ``free_port``'s pick and this node's bind (its
    ``/health`` answers 200 too). ``PortTaken`` if ``proc`` exited for that reason."""
    with log.open("rb") as f:
        f.seek(since)
        said = f.read().decode(errors="replace")
    if f"listening on {base}" in said:
        return True
    if proc.poll() is not None and "already in use" in said:
        raise PortTaken(f"the node for {base} exited: another process listens on its port")
    return False


def own(proc: subprocess.Popen[bytes], base: str) -> bool:
    """Whether the ``node_process`` ``proc`` listens on ``base`` (``listening``): for a test
    that asks the node at ``base`` whether it is up by some other request than ``healthy``."""
    return listening(proc, base, *STARTS[proc])


async def healthy(
    session: aiohttp.ClientSession,
    base: str,
    proc: subprocess.Popen[bytes],
    log: Path | None = None,
) -> bool:
    """``/health`` answers 200 and ``proc`` (a ``node_process``) said it listens on ``base``
    (``listening``); AssertionError if the process exited (with its log's last lines when
    ``log`` is given: a CI run keeps no test's files), ``PortTaken`` if it exited because
    another process listened on its port first."""
    start = STARTS.get(proc)
    said = start is not None and listening(proc, base, *start)
    if proc.poll() is not None:
        tail = ""
        if log is not None and log.exists():
            tail = ":\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise AssertionError(
            f"the node at {base} exited with {proc.returncode}{tail or ': see its log'}"
        )
    if start is not None and not said:
        return False
    try:
        async with session.get(base + "/health") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


def operator_key(chain: Chain, i: int) -> bytes:
    """Node i's operator key: dev accounts 19, 18 and 17 for nodes 0-2 (the devnet's
    operator accounts, which no wallet trades with); past those a key of the node's own,
    given ETH for gas, rather than ``19 - i``, a trading account whose key `sdex node`
    warns of (ux51: every test cluster of 4 or more nodes logged that warning)."""
    if i < OPERATOR_ACCOUNTS:
        return chain.keys[len(chain.keys) - 1 - i]
    key = keccak(f"sdex test cluster operator {i}".encode())
    chain.rpc.call("hardhat_setBalance", address_of(key), hex(10**21))
    return key


class Cluster:
    """N ``sdex node`` processes on loopback against the test's chain, each its own operator.

    ``links[i]``: the peers node i starts with (indexes). Node i uses operator key
    ``operator_key(chain, i)`` and database ``tmp/node-i.db``; ``start(i)``/``kill(i)`` (re)start or
    SIGKILL one node by its PID. ``gossip_scale``: the nodes' ``--gossip-scale`` (tests
    whose waits the gossip timers bound pass ``GOSSIP_SCALE``: bounded as before, met sooner).
    """

    def __init__(
        self, chain: Chain, tmp: Path, links: list[list[int]], gossip_scale: float = 1.0
    ) -> None:
        self.chain = chain
        self.gossip_scale = gossip_scale
        self.tmp = tmp
        self.links = links
        self.deployment = tmp / "devnet.json"
        chain.deployment.save(self.deployment)
        self.ports = [free_port() for _ in links]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(links)
        self.known: set[int] = set()
        """The nodes that were up once: their URLs may be known to others, kept on a restart."""
        self.extra_peers: dict[int, list[str]] = {}
        self._stack = contextlib.ExitStack()
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Cluster:
        self.session = aiohttp.ClientSession()
        try:
            return await self._start()
        except BaseException:  # (no ``__aexit__`` follows: harden93, its nodes ran on)
            await self.__aexit__()
            raise

    async def _start(self) -> Cluster:
        for attempt in range(PORT_TRIES):
            for i in range(len(self.links)):
                self.spawn(i)
            try:
                for i in range(len(self.links)):
                    await self._wait_up(i)
                self.known.update(range(len(self.links)))
                return self
            except PortTaken:
                if attempt + 1 == PORT_TRIES:
                    raise
            # every node stopped and started again from nothing on new ports (each has the
            # others' URLs; its database, the peers it heard of on the old ones)
            self._stack.close()
            self._stack = contextlib.ExitStack()
            for i in range(len(self.links)):
                for path in self.tmp.glob(f"node-{i}.db*"):
                    path.unlink()
            self.ports = [free_port() for _ in self.links]
            self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        raise AssertionError("unreachable")

    async def __aexit__(self, *_: object) -> None:
        self._stack.close()
        if self.session is not None:
            await self.session.close()

    def spawn(self, i: int) -> None:
        peers = [self.urls[j] for j in self.links[i]] + self.extra_peers.get(i, [])
        proc = self._stack.enter_context(
            node_process(
                self.chain, self.deployment, self.tmp / f"node-{i}.db", self.ports[i],
                operator_key(self.chain, i),
                self.log(i), peers, self.gossip_scale,
            )
        )  # fmt: skip
        self.procs[i] = proc

    def add_node(self, peer_urls: list[str]) -> int:
        """Start one more node whose seeds are ``peer_urls`` (any URLs); its index."""
        i = len(self.links)
        self.links.append([])
        self.extra_peers[i] = peer_urls
        self.ports.append(free_port())
        self.urls.append(f"http://127.0.0.1:{self.ports[-1]}")
        self.procs.append(None)
        self.spawn(i)
        return i

    def log(self, i: int) -> Path:
        return self.tmp / f"node-{i}.log"

    async def wait_healthy(self, i: int) -> None:
        """Until node i's own process listens on its port and ``/health`` answers 200 there.
        A node never up before (``add_node``'s) whose port another process took first is
        started again on another (no node has its URL yet), at most ``PORT_TRIES`` times."""
        for attempt in range(PORT_TRIES):
            try:
                await self._wait_up(i)
                self.known.add(i)
                return
            except PortTaken:
                if attempt + 1 == PORT_TRIES or i in self.known:
                    raise
            self.ports[i] = free_port()
            self.urls[i] = f"http://127.0.0.1:{self.ports[i]}"
            self.spawn(i)

    async def _wait_up(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None and self.session is not None
        session, base, log = self.session, self.urls[i], self.log(i)
        await wait_for(lambda: healthy(session, base, proc, log), timeout=120)  # (a start)

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.kill()
        proc.wait(timeout=10)

    async def cut(self, side_a: list[int], side_b: list[int], heal: bool = False) -> None:
        """Cut (or heal) every gossip link between the two sides, both ways."""
        key = "unblock" if heal else "block"
        for here, there in ((side_a, side_b), (side_b, side_a)):
            for i in here:
                code, body = await self.api(i).post(
                    "/admin/links", {key: [self.urls[j] for j in there]}
                )
                assert code == 200, body

    def api(self, i: int) -> Api:
        assert self.session is not None
        return Api(self.session, self.urls[i])

    def node_key(self, i: int) -> NodeKey:
        """Node i's gossip identity (created by the node beside its database)."""
        return NodeKey.load_or_create(self.tmp / f"node-{i}.db.nodekey")

    async def open_hashes(self, i: int) -> set[str]:
        """The open orders node i holds (all pages)."""
        out: set[str] = set()
        page = 1
        while True:
            body = await self.api(i).listing("/v1/orders", page=page, perPage=1000)
            for r in body["records"]:
                if r["metaData"]["status"] in ("open", "partially_filled", "unfunded"):
                    out.add(r["metaData"]["orderHash"])
            if page * 1000 >= int(body["total"]):
                return out
            page += 1


class HeldApply:
    """Makes ``node``'s watcher fail to apply its changes while ``held`` (the node cannot
    apply now: injected): the mirror reads on, the changes wait unapplied."""

    def __init__(self, node: Node, held: bool = True) -> None:
        self.held = held
        self._apply = node.watcher.apply
        node.watcher.apply = self  # type: ignore[method-assign]

    async def __call__(self, changes: Any) -> None:
        if self.held:
            raise RuntimeError("the node cannot apply now (injected)")
        await self._apply(changes)


async def stall_writer(node: Node, gate: threading.Event, trigger: str) -> None:
    """Make ``node``'s store writer hang inside SQLite (its real thread, a real stall) on the
    statement that ``trigger`` fires on, until ``gate`` is set (at most 60 s). ``trigger``:
    a temporary trigger's name and event, e.g. ``"t BEFORE INSERT ON fills"``; its body
    calls the stall."""

    def install(db: sqlite3.Connection) -> None:
        db.create_function("stall", 0, lambda: gate.wait(60))
        db.execute(f"CREATE TEMP TRIGGER {trigger} BEGIN SELECT stall(); END")

    await asyncio.wrap_future(node.store._writer.submit(install))


@contextlib.contextmanager
def writer_stuck(node: Node, within: float = 60) -> Iterator[concurrent.futures.Future[bool]]:
    """``node``'s store writer stuck (a job of its own waiting on a ``threading.Event``,
    ``within`` s at most) while the block runs; set free after it, the job then seen ended by
    the event (not by its bound). Yields the job (not ``done()``: the writer still stuck)."""
    gate = threading.Event()
    busy = node.store._writer.submit(lambda db: gate.wait(within))  # the writer is stuck
    try:
        yield busy
    finally:
        gate.set()
    assert busy.result(timeout=30) is True


def has_ipv6_loopback() -> bool:
    """Whether this machine can bind ``::1`` (a CI container may have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True
