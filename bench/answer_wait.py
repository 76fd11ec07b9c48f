#!/usr/bin/env python3
"""http17's two cuts on a wallet order's path timed alone against what they replaced,
alternated in one process (thread CPU per order, us; prints JSON): the 201's encoding
(``NodeViews._submit_text`` against ``dumps_bytes`` of the dict) and the wait for the
order's own row (``CommitWaits.bound`` + awaiting the store's future, against
``committed``: a future, a done-callback and a timer each), 48 waits in flight, each
future resolved a loop turn later as the store's writer does."""

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sdex.jsonio import dumps_bytes
from sdex.model import OrderStatus
from sdex.node.commitwait import CommitWaits, committed
from sdex.node.views import NodeViews

h = "0x" + "ab" * 32
meta = {
    "orderHash": h,
    "status": OrderStatus.OPEN,
    "filledMakerAmount": "0",
    "pendingMakerAmount": "0",
    "remainingFillableMakerAmount": "1000000000000000000",
    "remainingMakerAmount": "1000000000000000000",
    "createdAt": 1764800000.123456,
    "source": "api",
    "reason": "",
}
body = {
    "orderHash": h,
    "status": OrderStatus.OPEN,
    "metaData": meta,
    "outcome": "rested",
    "matches": [],
}
assert NodeViews._submit_text(body).encode("ascii") == dumps_bytes(body)


def t_answer(new: bool, n=20000):
    f = (
        (lambda: NodeViews._submit_text(body).encode("ascii"))
        if new
        else (lambda: dumps_bytes(body))
    )
    t = time.thread_time()
    for _ in range(n):
        f()
    return 1e6 * (time.thread_time() - t) / n


async def t_wait(new: bool, n=20000, conc=48):
    loop = asyncio.get_running_loop()
    waits = CommitWaits()

    async def one():
        fut = loop.create_future()
        loop.call_soon(fut.set_result, None)  # (the writer's _resolve, next turn)
        if new:
            waits.bound(fut, 10.0)
            await fut
        else:
            await committed([fut], 10.0)

    async def worker(k):
        for _ in range(k):
            await one()

    t = time.thread_time()
    await asyncio.gather(*(worker(n // conc) for _ in range(conc)))
    return 1e6 * (time.thread_time() - t) / (n // conc * conc)


res = {"answer_new": [], "answer_main": [], "wait_new": [], "wait_main": []}
for r in range(7):
    for new in (True, False) if r % 2 else (False, True):
        res["answer_new" if new else "answer_main"].append(t_answer(new))
        res["wait_new" if new else "wait_main"].append(asyncio.run(t_wait(new)))
print(json.dumps({k: [round(x, 2) for x in v] for k, v in res.items()}))
print(json.dumps({k: round(statistics.median(v), 2) for k, v in res.items()}))
