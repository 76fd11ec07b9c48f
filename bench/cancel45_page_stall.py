#!/usr/bin/env python3
"""The event loop's longest stall while a node takes a hostile seed's ``/p2p/cancelled`` page.

A page of ``PAGE`` valid entries (fresh makers' soft-cancelled asks, both signatures theirs:
what a hostile seed makes for free), handed to a node on a devnet as its gossip hands it:
this tree's ``take_cancelled_many`` (awaited), or the reference tree's (main before
cancel45) ``take_cancelled`` of each entry in one loop callback (``Gossip._run`` of the
page's ``Deliver`` actions). Meanwhile a task steps once a loop turn (``sleep(0)``): the
longest gap between its steps is the longest stall another request saw. Figures per page:
``stall_ms`` (that gap, wall time: on a loaded machine it includes the loop's thread waiting
for a core), ``turn_cpu_ms`` (the loop thread's CPU in its longest turn: the work a turn
did, whatever the machine's load), ``page_ms`` (the page's wall time), ``loop_cpu_ms`` (the loop
thread's CPU for it). Each side in a process of its own, ``--rounds`` rounds alternated;
medians of ``PAGES`` pages a round; then [median, min, max] of the rounds.

Run: PYTHONPATH=$PWD .venv/bin/python bench/cancel45_page_stall.py --ref-root /work/main
"""

from __future__ import annotations

import sys
from pathlib import Path

import sdex  # noqa: F401  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncio
import os
import statistics
import time

from http_modes import devnet_node

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.node.main import serve
from sdex.order import ZERO_ADDRESS, Domain, Order, address_of, random_salt, sign_order
from sdex.wallet import sign_cancel

PAGE = 500
"""Entries a page (``/p2p/cancelled`` answers at most 500)."""
PAGES = 4
PEER = "0x" + "ab" * 20


def entries(domain: Domain, weth: str, usdc: str, expiry: int) -> list[dict[str, str]]:
    out = []
    for _ in range(PAGE):
        key = os.urandom(32)
        o = Order(address_of(key), ZERO_ADDRESS, weth, usdc, 10**18, 1000 * 10**6,
                  ZERO_ADDRESS, 0, expiry, random_salt())  # fmt: skip
        signed = sign_order(o, domain, key)
        sig = sign_cancel(domain, signed.hash, key)
        out.append({**signed.to_json(), "cancelSignature": "0x" + sig.hex()})
    return out


async def take(node: Node, page: list[dict[str, str]]) -> None:
    many = getattr(node, "take_cancelled_many", None)
    if many is not None:
        got = await many(page, PEER)
        assert got.count("accepted") == len(page), set(got)
        return
    done = asyncio.get_running_loop().create_future()

    def run() -> None:  # (the reference: ``Gossip._run`` of the page's Deliver actions)
        for e in page:
            node.take_cancelled(e, PEER)
        done.set_result(None)

    asyncio.get_running_loop().call_soon(run)
    await done


async def one_page(node: Node, page: list[dict[str, str]]) -> dict[str, float]:
    stop = False
    gaps = [0.0, 0.0]

    async def ticker() -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while not stop:
            await asyncio.sleep(0)
            now, cpu = time.perf_counter(), time.thread_time()
            gaps[0], last = max(gaps[0], now - last), now
            gaps[1], last_cpu = max(gaps[1], cpu - last_cpu), cpu

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    t0, c0 = time.perf_counter(), time.thread_time()
    await take(node, page)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    stop = True
    await tick
    return {"stall_ms": gaps[0] * 1e3, "turn_cpu_ms": gaps[1] * 1e3, "page_ms": wall * 1e3,
            "loop_cpu_ms": cpu * 1e3}  # fmt: skip


async def pages(cfg: NodeConfig, made: list[list[dict[str, str]]]) -> list[dict[str, float]]:
    async with serve(cfg) as node:
        out = []
        for page in made:
            out.append(await one_page(node, page))
            await asyncio.sleep(0.3)  # (the lazy store hand-over between pages)
        return out


def measure() -> dict[str, float]:
    with devnet_node("sdex-c45-") as (_, signer, cfg):
        made = [
            entries(signer.domain, signer.weth, signer.usdc, signer.expiry) for _ in range(PAGES)
        ]
        got = asyncio.run(pages(cfg, made))
    return {k: round(statistics.median(g[k] for g in got), 2) for k in got[0]}


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print_ab({"page": PAGE, "pagesPerRound": PAGES}, runs, ("stall_ms", "turn_cpu_ms"))


if __name__ == "__main__":
    main()
