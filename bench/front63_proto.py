#!/usr/bin/env python3
"""Does a front process that does a wallet POST's stateless part raise one node's HTTP rate?

Issue 11; docs/BENCHMARKS.md "front63". Ways of serving ``POST /v1/orders`` on one devnet
(``--ways``), alternated (A/B, then B/A), each a fresh node and fresh orders, each run with
bench/node.py's trivial aiohttp handler just before and just after it (same client, same
bodies):

- ``main``: ``sdex node`` of ``--main-root`` (bench/node.py's ``node_process``).
- ``wired``: ``sdex node --fronts N`` of this tree (``sdex.node.fronts``).
- ``front``: the prototype, not wired into ``sdex node``: the node (this file's ``node``
  command: ``sdex.node.main.serve`` on a private port, plus a Unix socket) and ``--fronts``
  front processes (this file's ``front`` command) sharing the public port
  (``SO_REUSEPORT``). A front reads the request, bounds and parses the body, checks
  ``timeInForce``, parses the order, hashes it (EIP-712) and recovers its ECDSA signer; an
  order whose signer is its maker goes to the node as a compact tuple (its fields,
  signature and hash), anything else as its parsed JSON (the node's own path says what is
  wrong). Per loop turn the front sends one frame of what came, and the node answers each
  request's status, headers and body in one frame per turn (pickled, on
  ``sdex.node.frontwire.Channel``; docs/BENCHMARKS.md's runs 1-2 used a copy of the same
  framing). The node takes a compact order through the intake's checks after the
  signature (``Node.submit(..., fronted=)``: ``Intake._ruled``, the chain state from the
  mirror, the limits), stores it (the 2xx after its commit), books it.

Counted a run: accepted orders/s, the trivial handler's requests/s (mean of before and
after), CPU a request of every node process (the node and its fronts) and of the trivial
one, the load average (``/proc/loadavg``) at the start and the other processes' cores.
Prints one JSON line a run and a summary. Every process started here is stopped by its PID.

    PYTHONPATH=$PWD .venv/bin/python bench/front63_proto.py --pairs 3 --ways main,wired
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sdex.node.frontwire import Channel  # noqa: E402


def frames(on_items: Any) -> Channel:
    """An orders channel of ``sdex.node.frontwire`` carrying pickled lists (the prototype's
    own processes only): ``on_items`` with each frame's list."""
    return Channel(
        lambda f: on_items(pickle.loads(f)),
        lambda items: pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL),
    )


# -- the node side ---------------------------------------------------------------------------


def node_main(port: int, deployment: Path, key: str, db: Path, sock_path: str) -> None:
    from sdex.jsonio import dumps_bytes
    from sdex.matching import TimeInForce
    from sdex.node.cliconfig import config_for
    from sdex.node.main import serve, setup_logging, switch_interval
    from sdex.order import Order, SignedOrder

    tifs = {t.value: t for t in TimeInForce}
    interval = switch_interval()
    config = config_for(port=port, deployment=deployment, key=key, db=db)
    setup_logging("warning")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with serve(config, interval) as node:
            hello = (node.domain, config.max_body, config.body_timeout)

            def connected() -> Channel:
                proto: Channel

                async def one(rid: int, client: str, tif: Any, item: Any) -> None:
                    try:
                        fronted, obj = None, item  # (parsed, hashed, signed by its maker:
                        if type(item) is tuple:  # the front's; the node's ``fronted`` path)
                            *fields, sig, h = item
                            fronted, obj = SignedOrder(Order(*fields), sig, h), None
                        result = await node.submit(
                            obj, source="api", tif=tif, client=client, fronted=fronted
                        )
                        text = result.text
                        data = dumps_bytes(result.body) if text is None else text.encode()
                        proto.add((rid, result.status, data, result.headers))
                    except Exception as e:  # (a prototype: said, not hidden)
                        proto.add((rid, 500, json.dumps({"reason": repr(e)}).encode(), None))

                tasks: set[asyncio.Task[None]] = set()

                def on_items(items: list[Any]) -> None:
                    for rid, client, tif_raw, item in items:
                        task = loop.create_task(one(rid, client, tifs[tif_raw], item))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)

                proto = frames(on_items)
                proto.add(("hello", hello))
                return proto

            server = await loop.create_unix_server(connected, sock_path)
            print("ready", flush=True)
            await stop.wait()
            server.close()

    asyncio.run(run())


# -- the front side ----------------------------------------------------------------------------


