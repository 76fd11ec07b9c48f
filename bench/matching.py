"""The order book and matching engine beside a bare reference book, on the same operations.

Two workloads on one pair, each a fixed sequence of operations built up front (seeded) and
run in the same process on both books, fresh ones each run:

- ``project``: 100,000 resting orders (asks 1..500 ticks above the mid, bids 1..500 below,
  1,000 levels of about 100 orders), then: ``add`` (55%) a GTC order on its own side of the
  mid; ``cancel`` (25%) a random order of those added; ``cross`` (20%) an IOC order priced
  two ticks through the opposite best price.
- ``crossing``: 20,000 resting orders within 50 ticks of the mid, then: ``cancel`` (15%) a
  random order; ``add`` (85%) a GTC order 10 ticks either side of a mid that drifts, so
  about half of them cross and trade.

Both with 1,000 makers, every maker's funds set (explicit, sufficient), so the shared-funds
bookkeeping runs on every change. Amounts have token decimals (base 18, quote 6) and prices
are exact rationals; ticks are 0.01 quote per base. Every match the engine proposes is
``confirm``\\ ed at once (pending -> filled), as the settlement's receipt would: the
reference fills at once too. Ours: ``submit(signed, NOW)``, then ``MatchingEngine.confirm(m)``
for each match of its result, one call per match as the node makes them (``sdex.node.settle``
confirms each settled match with its own bookkeeping around it); ``--confirm batch`` calls
``MatchingEngine.confirm_all`` on the result's matches instead (one compiled loop, a call the
node does not make: it flatters ours). Both called as the engine's API allows from Python
without keyword parsing. Order hashes are synthetic unique ids.

The reference (``RefBook``) is what a bare book is: a ``SortedDict`` of integer tick ->
``deque`` of ``[lots, id]`` per side, no funds, no exactness, no fill state beyond the lots
left, cancel by ``deque.remove``. It and ours get the same operations in lockstep by
chunks of 1,000 (a chunk on one, then on the other, alternating which goes first), with the
same per-operation clock (``perf_counter``) around each call, so that the load of the
shared machine falls on both alike; the cyclic GC is off. ``ours / reference`` is the ratio
of operations per second (> 1: ours is faster).

Memory: bytes allocated (``tracemalloc``) by each book holding the ``project`` resting
orders, the order objects themselves (which the node holds anyway) built before and counted
apart.

Prints JSON; ``--write docs/BENCHMARKS.md`` also replaces the matching section there, with
the figures of an earlier run (its printed JSON, say of main before a change) beside this
one's if ``--before FILE`` names it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sortedcontainers import SortedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine_line, write_section  # noqa: E402

from sdex.book import OrderBook, RemovalReason, native  # noqa: E402
from sdex.matching import MatchingEngine, TimeInForce  # noqa: E402
from sdex.order import ZERO_ADDRESS, Order, SignedOrder  # noqa: E402

BASE = "0x" + "c0" * 20  # an 18-decimal token
QUOTE = "0x" + "a0" * 20  # a 6-decimal token
MID = 200_000  # ticks of 0.01 quote per base: 2,000.00
LOT = 10**15  # 0.001 base
NOW = 1_700_000_000
SIGNATURE = bytes(65)
MAKERS = ["0x" + f"{i + 1:040x}" for i in range(1000)]

ADD, CROSS, CANCEL = 0, 1, 2
KINDS = ("add", "cross", "cancel")
CHUNK = 1000  # operations run on one book before the same ones run on the other


@dataclass(slots=True)
class Op:
    kind: int  # ADD (GTC), CROSS (IOC) or CANCEL
    bid: bool
    tick: int
    lots: int
    oid: int  # the order's id (CANCEL: the id of the order to cancel)
    signed: SignedOrder | None


class Orders:
    """Signed orders for the workloads, deterministic for a seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def make(self, bid: bool, tick: int, lots: int) -> tuple[int, SignedOrder]:
        self.n += 1
        maker = MAKERS[self.rng.randrange(len(MAKERS))]
        base = lots * LOT
        quote = lots * tick * 10  # lots * 1e15 wei * tick/100 quote/base * 1e6 / 1e18
        if bid:
            sell, buy, m, t = QUOTE, BASE, quote, base
        else:
            sell, buy, m, t = BASE, QUOTE, base, quote
        order = Order(maker, ZERO_ADDRESS, sell, buy, m, t, ZERO_ADDRESS, 0, NOW + 86_400, self.n)
        digest = (self.n * 0x9E3779B97F4A7C15F39CC0605CEDC834).to_bytes(32, "big")
        return self.n, SignedOrder(order, SIGNATURE, digest)


