#!/usr/bin/env python3
"""The event loop's stall when an order comes on which ``PILE`` kept soft cancels were piled.

A node on a devnet keeps, for one order it does not hold, ``PILE - 1`` fake cancels (each
signed by a key of its own, each passed on by a stranger from a host group of its own: the
bounds allow 20,000) and then its maker's. The order then comes (``cancelled_on_arrival``, a
call on the loop: the whole call is the stall another request sees). Figures: ``arrival_ms``
(its wall time), ``arrival_cpu_ms`` (the loop thread's CPU for it), and the keeping's cost
(``keep_us``: the mean of the ``PILE`` keeps, each on the loop; ``keep_max_ms``, the longest
one): cancel66 moves recoveries past the first few of a hash to keep time. This tree against
the reference (``--ref-root``: main before cancel66, which recovered every kept one as the
order came), each side in a process of its own, ``--rounds`` rounds alternated; then
[median, min, max] of the rounds.

Run: PYTHONPATH=$PWD .venv/bin/python bench/cancel66_kept_pile.py --ref-root /work/main
"""

from __future__ import annotations

import sys
from pathlib import Path

import sdex  # noqa: F401  (first: bench/node.py puts its own checkout on the path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncio
import os
import time

from http_modes import devnet_node

from bench.benchlib import measure_args, measured_rounds, print_ab
from sdex.gossip import NodeKey
from sdex.node.config import NodeConfig
from sdex.node.main import serve
from sdex.order import ZERO_ADDRESS, Order, address_of, random_salt, sign_order
from sdex.wallet import sign_cancel

PILE = 20_000
"""Cancels kept for the one hash (``sdex.node.orphans.TOTAL``: all the room there is)."""


async def pile(cfg: NodeConfig, order: Order, key: bytes) -> dict[str, float]:
    async with serve(cfg) as node:
        signed = sign_order(order, node.domain, key)
        notices = []
        for _ in range(PILE - 1):
            sig = sign_cancel(node.domain, signed.hash, os.urandom(32))
            notices.append({"orderHash": signed.hash_hex, "signature": "0x" + sig.hex()})
        real = sign_cancel(node.domain, signed.hash, key)
        notices.append({"orderHash": signed.hash_hex, "signature": "0x" + real.hex()})
        senders = [NodeKey.generate().node_id for _ in notices]
        longest, t0 = 0.0, time.perf_counter()
        for i, (n, sender) in enumerate(zip(notices, senders, strict=True)):
            t = time.perf_counter()
            result = node.cancel_notice(n, sender, f"10.{i // 256}.{i % 256}.1")
            longest = max(longest, time.perf_counter() - t)
            assert result.status == 202, result
        keep_s = time.perf_counter() - t0
        assert len(node.orphan_cancels) == PILE
        t, c = time.perf_counter(), time.thread_time()
        assert node.cancelled_on_arrival(signed, 0, "api")
        wall, cpu = time.perf_counter() - t, time.thread_time() - c
        await asyncio.wrap_future(node.store._writer.submit(lambda db: None))  # (all written)
        return {"arrival_ms": wall * 1e3, "arrival_cpu_ms": cpu * 1e3,
                "keep_us": keep_s / PILE * 1e6, "keep_max_ms": longest * 1e3}  # fmt: skip


def measure() -> dict[str, float]:
    with devnet_node("sdex-c66-") as (_, signer, cfg):
        key = signer.keys[0]
        order = Order(address_of(key), ZERO_ADDRESS, signer.weth, signer.usdc, 10**18,
                      1000 * 10**6, ZERO_ADDRESS, 0, signer.expiry, random_salt())  # fmt: skip
        got = asyncio.run(pile(cfg, order, key))
    return {k: round(v, 2) for k, v in got.items()}


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print_ab({"pile": PILE}, runs, ("arrival_ms", "arrival_cpu_ms", "keep_us"))


if __name__ == "__main__":
    main()
