"""Running a node: ``serve`` (async, in-process, used by tests) and ``run_node`` (``sdex node``;
its ``NodeConfig`` from the command-line options: ``sdex.node.cliconfig``).

``run_node`` logs the ``sdex.*`` loggers at the chosen level to stderr, one line per record,
flushed as it is written (a pipe or a file sees each line at once, as a terminal does), and
prints ``listening on URL`` on stdout, flushed, once the HTTP server accepts connections.
Other libraries' loggers stay at WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import io
import logging
import math
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Unpack

import requests
from aiohttp import web

from sdex.client import describe_request_error
from sdex.errors import ChainError, PortInUseError
from sdex.httpkit import TrustedProxies, trust_proxies
from sdex.node import sending
from sdex.node.api import make_app
from sdex.node.appstate import METRICS_KEY
from sdex.node.cliconfig import NodeOptions, config_for
from sdex.node.config import NodeConfig
from sdex.node.conns import BoundedRunner, ConnectionSlots, add_metrics
from sdex.node.core import Node
from sdex.node.fronts import front_processes
from sdex.node.gcfreeze import GcFreezer, gc_freeze
from sdex.node.process import http_url
from sdex.node.sending import AnswerSlots, bound_answers
from sdex.node.wsapi import end_subscriptions

log = logging.getLogger("sdex.node")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
SWITCH_INTERVAL = 0.0005
"""Seconds a thread holds the GIL while another waits, while a node serves (never raised;
Python's default 5 ms). The settlement's chain calls are on the event loop (settle30); what
still crosses threads on the order-to-receipt path is the store's writer (an order's row
is committed before its 201, a settlement's record before its broadcast), which re-takes
the GIL after each SQLite call, behind a busy loop up to one interval each. switch62 (a
loaded machine, anvil, 10 alternated triples): 2 ms and 5 ms settled fewer matches a second
(medians 518 and 422 against 784) at more node CPU a match (1.07x and 1.12x, medians of
pairs); the twenty-ninth session's quiet runs had 5 ms at 0.91-0.95x (2 runs)."""
SWITCH_INTERVAL_ENV = "SDEX_SWITCH_INTERVAL"
"""Sets the node's switch interval (seconds, e.g. ``0.002``) in place of ``SWITCH_INTERVAL``."""


def switch_interval(current: float | None = None) -> float:
    """The switch interval a node serves with, from one read of the environment:
    ``$SDEX_SWITCH_INTERVAL`` seconds if set (a number from 1 us to 1 s, else ``ValueError``,
    which says so), else the lower of ``current`` (the process's, if not given) and
    ``SWITCH_INTERVAL``: the default never raises it."""
    raw = os.environ.get(SWITCH_INTERVAL_ENV, "").strip()
    if not raw:
        return min(sys.getswitchinterval() if current is None else current, SWITCH_INTERVAL)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 1e-6 <= value <= 1.0:  # (also NaN)
        raise ValueError(
            f"${SWITCH_INTERVAL_ENV} must be seconds from 0.000001 to 1 (e.g. 0.002), not {raw!r}"
        )
    return value


@contextlib.asynccontextmanager
async def serve(config: NodeConfig, interval: float | None = None) -> AsyncIterator[Node]:
    """``serve_app``'s node."""
    async with serve_app(config, interval) as (node, _app):
        yield node


@contextlib.asynccontextmanager
async def serve_app(
    config: NodeConfig, interval: float | None = None
) -> AsyncIterator[tuple[Node, web.Application]]:
    """Start a node and its HTTP server (its app: the state its routes share, ``appstate``);
    stop both on exit. The chain and the store are
    checked first (``Node.prepare``: a wrong chain fails before the port opens), then the port
    opens and the stored orders are loaded (``Node.load``); it yields once the node is ready
    (``node.started``). While it serves, the process's
    GIL switch interval is ``interval``, as ``switch_interval`` gives it (read here if not
    given; ``run_node`` reads it before anything starts), and is put back on exit."""
    check_port_free(config.host, config.port)
    freeze = gc_freeze(config.gc_freeze)  # (a bad $SDEX_GC_FREEZE: said before anything starts)
    was = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval(was) if interval is None else interval)
    try:
        node = Node(config)
        try:
            await node.prepare()
        except requests.RequestException as e:
            await node.close_clients()
            raise ChainError(
                f"cannot reach the JSON-RPC endpoint {config.rpc}: {describe_request_error(e)} "
                "(is that chain running? `sdex devnet` starts one; --rpc URL names another "
                "endpoint)"  # (what to do too, user29)
            ) from e
        except BaseException:
            await node.close_clients()  # (no "Unclosed client session" after the error)
            raise
        app = make_app(node)
        app.on_shutdown.append(end_subscriptions)
        proxies = TrustedProxies(config.trusted_proxies)
        slots = ConnectionSlots(config.max_http_per_client, config.max_http, proxies)
        add_metrics(app[METRICS_KEY].registry, slots)
        answers = AnswerSlots(config.max_large_answers_per_client, config.max_large_answers)
        bound_answers(app, answers, config.send_timeout)
        sending.add_metrics(app[METRICS_KEY].registry, answers)
        trust_proxies(app, proxies)  # (last: outermost, every bound then sees the client)
        runner = BoundedRunner(
            app,
            slots,
            config.http_idle_timeout,
            shutdown_timeout=2.0,
            linger=config.body_timeout,
            write_timeout=config.send_timeout,
        )
        fronts = front_processes(config, node, app)
        await runner.setup()
        try:
            # The port opens before the stored orders are loaded (seconds on a large store):
            # /health answers 503 "starting" meanwhile and every other route 503 with
            # Retry-After (``sdex.node.api.guard``), as a load balancer's readiness check or a
            # wallet expects; no order is taken before the book holds every stored one.
            if fronts is None:
                site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
                await site.start()
            else:  # (they accept the connections: ``sdex.node.fronts``)
                await fronts.start(runner.server)
            log.info("port %d open: loading the stored orders", config.port)
            await node.load()
            async with frozen_heap(config, freeze):
                yield node, app
        finally:
            began = time.monotonic()
            if fronts is not None:
                await fronts.stop()
            await runner.cleanup()
            served = time.monotonic()
            await node.stop()
            log.info(
                "stopped in %.3f s (HTTP server %.3f s, node %.3f s)",
                time.monotonic() - began, served - began, time.monotonic() - served,
            )  # fmt: skip
    finally:
        sys.setswitchinterval(was)


