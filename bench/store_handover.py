"""CPU per stored peer order: ``Store.add_order_async`` waited (the row handed to the writer
thread at the end of its loop turn, its commit resolving a future on the loop: how main
stored a peer's order) against ``waited=False`` (nobody waits: the row joins a group within
``sdex.sqlwriter.LAZY_HANDOVER``, and its commit wakes nobody), in the same run.

Rows arrive paced at ``--rate`` per second, as a gossiping node's peers' orders do, for
``--seconds`` each; the process's CPU (the loop, the writer thread, SQLite) per row,
alternating the two ways for ``--rounds`` rounds on one database. The pacing timer's
wake-up is in both figures (and measured alone: ``pacing_only``). Prints JSON.

``--wakes``: instead, waited rows at ``--rate`` (the writer idle between them, as at a
settlement load's pace): per round the loop's wall time in each hand-over to the writer
(``Writer._hand_over_locked``: p50, p99, mean), each row's queue-to-commit latency (p50,
p99) and the CPU a row. (writer21 compared wakes of the idle writer with and without the GIL
this way; on a tree with ``Writer._wake`` (its commit 73e42f7) both are run, alternated.)
``--wake-cost N``: what one such wake costs the thread that makes it, alone (a
``SimpleQueue.put`` to a thread asleep in ``get``).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sdex.order as od  # noqa: E402
from sdex.store import ChainIdentity, Store  # noqa: E402

KEY = (7).to_bytes(32, "big")
DOMAIN = od.Domain(31337, "0x" + "ab" * 20)


def orders(n: int) -> list[od.SignedOrder]:
    maker, zero = od.address_of(KEY), od.ZERO_ADDRESS
    return [
        od.sign_order(
            od.Order(maker, zero, "0x" + "01" * 20, "0x" + "02" * 20, 10**18 + i, 3 * 10**9,
                     zero, 0, 2**40, od.random_salt()),
            DOMAIN,
            KEY,
        )
        for i in range(n)
    ]  # fmt: skip


async def paced(
    store: Store, batch: list[od.SignedOrder], rate: float, how: str, seq: int
) -> float:
    """CPU µs per row, ``batch`` stored at ``rate`` per second (then 0.3 s to commit);
    ``how``: ``waited``, ``unwaited`` (``waited=False``) or ``none`` (pacing only)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i, so in enumerate(batch):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        if how != "none":
            store.add_order_async(so, seq + i, "open", "peer:bench", waited=how == "waited")
    await asyncio.sleep(0.3)
    return (time.process_time() - c0) / len(batch) * 1e6


async def run(rates: list[float], seconds: float, rounds: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as d:
        identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "00" * 32)
        store = Store(Path(d) / "bench.db", identity, DOMAIN)
        seq = 1
        try:
            for r in range(rounds):
                for rate in rates:
                    n = int(rate * seconds)
                    waited = await paced(store, orders(n), rate, "waited", seq)
                    lazy = await paced(store, orders(n), rate, "unwaited", seq + n)
                    pacing = await paced(store, orders(n), rate, "none", 0)
                    seq += 2 * n
                    out.append(
                        {
                            "round": r + 1,
                            "rate_per_s": rate,
                            "rows": n,
                            "waited_cpu_us_per_row": round(waited),
                            "unwaited_cpu_us_per_row": round(lazy),
                            "ratio_unwaited_over_waited": round(lazy / waited, 3),
                            "pacing_only_cpu_us_per_row": round(pacing),
                        }
                    )
        finally:
            store.close()
    return out


def gil_held_wake(fd: int) -> Callable[[], object]:
    """A wake of the store's writer (its eventfd's or pipe's write) that keeps the GIL
    through the system call, as ``SimpleQueue.put``'s did."""
    write = ctypes.PyDLL(None).write  # (a PyDLL's functions run holding the GIL)
    one = (1).to_bytes(8, sys.byteorder)
    return lambda: write(fd, one, 8)


