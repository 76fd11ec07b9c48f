#!/usr/bin/env python3
"""What each kind of ``/p2p/`` request costs a full node's event loop, and the share of the
loop one admitted peer can buy with it at its full request budget.

A node on a devnet, served on loopback, holds ``HELD`` open gossiped orders (put in its
registry by its own ``admit`` and ``announce``, each under a hash of its own) and
``CANCELLED`` soft-cancelled ones (``hold_cancelled``, committed: what ``GET
/p2p/cancelled`` pages). For each kind a fresh key the node admitted opens a stream (the
cheapest way to ask: a MAC'd frame a request, no signature) from a thread of its own and
asks that kind ``PACE`` times a second for ``SECONDS``:

- ``floor``: ``POST /p2p/hashes`` naming no bucket (an empty answer: what any request costs);
- ``digest``: ``GET /p2p/digest``;
- ``cancelled``: ``GET /p2p/cancelled?limit=1000`` (the largest page asked);
- ``cancels``: ``POST /p2p/cancels``, a maker's signed cancel of an order cancelled here
  already (its signature recovered each time);
- ``snapshot``: ``GET /p2p/snapshot?limit=1000``, pages in turn;
- ``hashes``: ``POST /p2p/hashes``, all 256 buckets;
- ``fetch``: ``POST /p2p/fetch`` naming ``FETCHED`` open orders.

Figures a kind: ``*_ms`` the loop thread's CPU a request (the node does nothing else; the
frames' MACs included; the loop's share with no request, ``idle_share``, measured first and
taken off), ``*_tokens`` the request-budget tokens a request was charged (tallied by
wrapping ``RateLimiter.take``/``charge`` for that peer), ``*_share`` the loop share
measured at ``PACE`` (idle included), and ``*_bought`` the share the peer's full request
budget buys of that kind: ``ms`` x (``rate`` / ``tokens``) / 1000, what its rate limit lets
it ask a second (the kind's own budget, where it has one, makes the later answers the
floor's: ``*_bought`` is then an upper bound, ``*_share`` at ``PACE`` the measure). The
node's defaults (``peer_rate_limit`` 2,000 tokens a second). This tree against the
reference (``--ref-root``), each side in a process of its own, ``--rounds`` rounds
alternated; then [median, min, max].

Run: PYTHONPATH=$PWD .venv/bin/python bench/gossip74_peer_requests.py --ref-root /work/main
(``GOSSIP74_KINDS=floor,digest`` in the environment: those kinds alone.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import sdex  # noqa: F401  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncio
import gc
import hashlib
import os
import threading
import time
from typing import Any

import aiohttp
from http_modes import devnet_node

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex import httpkit
from sdex.gossip import NodeKey
from sdex.gossip import stream as gstream
from sdex.node.heldrecord import Record
from sdex.node.main import serve
from sdex.order import SignedOrder
from sdex.signature import sign_hash

HELD = 200_000
"""Open gossiped orders the node holds (``max_orders``' default)."""
CANCELLED = 2_000
"""Soft-cancelled orders it holds (two pages of ``/p2p/cancelled``)."""
FETCHED = 5_000
"""Open orders a fetch names (``routes.MAX_HASHES``)."""
PACE = {
    "floor": 200.0,
    "digest": 200.0,
    "cancelled": 10.0,
    "cancels": 200.0,
    "snapshot": 10.0,
    "hashes": 25.0,
    "fetch": 25.0,
}
"""Requests a second each kind is asked (within the loop: a cost is read, not a queue)."""
KINDS = [k for k in os.environ.get("GOSSIP74_KINDS", ",".join(PACE)).split(",") if k in PACE]
"""The kinds asked (``$GOSSIP74_KINDS``, comma-separated; all when unset)."""
SECONDS = 5.0
"""Seconds each kind is asked."""
IN_FLIGHT = 12
"""Requests the asker holds unanswered at most (the stream serves 16 at once)."""

_TALLY: dict[str, float] = {}
_TAKE, _CHARGE = httpkit.RateLimiter.take, httpkit.RateLimiter.charge


def _take(self: httpkit.RateLimiter, client: str, cost: float = 1.0) -> Any:
    ok, headers = _TAKE(self, client, cost)
    if ok:
        _TALLY[client] = _TALLY.get(client, 0.0) + min(cost, float(self.burst))
    return ok, headers


def _charge(self: httpkit.RateLimiter, client: str, tokens: float) -> Any:
    _TALLY[client] = _TALLY.get(client, 0.0) + max(0.0, tokens)
    return _CHARGE(self, client, tokens)


async def ask(
    base: str, to: str, kind: tuple[str, str, Any, str], pace: float, window: list[Any]
) -> dict[str, float]:
    """``kind`` asked at ``pace`` for ``SECONDS`` on a stream by a fresh key (admitted by
    the caller: ``window[0]`` its id; ``window[1]`` set when it is); its answers' items."""
    method, path, body, answered = kind
    key = NodeKey.generate()
    window.append(key.node_id)
    while len(window) < 2:
        await asyncio.sleep(0.005)
    got = answers = failed = 0
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession() as session:
        link = await gstream.dial(session, key, "http://127.0.0.1:9", base, to, lambda _p: None)

        async def one(i: int) -> None:
            nonlocal got, answers, failed
            async with gate:
                query: dict[str, str] | None = None
                if path == "/snapshot":
                    query = {"limit": "1000", "after": str(1000 * (i % 100))}
                elif path == "/cancelled":
                    query = {"limit": "1000"}
                b = body(i) if callable(body) else body
                status, out = await link.request(method, path, query, b, 30.0)
            if status != 200:
                failed += 1
                return
            answers += 1
            got += len(out[answered]) if answered else 1

        tasks = []
        start = time.monotonic()
        window.append(start)
        i = 0
        while True:
            due = start + i / pace
            if due - start >= SECONDS:
                break
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            tasks.append(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*tasks)
        await link.close()
    return {"answers": answers, "items": got, "failed": failed}


async def idle_share() -> float:
    """The loop thread's CPU share over ``SECONDS`` with no request (the node's own timers:
    taken off each kind's)."""
    cpu, wall = time.thread_time(), time.monotonic()
    await asyncio.sleep(SECONDS)
    return (time.thread_time() - cpu) / (time.monotonic() - wall)


async def one_kind(
    node: Any, kind: tuple[str, str, Any, str], pace: float, idle: float
) -> dict[str, float]:
    gossip = node.gossip
    base = f"http://127.0.0.1:{node.config.port}"
    window: list[Any] = []
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(asyncio.run(ask(base, gossip.key.node_id, kind, pace, window)))
    )
    thread.start()
    while not window:
        await asyncio.sleep(0.005)
    peer = window[0]
    assert gossip.peers.admit(peer, "http://127.0.0.1:9") is not None
    window.append("admitted")
    while len(window) < 3:
        await asyncio.sleep(0.005)
    _TALLY.pop(peer, None)
    cpu, wall = time.thread_time(), time.monotonic()
    while thread.is_alive():
        await asyncio.sleep(0.01)
    cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
    thread.join()
    tokens = _TALLY.pop(peer, 0.0)
    gossip.peers._drop(peer)
    n = max(1, result["answers"])
    return {
        "ms": 1000 * max(0.0, cpu - idle * wall) / n,
        "tokens": tokens / n,
        "items": result["items"] / n,
        "share": cpu / wall,
        "failed": result["failed"],
    }