# ---- the bare reference book -----------------------------------------------------------------


class RefBook:
    """Price-time priority with integer ticks and lots; nothing else."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()  # -tick -> deque of [lots, id]
        self.asks: SortedDict = SortedDict()  # tick -> deque of [lots, id]
        self.orders: dict[int, tuple[SortedDict, int, list[int]]] = {}

    def add(self, oid: int, bid: bool, tick: int, lots: int, ioc: bool) -> int:
        """Match, then rest what is left (unless ``ioc``); returns the number of fills."""
        fills = 0
        opp = self.asks if bid else self.bids
        limit = tick if bid else -tick
        orders = self.orders
        while lots and opp:
            key, level = opp.peekitem(0)
            if key > limit:
                break
            while lots and level:
                head = level[0]
                take = head[0] if head[0] < lots else lots
                head[0] -= take
                lots -= take
                fills += 1
                if not head[0]:
                    level.popleft()
                    del orders[head[1]]
            if not level:
                del opp[key]
        if lots and not ioc:
            own = self.bids if bid else self.asks
            key = -tick if bid else tick
            level = own.get(key)
            if level is None:
                level = own[key] = deque()
            entry = [lots, oid]
            level.append(entry)
            orders[oid] = (own, key, entry)
        return fills

    def cancel(self, oid: int) -> None:
        side, key, entry = self.orders.pop(oid)
        level = side[key]
        level.remove(entry)
        if not level:
            del side[key]

    def best(self, bid: bool) -> int | None:
        side = self.bids if bid else self.asks
        if not side:
            return None
        key = side.peekitem(0)[0]
        return -key if bid else key


# ---- workloads -------------------------------------------------------------------------------


def project_workload(n_resting: int, n_ops: int, seed: int) -> tuple[list[Op], list[Op]]:
    rng = random.Random(seed)
    orders = Orders(rng)
    ref = RefBook()  # follows the workload as it is built: the cross prices need the best
    resting: list[Op] = []
    for _ in range(n_resting):
        bid = rng.random() < 0.5
        tick = MID - rng.randint(1, 500) if bid else MID + rng.randint(1, 500)
        lots = rng.randint(1, 100)
        oid, signed = orders.make(bid, tick, lots)
        resting.append(Op(ADD, bid, tick, lots, oid, signed))
        ref.add(oid, bid, tick, lots, False)
    ids = [op.oid for op in resting]
    ops: list[Op] = []
    for _ in range(n_ops):
        r = rng.random()
        if r < 0.55:
            bid = rng.random() < 0.5
            tick = MID - rng.randint(1, 500) if bid else MID + rng.randint(1, 500)
            best = ref.best(not bid)  # keep it on its own side of the book
            if best is not None and (tick >= best if bid else tick <= best):
                tick = best - 1 if bid else best + 1
            lots = rng.randint(1, 100)
            oid, signed = orders.make(bid, tick, lots)
            ops.append(Op(ADD, bid, tick, lots, oid, signed))
            ref.add(oid, bid, tick, lots, False)
            ids.append(oid)
        elif r < 0.80:
            oid = _pick_live(rng, ids, ref)
            if oid is not None:
                ops.append(Op(CANCEL, False, 0, 0, oid, None))
                ref.cancel(oid)
        else:
            bid = rng.random() < 0.5
            best = ref.best(not bid)
            if best is None:
                continue
            tick = best + 2 if bid else best - 2
            lots = rng.randint(1, 150)
            oid, signed = orders.make(bid, tick, lots)
            ops.append(Op(CROSS, bid, tick, lots, oid, signed))
            ref.add(oid, bid, tick, lots, True)
    return resting, ops


def crossing_workload(n_resting: int, n_ops: int, seed: int) -> tuple[list[Op], list[Op]]:
    rng = random.Random(seed)
    orders = Orders(rng)
    ref = RefBook()
    resting: list[Op] = []
    for _ in range(n_resting):
        bid = rng.random() < 0.5
        tick = MID - rng.randint(1, 50) if bid else MID + rng.randint(1, 50)
        lots = rng.randint(1, 100)
        oid, signed = orders.make(bid, tick, lots)
        resting.append(Op(ADD, bid, tick, lots, oid, signed))
        ref.add(oid, bid, tick, lots, False)
    ids = [op.oid for op in resting]
    mid = MID
    ops: list[Op] = []
    for _ in range(n_ops):
        if rng.random() < 0.15:
            oid = _pick_live(rng, ids, ref)
            if oid is not None:
                ops.append(Op(CANCEL, False, 0, 0, oid, None))
                ref.cancel(oid)
            continue
        mid += rng.choice((-1, 0, 0, 1))
        bid = rng.random() < 0.5
        tick = mid + rng.randint(-10, 10)
        lots = rng.randint(1, 100)
        oid, signed = orders.make(bid, tick, lots)
        ops.append(Op(ADD, bid, tick, lots, oid, signed))
        ref.add(oid, bid, tick, lots, False)
        ids.append(oid)
    return resting, ops


def _pick_live(rng: random.Random, ids: list[int], ref: RefBook) -> int | None:
    while ids:
        i = rng.randrange(len(ids))
        oid = ids[i]
        ids[i] = ids[-1]
        ids.pop()
        if oid in ref.orders:
            return oid
    return None


# ---- running both books ------------------------------------------------------------------------


Step = Callable[[Op], tuple[float, int]]
"""One operation on one book: its seconds (``perf_counter`` around the call) and fills."""


def ours(resting: list[Op], batch: bool = False) -> tuple[OrderBook, Step]:
    """Our book and engine on ``resting``; ``batch``: confirm a result's matches with one
    ``confirm_all`` call, not one ``confirm`` call each (as the node)."""
    book = OrderBook([(BASE, QUOTE)])
    for maker in MAKERS:
        book.set_funds(maker, BASE, 10**30)
        book.set_funds(maker, QUOTE, 10**30)
    engine = MatchingEngine(book)
    submit = engine.submit
    confirm = engine.confirm
    confirm_all = engine.confirm_all
    for op in resting:
        assert op.signed is not None
        for m in submit(op.signed, now=NOW).matches:
            confirm(m)
    hashes = {op.oid: op.signed.hash for op in resting if op.signed is not None}
    ioc = TimeInForce.IOC
    cancelled = RemovalReason.CANCELLED
    remove = book.remove
    clock = time.perf_counter

    def step(op: Op) -> tuple[float, int]:
        kind = op.kind
        if kind == CANCEL:
            h = hashes[op.oid]
            t = clock()
            if h in book:
                remove(h, cancelled)
            return clock() - t, 0
        signed = op.signed
        assert signed is not None
        hashes[op.oid] = signed.hash
        t = clock()
        result = submit(signed, NOW) if kind == ADD else submit(signed, NOW, ioc)
        matches = result.matches
        if not batch:
            for m in matches:
                confirm(m)
        elif matches:
            confirm_all(matches)
        return clock() - t, len(matches)

    return book, step


def reference(resting: list[Op]) -> tuple[RefBook, Step]:
    ref = RefBook()
    for op in resting:
        ref.add(op.oid, op.bid, op.tick, op.lots, False)
    add = ref.add
    cancel = ref.cancel
    orders = ref.orders
    clock = time.perf_counter

    def step(op: Op) -> tuple[float, int]:
        if op.kind == CANCEL:
            oid = op.oid
            t = clock()
            if oid in orders:
                cancel(oid)
            return clock() - t, 0
        t = clock()
        n = add(op.oid, op.bid, op.tick, op.lots, op.kind == CROSS)
        return clock() - t, n

    return ref, step


def timed(
    resting: list[Op], ops: list[Op], batch: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fresh books, the operations run on both in lockstep by chunks of ``CHUNK``: a chunk on
    one book, then the same chunk on the other (which goes first alternates). The shared
    machine's load, which moves over seconds, then falls on both alike, while each book
    keeps its own working set warm in the caches within a chunk (operation by operation,
    ours would evict the reference's). Returns our figures and the reference's."""
    gc.collect()
    _, a = ours(resting, batch)
    _, b = reference(resting)
    spent = ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    fills = [0, 0]
    count = [0, 0, 0]
    for op in ops:
        count[op.kind] += 1
    gc.disable()  # a long-lived heap of small objects: the cyclic GC only adds noise here
    try:
        for c, start in enumerate(range(0, len(ops), CHUNK)):
            chunk = ops[start : start + CHUNK]
            for k in (1, 0) if c & 1 else (0, 1):
                step = b if k else a
                sp = spent[k]
                f = 0
                for op in chunk:
                    dt, n = step(op)
                    sp[op.kind] += dt
                    f += n
                fills[k] += f
    finally:
        gc.enable()
    return _figures(spent[0], count, fills[0]), _figures(spent[1], count, fills[1])


