#!/usr/bin/env python3
"""settle74: how wide the window of ``NonceLane._same_chain`` is, the last check before a
settlement's first send that the chain behind the URL is the one it was signed for.

That check asks the chain nothing: it compares the watcher's view (``Watcher.chain_view``:
the deployment block's hash and the resets begun) noted at signing with the view at the
send. A chain replaced behind the URL is seen only once the watcher has polled it and
judged the reset, so the window is from the replacement to that judgement. Measured on
real Hardhat chains (resend67's pair: the same chain id and addresses, other block hashes)
behind a loopback proxy that switches from the old to the new one while a real node settles
a match every ``PACE`` s, one a transaction (``max_batch`` 1): ``detect_ms``, from the switch
to the watcher's view moving; ``old_sends_to_new``, the node's sends that reached the new
chain signed for the old one (queued with the old view: ``NonceLane.broadcast_after``);
``landed_on_new``, how many of those the new chain mined (Hardhat's automine refuses a
nonce other than its count: "nonce too high"); ``last_old_send_ms``, the last such send's
arrival after the switch; ``replacements``, settlements the lane signed again at higher
fees (``NonceLane._replace``: an old one pooled on the new chain). One sample a run, each
on fresh chains, this tree against a reference checkout (``--ref-root``, e.g. /work/main),
each side in a process of its own, alternated (``--rounds`` of each).

Run: PYTHONPATH=$PWD .venv/bin/python bench/settle74_send_window.py --ref-root /work/main
(``SDEX_TEST_ENGINE=anvil``: on anvil chains, which keep a nonce ahead of the count pooled).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import measure_args, measured_rounds, print_ab  # noqa: E402

PACE = 0.02
IDLE_WAIT = 180.0
"""Seconds the node may take to settle what is left (an old settlement pooled ahead of the
new chain's count waits for its nonce, or ``RECEIPT_TIMEOUT``)."""
SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")


async def sample() -> dict[str, float]:
    import aiohttp
    from aiohttp import web
    from eth_hash.auto import keccak

    from tests.nodeutil import node_config, running_node, wait_for
    from tests.sends31proxy import serving_posts
    from tests.test_node import ALICE, BOB, E6, E18, ask, bid
    from tests.test_resend67_replaced_chain import replacing

    engine = "anvil" if os.environ.get("SDEX_TEST_ENGINE") == "anvil" else "hardhat"
    old, new, c, _ = replacing(engine)
    stamps: list[tuple[float, str, str]] = []  # (arrival, upstream, raw)
    state: dict[str, Any] = {"upstream": old.node.url}
    session = aiohttp.ClientSession()
    signed_old: set[str] = set()

    def hash_of(raw: str) -> str:
        return "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        up = state["upstream"]
        for call in msg if isinstance(msg, list) else [msg]:
            if isinstance(call, dict) and call.get("method") in SENDS:
                stamps.append((time.perf_counter(), up, str(call["params"][0])))
        async with session.post(up, json=msg) as r:
            body = await r.read()
        return web.Response(body=body, content_type="application/json")

    try:
        async with serving_posts(handle) as url:
            with tempfile.TemporaryDirectory() as tmp:
                cfg = node_config(c, Path(tmp) / "n.db", rpc=url, new_heads=False, max_batch=1)
                async with running_node(cfg) as (node, api):
                    stop = asyncio.Event()

                    async def stream() -> None:
                        k = 0
                        while not stop.is_set():
                            base = E18 // 100 + k
                            k += 1
                            price = 3000 * base // E18 * E6
                            await api.post_order(c.sign(ask(c, ALICE, base, price)))
                            await api.post_order(c.sign(bid(c, BOB, base, price)), "ioc")
                            await asyncio.sleep(PACE)

                    lane = node.settler
                    queue = lane.broadcast_after

                    def noted(recorded: Any, signed: Any, times: Any) -> Any:
                        if lane.async_sends.viewed() == view:  # (signed for the old chain)
                            signed_old.add(signed.tx_hash.lower())
                        return queue(recorded, signed, times)

                    view = node.watcher.chain_view()
                    lane.broadcast_after = noted  # type: ignore[method-assign]
                    streaming = asyncio.create_task(stream())
                    await wait_for(lambda: node.settler.settled >= 10, timeout=60)
                    switched = time.perf_counter()
                    state["upstream"] = new.node.url
                    while node.watcher.chain_view() == view:  # (1 ms steps: the time it moved)
                        if time.perf_counter() - switched > 60:
                            raise TimeoutError("no reset seen in 60 s")
                        await asyncio.sleep(0.001)
                    moved = time.perf_counter()
                    await asyncio.sleep(1.0)
                    stop.set()
                    await streaming
                    await wait_for(lambda: node.settler.idle.is_set(), timeout=IDLE_WAIT)
                    replaced = node.settler.replaced
    finally:
        await session.close()
        try:
            olds = [
                (t, hash_of(raw)) for t, up, raw in stamps
                if up == new.node.url and hash_of(raw) in signed_old
            ]  # fmt: skip
            landed = sum(new.rpc.call("eth_getTransactionReceipt", h) is not None for _, h in olds)
        finally:
            old.stop()
            new.stop()
    return {
        "detect_ms": (moved - switched) * 1e3,
        "old_sends_to_new": len(olds),
        "landed_on_new": landed,
        "last_old_send_ms": max(((t - switched) * 1e3 for t, _ in olds), default=0.0),
        "replacements": replaced,
    }


def measure() -> dict[str, float]:
    return asyncio.run(sample())


def main() -> None:
    args = measure_args(__doc__ or "", 4, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    keys = ["detect_ms", "last_old_send_ms"]  # (the counts may be 0 on either side)
    print_ab({"pace_s": PACE}, runs, keys)


if __name__ == "__main__":
    main()
