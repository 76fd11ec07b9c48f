#!/usr/bin/env python3
"""One node's HTTP intake under different settings, in one process on one devnet.

The node runs in this process (``sdex.node.main.serve``); its client, the same keep-alive
aiohttp client as bench/node.py's HTTP phase (``post_all``, 48 in flight), runs in a
subprocess. Rounds of ``--per-round`` fresh orders alternate the modes at run time, so
every mode sees the same minutes of a shared machine; per round it prints the accepted
rate, the median latency and the node's CPU per order: the event loop's thread
(``time.thread_time``) and the other threads (the process's CPU minus the loop's), and the
process's context switches per order (voluntary, and preempted: ``/proc/self/task``), the
orders per turn of the event loop, the store's writes per commit (rows and jobs), the
collector's CPU per order (``gc_us``, the collecting thread's clock) and its collections by
generation, and the CPU of each of the other threads (by name: each thread's CPU clock).

Modes (``--modes``, comma-separated): ``base`` (as configured), ``ecdsa-direct`` (each
signature recovered in its request, on the loop), ``ecdsa-loop`` (batched per loop turn but
recovered on the loop), ``chunk=N`` (the worker thread delivers chunks of N), ``gw=S`` (the
store's group window, seconds), ``si=S`` (the GIL's switch interval, seconds), ``fw-off``
(no clock read for ``/health``'s ``forwardTiming``), ``maker-index`` (the ``orders`` table
with the index on ``maker`` alone that the schema no longer has: one more index per insert,
as before), ``five-btrees`` (the ``orders`` table with an index on ``seq`` and one on the
token pair, as its B-trees were before ``seq`` became its rowid: five per insert, not
three), ``tmin=N`` (fewer than N orders in a turn are recovered on the loop),
``http-only`` (the node's HTTP layer alone: the guard, the bounded body read and the answer;
``Node.submit`` answers 201 at once, no intake), ``no-http`` (the intake alone: each round's
orders go straight into ``Node.submit``, 48 at a time, in this process: no HTTP, no client),
``main-http`` (the request's client group parsed every time and its body read in chunks under
a timeout, as before http16), ``main-commit`` (each order's commit wait through
``committed``: a future, a done-callback and a timer of its own, as before http17),
``main-answer`` (each 201 encoded from its dict by ``dumps_bytes``, not formatted as text, as
before http17), ``no-counts`` (the ``orders`` table without ``order_counts``' triggers: no
count kept per insert; the counts are made again from the table when a round without it
follows, between rounds), ``temp-file`` (the writer's statement journals in temporary files,
SQLite's default, as before http20: ``PRAGMA temp_store=DEFAULT``, not ``MEMORY``),
``gc0=N`` (the collector's generation-0 threshold N, the others as they were),
``gc-saveall`` (the collector keeps the cyclic garbage it finds, ``gc.DEBUG_SAVEALL``: the
round's row tallies it by type, per order),
``ecdsa-three`` (each signer recovered through coincurve's three calls into the library,
as before http20, not ``sdex.ingest.ecrecover``'s one), ``hash-prefix`` (the ``orders`` table
without ``hash``'s unique index: an index on its 16 first hex digits and a trigger that keeps
an order once, ``PREFIX_ONCE``; the table is rebuilt between rounds when the mode changes:
http25's schema candidate), ``hash-key`` (the ``orders`` table without ``hash``'s unique index:
a column ``hk``, the hash's first 8 bytes as a signed 64-bit integer, indexed, written by the
writer with each row, and a trigger that keeps an order once, ``HK_ONCE``; rebuilt between
rounds likewise: http25's ``hk``, http27). Modes
joined by ``+`` apply together (``http-only+main-http``).
``--profile P`` writes each round's cProfile of the event loop (thread CPU clock: waiting
for the GIL counts nothing) to ``P.<mode>.<round>``. Prints JSON lines, then the medians
per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import node as nb  # noqa: E402
from aiohttp import hdrs  # noqa: E402

from sdex import jsonio, sqlwriter, storeschema  # noqa: E402
from sdex.chain import Exchange  # noqa: E402
from sdex.devnet import Devnet  # noqa: E402
from sdex.errors import JsonLimitError  # noqa: E402
from sdex.httpkit import BODY_TIMEOUT, MAX_JSON_DEPTH, ApiError, client_group  # noqa: E402
from sdex.ingest import ecrecover, verify  # noqa: E402
from sdex.ingest.verify import ecdsa_ok  # noqa: E402
from sdex.matching import TimeInForce  # noqa: E402
from sdex.node import api  # noqa: E402
from sdex.node.commitwait import committed  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402
from sdex.node.records import SubmitResult  # noqa: E402
from sdex.order import SignedOrder  # noqa: E402
from sdex.storeschema import COUNT_TRIGGERS, INSERT_ORDER, ORDER_COUNTS  # noqa: E402

CLIENT = """\
import asyncio, json, sys
sys.path.insert(0, sys.argv[4])
from node import post_all, session
async def main() -> None:
    url, path, conc = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bodies = [line.encode() for line in open(path).read().splitlines()]
    async with session(conc) as s:
        r = await post_all(s, url, bodies, conc)
    lat = sorted(r.pop("latencies"))
    r["p50_ms"] = round(1000 * lat[len(lat) // 2], 2)
    print(json.dumps(r))
asyncio.run(main())
"""


def apply_mode(node: Any, mode: str, defaults: dict[str, Any]) -> None:
    """Set ``node``'s knobs for ``mode`` (from ``defaults``, the node's own settings)."""
    intake, writer = node.intake, node.store._writer
    intake.ecdsa.chunk = defaults["chunk"]
    intake.ecdsa.thread_min = defaults["thread_min"]
    writer.group_window = defaults["gw"]
    intake.ecdsa.ecdsa_ok = defaults["ecdsa_ok"]
    verify.signer_of = ecrecover.signer_of
    sys.setswitchinterval(defaults["si"])
    gc.set_threshold(*defaults["gc"])
    gc.set_debug(0)
    fw = node.forwarding
    fw.cpu_clock, fw.wall_clock, fw.queue_clock = defaults["clocks"]
    node.__dict__.pop("submit", None)
    node.__dict__.pop("submit_wallet", None)
    node.__dict__.pop("_commit_wait", None)
    node.__dict__.pop("_submit_text", None)
    extra = {  # (between rounds: not timed)
        "orders_maker": "INDEX IF NOT EXISTS orders_maker ON orders (maker)",
        "orders_seq": "UNIQUE INDEX IF NOT EXISTS orders_seq ON orders (seq)",
        "orders_pair": "INDEX IF NOT EXISTS orders_pair ON orders (maker_token, taker_token)",
    }
    wanted = {"maker-index": {"orders_maker"}, "five-btrees": {"orders_seq", "orders_pair"}}
    for name, on in extra.items():
        on_now = any(name in wanted.get(m, ()) for m in mode.split("+"))
        sql = f"CREATE {on}" if on_now else f"DROP INDEX IF EXISTS {name}"
        writer.submit(lambda db, sql=sql: db.execute(sql)).result()
    parts = mode.split("+")
    key = "prefix" if "hash-prefix" in parts else "hk" if "hash-key" in parts else "unique"
    if writer.submit(lambda db: set_hash_key(db, key)).result():
        with contextlib.closing(sqlite3.connect(node.store.path)) as db:  # (not timed: the
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # copy's pages out of the WAL)
    use_insert(key)
    counts = "no-counts" not in mode.split("+")
    temp = "DEFAULT" if "temp-file" in mode.split("+") else "MEMORY"
    writer.submit(lambda db: set_counts(db, counts)).result()
    writer.submit(lambda db: db.execute(f"PRAGMA temp_store={temp}")).result()
    api.client_group, api.read_json_within = defaults["http"]
    for part in mode.split("+"):  # (modes joined by "+" apply together)
        _apply_one(node, part)


def _apply_one(node: Any, mode: str) -> None:
    intake, writer, fw = node.intake, node.store._writer, node.forwarding
    if mode == "ecdsa-direct":

        async def direct(signed: SignedOrder) -> bool | None:
            return ecdsa_ok(signed)

        intake.ecdsa.ecdsa_ok = direct
    elif mode == "ecdsa-loop":
        intake.ecdsa.thread_min = 10**9
    elif mode.startswith("tmin="):
        intake.ecdsa.thread_min = int(mode.split("=")[1])
    elif mode.startswith("chunk="):
        intake.ecdsa.chunk = int(mode.split("=")[1])
    elif mode == "fw-off":
        fw.cpu_clock = fw.wall_clock = fw.queue_clock = float  # (float() is 0.0: no clock read)
    elif mode.startswith("si="):
        sys.setswitchinterval(float(mode.split("=")[1]))
    elif mode == "ecdsa-three":
        verify.signer_of = ecrecover._coincurve
    elif mode.startswith("gc0="):
        gc.set_threshold(int(mode.split("=")[1]), *gc.get_threshold()[1:])
    elif mode == "gc-saveall":  # the collector keeps what it finds: tallied after the round
        gc.set_debug(gc.DEBUG_SAVEALL)
    elif mode.startswith("gw="):
        writer.group_window = float(mode.split("=")[1])
    elif mode == "http-only":

        async def submit(obj: object, source: str = "api", tif: object = None) -> SubmitResult:
            return SubmitResult(201, {"salt": obj.get("salt") if isinstance(obj, dict) else 0})

        async def submit_wallet(obj: object, tif: object = None, client: object = None) -> Any:
            return await submit(obj)

        node.submit = submit
        node.submit_wallet = submit_wallet  # (the API's path since the wallet groups)
    elif mode == "main-http":  # the request's client and body read as before http16
        api.client_group = client_group.__wrapped__
        api.read_json_within = main_read_json
    elif mode == "main-commit":  # every order's commit wait as before http17

        def wait(stored: Any, also: list[Any]) -> Any:
            return committed([stored, *also], node.store_wait)

        node._commit_wait = wait
    elif mode == "main-answer":  # every order's 201 encoded from its dict, as before http17
        node._submit_text = lambda body: None
    elif mode not in ("base", "maker-index", "five-btrees", "no-http", "no-counts", "temp-file",
                      "hash-prefix", "hash-key"):  # fmt: skip
        raise SystemExit(f"unknown mode {mode}")


PREFIX_INSERT = storeschema.INSERT_ORDER.split(" ON CONFLICT")[0].replace(" OR IGNORE", "")
"""``hash-prefix``'s insert: a plain one (the trigger ``PREFIX_ONCE`` keeps an order once)."""

PREFIX_ONCE = (
    "CREATE TRIGGER orders_once BEFORE INSERT ON orders BEGIN"
    " DELETE FROM orders WHERE substr(hash, 3, 16) = substr(NEW.hash, 3, 16)"
    " AND +hash = NEW.hash AND status = 'removed' AND reason = 'unparseable';"
    " SELECT RAISE(IGNORE) WHERE EXISTS (SELECT 1 FROM orders"
    " WHERE substr(hash, 3, 16) = substr(NEW.hash, 3, 16) AND +hash = NEW.hash); END"
)
"""``hash-prefix``: ``INSERT_ORDER``'s rule (an order stored once, an unusable row replaced)
without a unique index on ``hash``: each lookup by the expression index on its first 8 bytes,
the whole hash compared (``+hash``: SQLite 3.40 would otherwise put the parameter into the
indexed expression and scan the table)."""


HK_INSERT = (
    storeschema.INSERT_ORDER.split(" ON CONFLICT")[0]
    .replace(" OR IGNORE", "")
    .replace("taker) VALUES (?,", "taker, hk) VALUES (?,?,")
)
"""``hash-key``'s insert: a plain one with ``hk`` (the trigger ``HK_ONCE`` keeps an order once)."""

HK_VALUES = storeschema.ORDER_VALUES.replace("(?,", "(?,?,", 1)
"""One row's parameters in ``HK_INSERT``: ``ORDER_VALUES``' and ``hk``."""


def use_insert(key: str) -> None:
    """The writer's order insert for the ``orders`` table ``set_hash_key(key)`` made: its
    statement, one row's parameters (the writer's multi-row ``INSERT`` repeats them) and its
    rows' serialising; the writer's statements of many rows made again from them (cached by
    row count). Before, ``hash-key``'s rows had 13 values and the multi-row statement 12 a
    row (its ``VALUES`` not found in ``HK_INSERT``: an assert, then every row inserted alone),
    and a mode's cached statements stayed after a switch."""
    sqlwriter.INSERT_ORDER = {"prefix": PREFIX_INSERT, "hk": HK_INSERT}.get(
        key, storeschema.INSERT_ORDER
    )
    sqlwriter.ORDER_VALUES = HK_VALUES if key == "hk" else storeschema.ORDER_VALUES
    sqlwriter.serialised = hk_serialised if key == "hk" else SERIALISED
    sqlwriter._insert_many.cache_clear()


HK_ONCE = (
    "CREATE TRIGGER orders_once BEFORE INSERT ON orders BEGIN"
    " DELETE FROM orders WHERE hk = NEW.hk AND hash = NEW.hash"
    " AND status = 'removed' AND reason = 'unparseable';"
    " SELECT RAISE(IGNORE) WHERE EXISTS (SELECT 1 FROM orders"
    " WHERE hk = NEW.hk AND hash = NEW.hash); END"
)
"""``hash-key``: ``INSERT_ORDER``'s rule by ``hk``'s index, the whole hash compared (an integer
column: SQLite searches the index with ``hash = ?`` beside it, no ``+`` needed)."""

SERIALISED = sqlwriter.serialised


def hash_key(hash_hex: str) -> int:
    """``hk``: an order hash's (``0x`` and 64 hex digits) first 8 bytes, a signed int64."""
    return int.from_bytes(bytes.fromhex(hash_hex[2:18]), "big", signed=True)


def hk_serialised(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The writer's row (``sqlwriter.serialised``) with its ``hk`` last (``HK_INSERT``)."""
    out = SERIALISED(row)
    return (*out, hash_key(out[0]))


def set_hash_key(db: sqlite3.Connection, key: str | bool) -> bool:
    """The ``orders`` table rebuilt (between rounds) with ``hash``'s unique index (``key``
    ``unique`` or False: the schema's), with an index on its 16 first hex digits (``prefix``
    or True: ``substr(hash, 3, 16)`` and ``PREFIX_ONCE``) or with a column ``hk`` indexed
    (``hk``: ``HK_ONCE``); its triggers are dropped with the old table (``set_counts``
    makes the counts' again). ``True``: it was rebuilt."""
    if isinstance(key, bool):  # (http25's form)
        key = "prefix" if key else "unique"
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    have = "prefix" if "orders_hash_prefix" in names else "hk" if "orders_hk" in names else "unique"
    if have == key:
        return False
    table = storeschema.ORDERS_TABLE.format(name="orders_new")
    if key != "unique":
        table = table.replace("TEXT NOT NULL UNIQUE", "TEXT NOT NULL", 1)
    if key == "hk":
        table = table.replace("updated_at  REAL NOT NULL,\n", "updated_at  REAL NOT NULL,\n"
                              "    hk INTEGER NOT NULL DEFAULT 0,\n", 1)  # fmt: skip
        assert "hk INTEGER" in table
    cols = ", ".join(storeschema.ORDER_COLUMNS)
    db.execute(table)
    db.execute(f"INSERT INTO orders_new ({cols}) SELECT {cols} FROM orders")
    db.execute("DROP TABLE orders")
    db.execute("ALTER TABLE orders_new RENAME TO orders")
    db.execute("CREATE INDEX orders_maker_seq ON orders (maker, seq)")
    db.execute("CREATE INDEX orders_pair ON orders (maker_token, taker_token)")
    if key == "prefix":
        db.execute("CREATE INDEX orders_hash_prefix ON orders (substr(hash, 3, 16))")
        db.execute(PREFIX_ONCE)
    elif key == "hk":
        rows = db.execute("SELECT hash, seq FROM orders").fetchall()
        db.executemany("UPDATE orders SET hk=? WHERE seq=?", [(hash_key(h), q) for h, q in rows])
        db.execute("CREATE INDEX orders_hk ON orders (hk)")
        db.execute(HK_ONCE)
    set_counts(db, False)
    return True


def filler_row(seq: int) -> tuple[object, ...]:
    """``--prefill``'s row: a filled order of a random hash, at ``seq`` (negative: before
    every order the node numbers), its JSON a real order's size."""
    h, m = "0x" + os.urandom(32).hex(), "0x" + os.urandom(20).hex()
    body = json.dumps({"maker": m, "salt": str(int.from_bytes(os.urandom(16))),
                       "signature": "0x" + os.urandom(65).hex(), "pad": "0" * 420})  # fmt: skip
    now = time.time()
    return (h, seq, m, "0x" + "11" * 20, "0x" + "22" * 20, body, "filled", "api", "gtc", now, now,
            "0x" + "00" * 20)  # fmt: skip


def set_counts(db: sqlite3.Connection, on: bool) -> None:
    """``order_counts``' triggers on (made again, and the counts from the table, if they were
    off) or off (dropped), in the writer's transaction."""
    have = db.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type='trigger' AND name LIKE 'orders_counted_%'"
    ).fetchone()[0]
    if on and have != len(COUNT_TRIGGERS):
        buf = ""
        for line in ORDER_COUNTS.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                db.execute(buf)
                buf = ""
        db.execute("DELETE FROM order_counts")
        db.execute("INSERT INTO order_counts SELECT status, COUNT(*) FROM orders GROUP BY status")
    elif not on:
        for name in COUNT_TRIGGERS:
            db.execute(f"DROP TRIGGER IF EXISTS {name}")


async def rounds(cfg: NodeConfig, files: list[Path], warm: Path, modes: list[str], per: int,
                 work: Path, profile: str | None = None, prefill: int = 0
                 ) -> dict[str, list[dict[str, float]]]:  # fmt: skip
    client = work / "client.py"
    client.write_text(CLIENT)
    out: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    async with serve(cfg) as node:
        e = node.intake.ecdsa
        defaults = {"chunk": e.chunk, "thread_min": e.thread_min,
                    "gw": node.store._writer.group_window, "ecdsa_ok": e.ecdsa_ok,
                    "si": sys.getswitchinterval(), "gc": gc.get_threshold(),
                    "http": (api.client_group, api.read_json_within),
                    "clocks": (node.forwarding.cpu_clock, node.forwarding.wall_clock,
                               node.forwarding.queue_clock)}  # fmt: skip
        url = f"http://127.0.0.1:{cfg.port}/v1/orders"
        for lo in range(0, prefill, 5000):  # closed rows of random hashes (not held)
            rows = [filler_row(-1 - i) for i in range(lo, min(prefill, lo + 5000))]
            node.store._writer.submit(lambda db, r=rows: db.executemany(INSERT_ORDER, r)).result()
        if prefill:
            with contextlib.closing(sqlite3.connect(node.store.path)) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        async def post(f: Path) -> dict[str, Any]:
            p = await asyncio.create_subprocess_exec(
                sys.executable, str(client), url, str(f), "48", str(ROOT / "bench"),
                stdout=subprocess.PIPE,
            )  # fmt: skip
            got, _ = await p.communicate()
            r: dict[str, Any] = json.loads(got)
            return r

        async def direct(f: Path) -> dict[str, Any]:
            """``f``'s orders straight into ``Node.submit``, 48 at a time: no HTTP, no client."""
            work = iter(f.read_text().splitlines())
            statuses: dict[str, int] = {}
            lat: list[float] = []

            async def worker() -> None:
                for line in work:
                    obj, t = json.loads(line), time.perf_counter()
                    tif = TimeInForce(obj.pop("timeInForce", "gtc"))
                    status = str((await node.submit(obj, source="api", tif=tif)).status)
                    statuses[status] = statuses.get(status, 0) + 1
                    lat.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(48)))
            seconds = time.perf_counter() - t0
            lat.sort()
            return {"seconds": seconds, "statuses": statuses, "errors": [],
                    "p50_ms": round(1000 * lat[len(lat) // 2], 2)}  # fmt: skip

        await post(warm)
        turns, collector = count_turns(), gc_clock()
        for i, f in enumerate(files):
            mode = modes[i % len(modes)]
            apply_mode(node, mode, defaults)
            prof = cProfile.Profile(time.thread_time) if profile is not None else None
            turns0, writer = turns[0], node.store._writer
            jobs0, commits0, gc0 = writer.jobs, writer.commits, list(collector)
            t0, p0, x0, th0 = time.thread_time(), time.process_time(), switches(), threads_cpu()
            if prof is not None:
                prof.enable()
            r = await (direct if mode == "no-http" else post)(f)
            if prof is not None:
                prof.disable()
                prof.dump_stats(f"{profile}.{mode}.{i}")
            loop_s, all_s = time.thread_time() - t0, time.process_time() - p0
            vol, invol = (b - a for a, b in zip(x0, switches(), strict=True))
            th1 = threads_cpu()
            by_thread = {k: round(1e6 * (v - th0.get(k, 0.0)) / per, 1) for k, v in th1.items()}
            if r["statuses"] != {"201": per}:
                raise RuntimeError(f"{mode}: {r['statuses']} {r['errors']}")
            row = {
                "accepted_per_s": round(per / r["seconds"]),
                "p50_ms": r["p50_ms"],
                "loop_us": round(1e6 * loop_s / per, 1),
                "other_threads_us": round(1e6 * (all_s - loop_s) / per, 1),
                "total_us": round(1e6 * all_s / per, 1),
                "switches_per_order": round(vol / per, 2),
                "preempted_per_order": round(invol / per, 2),
                "orders_per_loop_turn": round(per / max(1, turns[0] - turns0), 2),
                "writes_per_commit": round(
                    (writer.jobs - jobs0) / max(1, writer.commits - commits0), 2
                ),
                "gc_us": round(1e6 * (collector[0] - gc0[0]) / per, 1),
                "gc_runs": [collector[k] - gc0[k] for k in (1, 2, 3)],
                "gc_freed_per_order": round((collector[4] - gc0[4]) / per, 2),
                "gc_us_by_generation": [
                    round(1e6 * (collector[k] - gc0[k]) / per, 1) for k in (5, 6, 7)
                ],
                "threads_us": {k: v for k, v in by_thread.items() if v >= 0.5},
            }
            if "gc-saveall" in mode.split("+"):
                gc.set_debug(0)
                gc.collect()
                kinds = collections.Counter(
                    f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                )
                row["gc_garbage_per_order"] = {
                    k: round(v / per, 2) for k, v in kinds.most_common(25)
                }
                gc.garbage.clear()
            out[mode].append(row)
            print(json.dumps({"mode": mode, **row}), flush=True)
        apply_mode(node, "base", defaults)
    return out


async def main_read_json(
    request: Any, limit: int, untyped: bool = False, timeout: float = BODY_TIMEOUT
) -> dict[str, Any]:
    """``sdex.httpkit.read_json`` as it was before http16 (mode ``main-http``): every body
    read in 64 KiB chunks under ``asyncio.timeout`` (``None`` when it came whole)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, 101, f"Request body too large: more than {limit} bytes")
    if request.content_type != "application/json" and not (
        untyped and hdrs.CONTENT_TYPE not in request.headers
    ):
        raise ApiError(415, 101, "Content-Type must be application/json")
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(None if request.content.is_eof() else timeout):
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, 101, f"Request body too large: more than {limit} bytes")
            chunks.append(chunk)
    try:
        obj = jsonio.loads(b"".join(chunks), max_bytes=limit, max_depth=MAX_JSON_DEPTH)
    except JsonLimitError as e:
        raise ApiError(400, 101, f"Malformed JSON: {e.reason}") from None
    if not isinstance(obj, dict):
        raise ApiError(400, 101, "Malformed JSON: the body must be a JSON object")
    return obj


def count_turns() -> list[int]:
    """A counter of the running loop's iterations (``_run_once`` calls) from now on."""
    loop: Any = asyncio.get_running_loop()
    turns, run_once = [0], loop._run_once

    def counted() -> None:
        turns[0] += 1
        run_once()

    loop._run_once = counted
    return turns


def gc_clock() -> list[float]:
    """From now on: [CPU seconds the collector took (the collecting thread's clock), then
    its collections of generations 0, 1 and 2, then the unreachable objects it freed (cyclic
    garbage: what reference counting alone left), then its CPU seconds in collections of
    generations 0, 1 and 2], kept up to date by ``gc.callbacks``."""
    out: list[float] = [0.0, 0, 0, 0, 0, 0.0, 0.0, 0.0]
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            took = time.thread_time() - started[0]
            out[0] += took
            out[1 + info["generation"]] += 1
            out[5 + info["generation"]] += took
            out[4] += info["collected"]

    gc.callbacks.append(timed)
    return out


def switches() -> tuple[int, int]:
    """This process's context switches so far, all threads: (voluntary: a thread waited,
    involuntary: the kernel preempted one). Each wake-up of a sleeping thread is one more."""
    vol = invol = 0
    for status in Path("/proc/self/task").glob("*/status"):
        with contextlib.suppress(OSError):  # (a thread that ended meanwhile)
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    invol += int(line.split()[1])
    return vol, invol


def threads_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads other than the loop's, by thread name
    (threads of one name summed; each thread's own CPU clock, ``pthread_getcpuclockid``)."""
    main = threading.main_thread()
    out: dict[str, float] = {}
    for t in threading.enumerate():
        if t is main or t.ident is None:
            continue
        with contextlib.suppress(OSError):  # (a thread that ended meanwhile)
            seconds = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            name = t.name.rstrip("0123456789_-")
            out[name] = out.get(name, 0.0) + seconds
    return out


@contextlib.contextmanager
def devnet_node(prefix: str) -> Iterator[tuple[Path, nb.Signer, NodeConfig]]:
    """A temporary directory, a devnet there (stopped on exit), a signer of resting orders
    with 3 hours of life (makers: dev accounts 0..18), a node's config (operator: 19)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield from _devnet_node(Path(tmp))


def _devnet_node(work: Path) -> Iterator[tuple[Path, nb.Signer, NodeConfig]]:
    devnet = Devnet(
        deployment_path=work / "devnet.json", log_path=work / "hardhat.log", accounts=20
    )
    deployment = devnet.start()
    try:
        assert devnet.rpc is not None
        domain = Exchange(devnet.rpc, deployment.exchange).domain()
        head = devnet.rpc.call("eth_getBlockByNumber", "latest", False)
        signer = nb.Signer(deployment, domain, int(head["timestamp"], 16) + 3 * 3600)
        cfg = NodeConfig.from_deployment(
            deployment, signer.keys[nb.OPERATOR], work / "node.db", port=nb.free_port()
        )
        yield work, signer, cfg
    finally:
        devnet.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-round", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="base,ecdsa-direct,ecdsa-loop")
    ap.add_argument("--prefill", type=int, default=0,
                    help="closed rows of random hashes stored before the rounds")  # fmt: skip
    ap.add_argument(
        "--profile",
        help="cProfile the event loop (thread CPU clock) per round into PROFILE.<mode>.<round>",
    )
    args = ap.parse_args()
    modes = args.modes.split(",")
    n = args.per_round * args.repeat * len(modes)
    if n + 500 > nb.OPERATOR * 1000:
        ap.error("at most 18,500 orders in all (19 makers, 1,000 open orders each)")
    with devnet_node("sdex-modes-") as (work, signer, cfg):
        orders = signer.resting(n + 500, list(range(nb.OPERATOR)))
        bodies = [nb.body(o).decode() for o in orders]
        warm = work / "warm.txt"
        warm.write_text("\n".join(bodies[:500]))
        files = []
        for i in range(args.repeat * len(modes)):
            f = work / f"round{i}.txt"
            lo = 500 + i * args.per_round
            f.write_text("\n".join(bodies[lo : lo + args.per_round]))
            files.append(f)
        out = asyncio.run(
            rounds(cfg, files, warm, modes, args.per_round, work, args.profile, args.prefill)
        )
    medians = {
        m: {
            k: statistics.median(r[k] for r in rows)
            for k in rows[0]
            if isinstance(rows[0][k], int | float)
        }
        for m, rows in out.items()
    }
    print(json.dumps({"medians": medians, "machine": nb.machine()}, indent=2))


if __name__ == "__main__":
    main()