def measure() -> dict[str, float]:
    httpkit.RateLimiter.take = _take  # type: ignore[method-assign]
    httpkit.RateLimiter.charge = _charge  # type: ignore[method-assign]
    with devnet_node("sdex-g74-") as (_, signer, cfg):
        signed = signer.order(0, True, 300_000)
        maker_key = signer.keys[0]

        async def run() -> dict[str, dict[str, float]]:
            async with serve(cfg) as node:
                rate = node.config.peer_rate_limit.rate
                hashes = []
                for i in range(HELD):
                    h = hashlib.sha256(i.to_bytes(8, "big")).digest()
                    rec = Record(SignedOrder(signed.order, signed.signature, h), 10**9 + i, "b")
                    node.registry.admit(rec)
                    node.registry.announce(rec)
                    hashes.append("0x" + h.hex())
                cancels = []
                for _ in range(CANCELLED):  # (real orders: the store checks a row's hash)
                    one = signer.order(0, True, 300_000)
                    sig = sign_hash(node.domain.cancel_digest(one.hash), maker_key)
                    node.hold_cancelled(one, sig, "b", 0)
                    cancels.append({"orderHash": one.hash_hex, "signature": "0x" + sig.hex()})
                for _ in range(600):  # (committed: what the store pages)
                    page, _n = await node.cancelled_page(0, CANCELLED, 10**9)
                    if len(page) >= CANCELLED:
                        break
                    await asyncio.sleep(0.05)
                kinds: dict[str, tuple[str, str, Any, str]] = {
                    "floor": ("POST", "/hashes", {"buckets": []}, "hashes"),
                    "digest": ("GET", "/digest", None, "buckets"),
                    "cancelled": ("GET", "/cancelled", None, "orders"),
                    "cancels": ("POST", "/cancels", lambda i: cancels[i % CANCELLED], ""),
                    "snapshot": ("GET", "/snapshot", None, "orders"),
                    "hashes": ("POST", "/hashes", {"buckets": list(range(256))}, "hashes"),
                    "fetch": ("POST", "/fetch", {"hashes": hashes[:FETCHED]}, "orders"),
                }
                gc.collect()
                gc.freeze()  # (the 200,000 records: no full collection in a window)
                await asyncio.sleep(SECONDS)  # (the rows written, the node settled)
                idle = min(await idle_share(), await idle_share())
                out: dict[str, dict[str, float]] = {"idle": {"share": idle}}
                for name in KINDS:
                    kind = kinds[name]
                    got = await one_kind(node, kind, PACE[name], idle)
                    got["bought"] = min(1.0, got["ms"] * rate / max(got["tokens"], 1e-9) / 1000)
                    out[name] = got
                return out

        res = asyncio.run(run())
    figures: dict[str, float] = {"idle_share": round(res.pop("idle")["share"], 4)}
    for name, got in res.items():
        figures[f"{name}_ms"] = round(got["ms"], 4)
        figures[f"{name}_tokens"] = round(got["tokens"], 2)
        figures[f"{name}_items"] = round(got["items"], 1)
        figures[f"{name}_share"] = round(got["share"], 4)
        figures[f"{name}_bought"] = round(got["bought"], 4)
        figures[f"{name}_failed"] = got["failed"]
    return figures


def main() -> None:
    args = measure_args(__doc__ or "", 2, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    keys = [f"{k}_{f}" for k in KINDS for f in ("ms", "tokens", "bought")]
    head = {"held": HELD, "cancelled": CANCELLED, "pace": PACE, "seconds": SECONDS, "kinds": KINDS}
    print_ab(head, runs, keys)


if __name__ == "__main__":
    main()