def front_main(port: int, sock_path: str) -> None:
    from aiohttp import web

    from sdex.errors import FieldCode, OrderParseError
    from sdex.httpkit import ApiError
    from sdex.httpkit import read_json as read_json_within
    from sdex.ingest.ecrecover import signer_of
    from sdex.ingest.intake import SIGNATURE_HEX
    from sdex.order import SignedOrder

    json_type = {"Content-Type": "application/json; charset=utf-8"}
    tifs = ("gtc", "ioc", "fok")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        waiting: dict[int, asyncio.Future[Any]] = {}
        hello: asyncio.Future[Any] = loop.create_future()

        def on_items(items: list[Any]) -> None:
            for item in items:
                if item[0] == "hello":
                    hello.set_result(item[1])
                    continue
                fut = waiting.pop(item[0], None)
                if fut is not None and not fut.done():
                    fut.set_result(item)

        for _ in range(400):
            try:
                _, proto = await loop.create_unix_connection(lambda: frames(on_items), sock_path)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError("no node socket")
        domain, limit, timeout = await hello
        counter = iter(range(1 << 62))

        async def post_order(request: web.Request) -> web.Response:
            try:
                obj = await read_json_within(request, limit, untyped=True, timeout=timeout)
                tif = obj.pop("timeInForce", "gtc")
                if tif not in tifs:
                    raise ApiError.field(
                        "timeInForce",
                        FieldCode.UNSUPPORTED_OPTION,
                        "timeInForce must be gtc, ioc or fok",
                    )
            except ApiError as e:
                return e.response()
            item: Any = obj
            sig = obj.get("signature")
            if not (isinstance(sig, str) and len(sig) > SIGNATURE_HEX):
                try:
                    so = SignedOrder.from_json(obj, domain)
                except OrderParseError:
                    so = None
                if so is not None and signer_of(so.hash, so.signature) == so.order.maker:
                    o = so.order
                    item = (o.maker, o.taker, o.maker_token, o.taker_token, o.maker_amount,
                            o.taker_amount, o.fee_recipient, o.fee_amount, o.expiry, o.salt,
                            so.signature, so.hash)  # fmt: skip
            rid = next(counter)
            fut = waiting[rid] = loop.create_future()
            proto.add((rid, request.remote or "", tif, item))
            _, status, data, headers = await fut
            hs = json_type if headers is None else {**json_type, **headers}
            return web.Response(body=data, status=status, headers=hs)

        app = web.Application()
        app.router.add_post("/v1/orders", post_order)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_port=True)
        await site.start()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        closed = asyncio.ensure_future(proto.closed.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([closed, stopped], return_when=asyncio.FIRST_COMPLETED)
        await runner.cleanup()

    asyncio.run(run())


# -- the bench ----------------------------------------------------------------------------------


def fronts_of(url: str) -> list[int]:
    """The node's front processes' PIDs (``/health``), none for a node without."""
    import requests

    return list(requests.get(url + "/health", timeout=10).json().get("fronts", {}).get("pids", []))


def load_avg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@contextlib.contextmanager
def front_node(
    deployment_file: Path, key: str, workdir: Path, name: str, fronts: int
) -> Iterator[tuple[list[int], str]]:
    import node as bn
    from benchlib import stop_process

    inner, public = bn.free_port(), bn.free_port()
    sock = str(workdir / f"{name}.sock")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    me = str(Path(__file__).resolve())
    log = (workdir / f"{name}.log").open("ab")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        node = subprocess.Popen(
            [sys.executable, me, "node", str(inner), str(deployment_file), key,
             str(workdir / f"{name}.db"), sock],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(node)
        bn._wait_healthy(node, f"http://127.0.0.1:{inner}", workdir / f"{name}.log")
        for _ in range(fronts):
            procs.append(
                subprocess.Popen(
                    [sys.executable, me, "front", str(public), sock],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 30
        while True:  # every front listening (one answer is enough for one; tried by connect)
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", public)) == 0:
                    break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"front did not start; see {workdir / name}.log")
            time.sleep(0.05)
        time.sleep(0.5 * fronts)  # (the others' listen: a bench prototype, said here)
        yield [p.pid for p in procs], f"http://127.0.0.1:{public}"
    finally:
        for p in reversed(procs):
            stop_process(p)
        log.close()


async def measure(
    url: str, bodies: list[bytes], concurrency: int, pids: list[int]
) -> dict[str, Any]:
    import node as bn

    n = len(bodies) - 500
    ref_before = await bn.trivial_reference(bodies[500:], concurrency)
    load = load_avg()
    async with bn.session(concurrency) as s:
        await bn.post_all(s, url + "/v1/orders", bodies[:500], concurrency)  # warm-up
        each0 = [bn.cpu_seconds(p) for p in pids]
        loop0 = bn.cpu_seconds(pids[0], pids[0])  # (the node's event loop thread)
        with bn.CpuMeter({str(i): p for i, p in enumerate(pids)}) as cpu:
            r = await bn.post_all(s, url + "/v1/orders", bodies[500:], concurrency)
        each = [bn.cpu_seconds(p) - c for p, c in zip(pids, each0, strict=True)]
        node_loop = bn.cpu_seconds(pids[0], pids[0]) - loop0
        used = sum(each)
    if r["statuses"] != {"201": n}:
        raise RuntimeError(f"HTTP posts: {r['statuses']} {r['errors']}")
    ref_after = await bn.trivial_reference(bodies[500:], concurrency)
    refs = (ref_before, ref_after)
    trivial = statistics.fmean(n / x["seconds"] for x in refs)
    rate = n / r["seconds"]
    return {
        "accepted_per_s": round(rate),
        "trivial_per_s": round(trivial),
        "trivial_before_after": [round(n / x["seconds"]) for x in refs],
        "node_over_trivial": round(rate / trivial, 3),
        "node_cpu_us_per_request": round(1e6 * used / n, 1),
        "per_process_cores": {k: v for k, v in cpu.cores.items()},
        "cpu_us_per_request_by_process": [round(1e6 * x / n, 1) for x in each],
        "node_loop_thread_us_per_request": round(1e6 * node_loop / n, 1),
        "trivial_cpu_us_per_request": round(
            statistics.fmean(x["cpu_us_per_request"] for x in refs), 1
        ),
        "load_at_start": load,
        "p50_ms": bn.pct(r["latencies"], 0.5),
    }


def bench(args: argparse.Namespace) -> None:
    import node as bn

    from sdex.chain import Exchange
    from sdex.devnet import Devnet

    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="front63-")))
        deployment_file = workdir / "devnet.json"
        devnet = Devnet(
            deployment_path=deployment_file, log_path=workdir / "chain.log", accounts=20,
            engine=args.engine,
        )  # fmt: skip
        deployment = devnet.start()
        runs: dict[str, list[dict[str, Any]]] = {w: [] for w in args.ways.split(",")}
        try:
            assert devnet.rpc is not None
            domain = Exchange(devnet.rpc, deployment.exchange).domain()
            signer = bn.Signer(deployment, domain, bn.chain_expiry(devnet.rpc))
            key = deployment.accounts[bn.OPERATOR].key
            ways = args.ways.split(",")
            order = []
            for i in range(args.pairs):
                order += ways if i % 2 == 0 else ways[::-1]
            for k, way in enumerate(order):
                orders = signer.resting(args.http_orders + 500, list(range(bn.OPERATOR)))
                bodies = [bn.body(o) for o in orders]
                name = f"{way}{k}"
                if way in ("main", "wired"):
                    bn.NODE_ROOT = args.main_root if way == "main" else None
                    bn.NODE_FRONTS = args.fronts if way == "wired" else 0
                    cm: Any = bn.node_process(deployment_file, key, workdir, name, None)
                    with cm as (p, url):
                        pids = [p.pid, *fronts_of(url)]
                        out = asyncio.run(measure(url, bodies, args.concurrency, pids))
                else:
                    with front_node(deployment_file, key, workdir, name, args.fronts) as (
                        pids,
                        url,
                    ):
                        out = asyncio.run(measure(url, bodies, args.concurrency, pids))
                out = {"way": way, "run": k, **out}
                runs[way].append(out)
                print(json.dumps(out), flush=True)
        finally:
            devnet.stop()
    summary = {
        w: {
            key: [x[key] for x in v]
            for key in (
                "accepted_per_s",
                "trivial_per_s",
                "node_over_trivial",
                "node_cpu_us_per_request",
                "load_at_start",
            )
        }
        for w, v in runs.items()
    }
    print(json.dumps({"summary": summary, "fronts": args.fronts}), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "node":
        port, deployment, key, db, sock = sys.argv[2:7]
        node_main(int(port), Path(deployment), key, Path(db), sock)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "front":
        front_main(int(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--http-orders", type=int, default=6000)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--fronts", type=int, default=1)
    ap.add_argument("--engine", default="hardhat")
    ap.add_argument("--workdir", type=Path, help="keep the logs and databases here")
    ap.add_argument(
        "--ways", default="main,wired",
        help="comma-separated, alternated: main (sdex node from --main-root), wired (this "
        "tree's sdex node --fronts N), front (this file's prototype)",
    )  # fmt: skip
    ap.add_argument("--main-root", type=Path, default=Path("/work/main"))
    bench(ap.parse_args())


if __name__ == "__main__":
    main()