def _figures(spent: list[float], count: list[int], fills: int) -> dict[str, Any]:
    total = sum(spent)
    out: dict[str, Any] = {
        "ops_per_s": round(sum(count) / total),
        "seconds": round(total, 3),
        "fills": fills,
    }
    for k, name in enumerate(KINDS):
        if count[k]:
            out[f"{name}_per_s"] = round(count[k] / spent[k])
    book_ops = count[ADD] + count[CANCEL]
    out["add_cancel_per_s"] = round(book_ops / (spent[ADD] + spent[CANCEL]))
    out["counts"] = dict(zip(KINDS, count, strict=True))
    return out


def compare(
    name: str, resting: list[Op], ops: list[Op], repeat: int, batch: bool = False
) -> dict[str, Any]:
    """Run both books ``repeat`` times in lockstep; keep each one's fastest run."""
    best_ours: dict[str, Any] | None = None
    best_ref: dict[str, Any] | None = None
    for _ in range(repeat):
        o, r = timed(resting, ops, batch)
        if best_ours is None or o["ops_per_s"] > best_ours["ops_per_s"]:
            best_ours = o
        if best_ref is None or r["ops_per_s"] > best_ref["ops_per_s"]:
            best_ref = r
    assert best_ours is not None and best_ref is not None
    return {
        "workload": name,
        "resting_orders": len(resting),
        "operations": len(ops),
        "ours_ops_per_s": best_ours["ops_per_s"],
        "reference_ops_per_s": best_ref["ops_per_s"],
        "ratio": round(best_ours["ops_per_s"] / best_ref["ops_per_s"], 3),
        "ours": best_ours,
        "reference": best_ref,
    }