def _done(lat: list[float], t: float, _: object) -> None:
    lat.append(time.perf_counter() - t)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def wake_round(store: Store, batch: list[od.SignedOrder], rate: float, seq: int
                     ) -> dict[str, float]:  # fmt: skip
    """Waited rows at ``rate``: the hand-overs' wall time, queue-to-commit, CPU a row."""
    w = store._writer
    spans: list[float] = []
    inner = w._hand_over_locked

    def timed() -> None:
        t = time.perf_counter()
        inner()
        spans.append(time.perf_counter() - t)

    w._hand_over_locked = timed  # type: ignore[method-assign]
    lat: list[float] = []
    futs = []
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        for i, so in enumerate(batch):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            t = time.perf_counter()
            fut = store.add_order_async(so, seq + i, "open", "peer:bench")
            assert fut is not None
            fut.add_done_callback(partial(_done, lat, t))
            futs.append(fut)
        await asyncio.wait_for(asyncio.gather(*futs), 30)
    finally:
        del w._hand_over_locked
    cpu = (time.process_time() - c0) / len(batch) * 1e6
    return {
        "handover_p50_us": round(statistics.median(spans) * 1e6, 1),
        "handover_p99_us": round(_pct(spans, 0.99) * 1e6, 1),
        "handover_mean_us": round(statistics.fmean(spans) * 1e6, 1),
        "commit_p50_ms": round(statistics.median(lat) * 1e3, 3),
        "commit_p99_ms": round(_pct(lat, 0.99) * 1e3, 3),
        "cpu_us_per_row": round(cpu),
    }


async def wakes(rate: float, seconds: float, rounds: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as d:
        identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "00" * 32)
        store = Store(Path(d) / "bench.db", identity, DOMAIN)
        w = store._writer
        ways: tuple[tuple[str, Any], ...] = (("queue", None),)  # (SimpleQueue: main's writer)
        if hasattr(w, "_wake"):
            ways = (("free", w._wake), ("gil", gil_held_wake(w._fds[-1])))  # type: ignore[attr-defined]
        n, seq = int(rate * seconds), 1
        try:
            for r in range(rounds):
                for name, wake in ways[:: 1 if r % 2 else -1]:
                    if wake is not None:
                        w._wake = wake  # type: ignore[attr-defined]
                    fig = await wake_round(store, orders(n), rate, seq)
                    seq += n
                    out.append({"round": r + 1, "wake": name, "rate_per_s": rate, **fig})
        finally:
            if ways[0][1] is not None:
                w._wake = ways[0][1]  # type: ignore[attr-defined]
            store.close()
    return out


def wake_cost(n: int) -> dict[str, float]:
    """Wall µs of a ``SimpleQueue.put`` on the putting thread when it wakes a getter asleep in
    ``get`` (the writer's idle hand-over) against a list append (no wake), ``n`` times."""
    q: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back = threading.Event()

    def getter() -> None:
        while q.get() is not None:
            back.set()

    t = threading.Thread(target=getter)
    t.start()
    waking: list[float] = []
    plain: list[float] = []
    for _ in range(n):
        while not back.is_set() and waking:  # (the getter took the last one)
            back.wait(5)
        back.clear()
        time.sleep(0.002)  # (pacing: the getter is asleep in get() again)
        t0 = time.perf_counter()
        q.put(1)
        waking.append(time.perf_counter() - t0)
        lst: list[int] = []
        t0 = time.perf_counter()
        lst.append(1)
        plain.append(time.perf_counter() - t0)
    q.put(None)
    t.join(5)
    return {
        "put_waking_p50_us": round(statistics.median(waking) * 1e6, 1),
        "put_waking_p90_us": round(_pct(waking, 0.9) * 1e6, 1),
        "put_waking_p99_us": round(_pct(waking, 0.99) * 1e6, 1),
        "put_waking_mean_us": round(statistics.fmean(waking) * 1e6, 1),
        "append_p50_us": round(statistics.median(plain) * 1e6, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, nargs="+", default=[20.0, 100.0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--wakes", action="store_true", help="free vs GIL-held wakes (writer21)")
    ap.add_argument("--wake-cost", type=int, metavar="N", help="N idle-thread wakes, timed")
    args = ap.parse_args()
    if args.wake_cost:
        print(json.dumps({**wake_cost(args.wake_cost), "load_average": os.getloadavg()}))
        return
    if args.wakes:
        got = asyncio.run(wakes(args.rate[0], args.seconds, args.rounds))
        print(json.dumps({"runs": got, "load_average": os.getloadavg()}, indent=2))
        return
    runs = asyncio.run(run(args.rate, args.seconds, args.rounds))
    print(json.dumps({"runs": runs, "load_average": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