@contextlib.asynccontextmanager
async def frozen_heap(config: NodeConfig, on: bool) -> AsyncIterator[None]:
    """While a node serves: the garbage collector's policy (``sdex.node.gcfreeze``), settled
    once the stored orders are loaded, if ``on`` (``gc_freeze``)."""
    if not on:
        yield
        return
    freezer = GcFreezer(config.gc_pause_budget)
    freezer.settle()
    task = asyncio.create_task(freezer.run(), name="gc-freeze")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        freezer.close()


def check_port_free(host: str, port: int) -> None:
    """``PortInUseError`` if something listens on ``host:port`` (each address the host
    resolves to): said before the node opens its database (by default one per port: the
    running node's own) or reads the chain, not by the bind after all that."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return  # (a host that does not resolve: the server's bind says so)
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as s:
            # REUSEADDR, as the server binds: a closed socket's TIME_WAIT is no reason to refuse
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(address)
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    continue  # (e.g. an address not on this machine: the server's bind says so)
                raise PortInUseError(
                    f"port {port} on {host} is already in use: another node (or something "
                    "else) listens there; stop it or pick another --port",
                ) from None


def run_node(*, log_level: str = "info", **options: Unpack[NodeOptions]) -> None:
    """Run a node configured by ``options`` (``config_for``) until SIGINT or SIGTERM, then
    stop cleanly."""
    interval = switch_interval()  # (a bad $SDEX_SWITCH_INTERVAL: said before anything starts)
    config = config_for(**options)
    setup_logging(log_level)
    asyncio.run(_run(config, interval))
    # Stopped: the process exits. Its heap leaves the collector's generations, or the
    # interpreter's exit collections walk all of it (an idle node: 0.6-0.9 s of its exit
    # 0.02 s after the signal; the stop unfroze the node's orders, ``GcFreezer.close``).
    gc.freeze()


def setup_logging(level: str) -> None:
    """``sdex.*`` loggers at ``level`` (debug, info, warning, error) on stderr, each record
    flushed as written; stdout line-buffered, for the ``listening on`` line."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    handler = logging.StreamHandler(sys.stderr)  # flushes after every record
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("sdex").setLevel(numeric)


async def _run(config: NodeConfig, interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("%s: stopping", sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping, sig)
    await run_until(config, interval, stop)


async def run_until(config: NodeConfig, interval: float, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set. Set during the start (the stored orders' load takes
    seconds on a large store), it ends the start too: the load is cancelled and what was
    opened is closed, rather than a SIGTERM waiting for the whole load (review15)."""
    ready = asyncio.Event()

    async def serving() -> None:
        async with serve(config, interval) as node:
            ready.set()
            log.info(
                "node listening on %s (chain %d, exchange %s, operator %s, db %s)",
                http_url(config.host, config.port),
                node.domain.chain_id,
                node.domain.verifying_contract,
                config.operator,
                config.db,
            )
            print(f"listening on {http_url(config.host, config.port)}", flush=True)
            await stop.wait()

    task = asyncio.create_task(serving())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and not ready.is_set():  # (once ready, it stops by itself)
            task.cancel()
            log.info("stopped while starting")
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        await task
    finally:
        stopped.cancel()
        if not task.done():  # (this coroutine itself cancelled)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