def memory(resting: list[Op]) -> dict[str, int]:
    """Bytes per resting order: each book's own, and the order objects' (built before)."""
    n = len(resting)
    out: dict[str, int] = {}
    for name, make in (("ours", ours), ("reference", reference)):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        book, _ = make(resting)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        out[f"{name}_bytes_per_order"] = (after - before) // n
        del book
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    orders = Orders(random.Random(0))
    made = [orders.make(i % 2 == 0, MID + 1 + i % 500, 1 + i % 100)[1] for i in range(n)]
    out["signed_order_bytes"] = (tracemalloc.get_traced_memory()[0] - before) // n
    tracemalloc.stop()
    del made
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=300_000, help="operations per workload")
    ap.add_argument("--resting", type=int, default=100_000, help="resting orders (project)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs; the fastest is reported")
    ap.add_argument(
        "--confirm",
        choices=("each", "batch"),
        default="each",
        help="each: one confirm call per match, as the node; batch: one confirm_all per result",
    )
    ap.add_argument("--write", type=Path, help="update the matching section of this markdown")
    ap.add_argument("--before", type=Path, help="JSON printed by an earlier run, to show beside")
    args = ap.parse_args()
    before = json.loads(args.before.read_text()) if args.before else None
    load_before = os.getloadavg()[0]
    batch = args.confirm == "batch"
    project = compare(
        "project", *project_workload(args.resting, args.ops, args.seed), args.repeat, batch
    )
    crossing = compare(
        "crossing", *crossing_workload(20_000, args.ops, args.seed), args.repeat, batch
    )
    mem = memory(project_workload(args.resting, 0, args.seed)[0])
    result = {"project": project, "crossing": crossing, "memory": mem, "confirm": args.confirm}
    result["compiled"] = native.ACTIVE  # mypyc build or Python source (SDEX_PURE=1)
    result["compiled_reason"] = native.REASON
    result["python"] = platform.python_version()
    result["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(result, indent=2))
    if args.write:
        body = _section(args, result, before)
        write_section(args.write, "Matching (bench/matching.py)", body)


def _section(
    args: argparse.Namespace, result: dict[str, Any], before: dict[str, Any] | None
) -> str:
    project, crossing, mem = result["project"], result["crossing"], result["memory"]
    load = result["load_average_1min"]
    code = "the mypyc build" if result["compiled"] else "the Python source (SDEX_PURE=1)"
    p, c = project["ours"], crossing["ours"]
    rows = [
        ("project workload, all operations", ">= reference", project),
        ("crossing workload, all operations", ">= reference", crossing),
    ]
    table = "".join(
        f"| {label} | {target} | {w['ours_ops_per_s']:,}/s | {w['reference_ops_per_s']:,}/s | "
        f"{w['ratio']:.2f} |\n"
        for label, target, w in rows
    )
    return (
        f"Measured {date.today()} on {machine_line()}, CPython {platform.python_version()}, "
        f"one core, by `bench/matching.py --ops {args.ops} --resting {args.resting} "
        f"--repeat {args.repeat}`, ours running {code} (each book's fastest run; wall clock "
        "per operation; ours "
        "and the bare reference book run the same operations in lockstep, by chunks of 1,000, "
        "in one process).\n\n"
        "| workload | target | ours | reference | ours / reference |\n"
        "| --- | --- | --- | --- | --- |\n" + table + "\n"
        "| figure (ours) | target | measured |\n| --- | --- | --- |\n"
        f"| book operations (add + cancel), project | >= 300,000/s | "
        f"{p['add_cancel_per_s']:,}/s |\n"
        f"| crossing orders (IOC, with the confirm of each match), project | >= 150,000/s | "
        f"{p['cross_per_s']:,}/s |\n"
        f"| orders added (GTC, about half cross), crossing workload | | {c['add_per_s']:,}/s |\n"
        f"| memory per resting order, the book's own | <= 400 bytes | "
        f"{mem['ours_bytes_per_order']:,} bytes (reference: "
        f"{mem['reference_bytes_per_order']:,}) |\n"
        f"| memory per signed order object (held by the node anyway) | | "
        f"{mem['signed_order_bytes']:,} bytes |\n\n"
        "The machine is shared (2 cores, other engineers' test runs; 1-minute load average "
        f"{load[0]} at the start of this run, {load[1]} at its end): absolute figures move by "
        "tens of percent from one run to the next, the ratio much less, since both books run "
        "the same operations in lockstep.\n\n"
        + _NOTE
        + _before_table(before, result)
        + "```json\n"
        + json.dumps({"project": project, "crossing": crossing, "memory": mem}, indent=2)
        + "\n```\n"
    )


_NOTE = (
    "Where our time goes (callgrind, 10,000 operations of the crossing workload after its "
    "20,000 resting orders, compiled; instructions inside `submit`, `confirm` and `remove` "
    "only, the bench loop left out): 12.6k per operation on main at 8af124f, 8.5k after "
    "2026-12-01's third pass (`register` 3.8k: attribute reads of the uncompiled `Order` and "
    "`SignedOrder` about 1.7k, the `Entry` and the index insert; the walk 1.6k; the confirms "
    "1.0k; resting 0.65k); the evening's pass compiled `sdex.order` with the book, which took "
    "those attribute reads off (`register` 2.2k; the timed loop, bench included, 13.1k -> "
    "11.4k against the reference's 13.2k). Every new order reads its `Order`'s fields once "
    "into an `Entry` (a C struct), checks the contract's amount rules and updates its maker's "
    "account and the expiry index; every match makes one `Match` (native, amounts as ints, "
    "with the book's records of both orders) and every order a `MatchResult`; every confirm "
    "updates both orders and both makers' accounts (spendable as a base minus a machine-int "
    "spent sum) through those records and closes a filled order. Products and quotients of "
    "amounts are machine ints (`sdex.matching.wide`) where they fit. The book4 pass (same "
    "evening) cut the functions a resting order runs through and made the build profile-"
    "guided (trained on this bench's workloads): 11.78k -> 11.07k instructions and 524 -> 382 "
    "L1 instruction-cache misses per operation, estimated cycles 22.5k -> 20.3k against the "
    "reference's 18.7k.\n\n"
    "Compiled (since 2026-12-01, `make` builds it): the same source compiled by mypyc "
    "(`sdex.book.native`), so `Entry`, `Account`, `Level`, `BookSide`, `Match` and "
    "`MatchResult` are C structs (and, since the evening, `Order` and `SignedOrder`), their "
    "attributes and the calls between the book's modules native, ints unboxed while they "
    "fit in 62 bits. What stays at Python's speed: dict lookups (orders by hash, accounts, "
    "levels by price), and arithmetic on amounts past 62 bits.\n\n"
    "Method: since 2026-12-01 the two books run the operations in lockstep by chunks of "
    "1,000; before, each ran the whole sequence in turn (0.48 and 0.09 on a quiet machine), "
    "which a load change between the two runs skewed. Operation by operation lockstep was "
    "tried and dropped: ours then evicts the reference's working set from the caches, which "
    "flattered the ratio (0.58 and 0.23 on the code before this round).\n\n"
)


def _before_table(before: dict[str, Any] | None, result: dict[str, Any]) -> str:
    """Before (an earlier run's JSON) -> now, for the ratios and our figures."""
    if before is None:
        return ""
    project, crossing, mem = result["project"], result["crossing"], result["memory"]
    bp, bc = before["project"], before["crossing"]
    rows = [
        ("project: ours / reference", f"{bp['ratio']:.2f}", f"{project['ratio']:.2f}"),
        ("crossing: ours / reference", f"{bc['ratio']:.2f}", f"{crossing['ratio']:.2f}"),
        (
            "project: ours (reference)",
            f"{bp['ours_ops_per_s']:,}/s ({bp['reference_ops_per_s']:,}/s)",
            f"{project['ours_ops_per_s']:,}/s ({project['reference_ops_per_s']:,}/s)",
        ),
        (
            "crossing: ours (reference)",
            f"{bc['ours_ops_per_s']:,}/s ({bc['reference_ops_per_s']:,}/s)",
            f"{crossing['ours_ops_per_s']:,}/s ({crossing['reference_ops_per_s']:,}/s)",
        ),
        (
            "add + cancel, project",
            f"{bp['ours']['add_cancel_per_s']:,}/s",
            f"{project['ours']['add_cancel_per_s']:,}/s",
        ),
        (
            "crossing orders (IOC), project",
            f"{bp['ours']['cross_per_s']:,}/s",
            f"{project['ours']['cross_per_s']:,}/s",
        ),
        (
            "bytes per resting order",
            f"{before['memory']['ours_bytes_per_order']:,}",
            f"{mem['ours_bytes_per_order']:,}",
        ),
    ]
    if before.get("compiled") is False and result["compiled"]:
        head, cols = "The Python source (`SDEX_PURE=1`) and its mypyc build", ("source", "mypyc")
    else:
        head, cols = (
            "Before this change (the same benchmark on the code before it)",
            ("before", "now"),
        )
    return (
        ""
        + head
        + " (run just before this one on the same machine); the absolute figures follow the "
        "machine's load, which both books of a run share: compare the ratios.\n\n"
        f"| figure | {cols[0]} | {cols[1]} |\n| --- | --- | --- |\n"
        + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)
        + "\n"
    )


if __name__ == "__main__":
    main()
