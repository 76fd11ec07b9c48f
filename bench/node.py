"""Throughput and latency of one relayer node on a real Hardhat devnet.

1. ``validation``: orders per second through the node's intake, in-process, one core:
   the off-chain checks plus the ECDSA signature (``Intake.check_offchain`` +
   ``recover_signer``: what one core validates without the chain), and the full intake path
   with the batched on-chain state read (``await Intake.submit``, many at once).
2. ``http_accept``: valid signed orders that do not cross (asks above the mid, bids below,
   from 19 dev accounts) posted to ``POST /v1/orders`` by a keep-alive aiohttp client with
   ``--concurrency`` requests in flight; the node runs in its own process. The reference:
   the same bodies, the same client, to bench/trivial_server.py just before and just after
   the node's round; the ratio is taken against the mean of the two. The node's CPU per
   request is split into its event loop's thread and its other threads.
3. ``order_to_receipt``: a resting order, then a crossing one; the time from the POST of
   the crossing order until the websocket (``GET /v1/ws``) delivers its ``fill`` event,
   which the node publishes after the settlement's receipt. Sequential.
4. ``settled_matches``: ``--matches`` resting asks, then as many crossing bids posted at
   once; from the first bid's POST until ``/health`` counts every match settled. The number
   of settlement transactions shows the batching. (End to end: intake is in the window.)
5. ``settlement_vs_raw``: settlement at the chain's speed, the node beside its reference in
   the same run. First a warm-up (Hardhat's first large transactions run 4-5x slower):
   ``--warmup-batches`` raw batches, then a round of matches through the node. The
   reference: a bare client sending pre-signed ``batchMatchOrders`` of 64 one after the
   other, each waiting for its receipt (``--raw-batches``). The node: with mining paused
   (``evm_setAutomine false``), the asks and the crossing bids are posted, so every match
   waits in the node's queue; then mining resumes and the clock runs until the websocket
   has delivered every fill. Raw and node rounds alternate, ``--settle-pairs`` node
   rounds between raw ones (raw, node, raw, ..., raw); each node round's rate is set
   against the mean of the two raw rounds beside it (the chain slows as its state grows,
   and the machine's other processes come and go: both fall on both sides), and the
   median of those ratios is the figure. Then
   order-to-receipt under load, automine: crossing orders posted open-loop at
   ``--load-rate`` a second for ``--load-seconds``, each timed from its POST until the
   websocket announced its settlement (p50/p90/p99).
6. ``load`` (only with ``--phases load``): order-to-receipt under load alone, after a
   warm-up of ten crossings one at a time, ``--load-rounds`` rounds (each with the load
   average at its start and the settler's stages): quicker than the whole settle phase.

Orders are signed before any timing starts. Every process started here (Hardhat, the node)
is stopped by its own PID. Prints JSON; ``--write docs/BENCHMARKS.md`` also replaces the
node section there. ``--profile DIR`` samples the node processes with py-spy (when it is
on PATH, else runs them under cProfile: main thread only), profiles the in-process phases
with cProfile, and prints summaries; the figures are then slower and are not written.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NODE_ROOT: Path | None = None
NODE_FRONTS = 0
"""``--fronts``: the nodes run with this many front processes (``sdex node --fronts``)."""
TIMELINES: dict[str, Path] | None = None
"""With ``--timeline``: each node's url -> the file its settler writes its batches' times to."""
"""``--node-root``: the nodes run from this checkout's ``sdex`` (a before/after in the same
minutes, this bench driving both)."""

import aiohttp  # noqa: E402
from benchlib import machine, machine_busy_seconds, write_section  # noqa: E402

from sdex.chain import Exchange, Rpc, Sender, SignedTx  # noqa: E402
from sdex.chainnode import AnvilNode  # noqa: E402
from sdex.deployment import Deployment  # noqa: E402
from sdex.devnet import Devnet, free_port  # noqa: E402
from sdex.ingest import Accepted  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.main import serve  # noqa: E402
from sdex.order import (  # noqa: E402
    ZERO_ADDRESS,
    Domain,
    Order,
    SignedOrder,
    bitmap_salt,
    random_salt,
    recover_signer,
    sign_order,
)

WETH_LOT = 10**16  # 0.01 WETH per order
MID = 200_000  # price in USDC cents per WETH: 2,000.00
OPERATOR = 19  # dev account that sends the settlement transactions (never a maker here)
ASK_MAKERS = range(0, 9)  # makers of resting asks in phases 3 and 4
BID_MAKERS = range(9, 18)  # makers of the crossing bids (disjoint: no self-trades)
JSON_HEADERS = {"Content-Type": "application/json"}
PHASES = ("validation", "http", "latency", "settle", "load")

# The node in its own process: ``sdex node`` when the CLI has it, else the same entry point.
LAUNCHER = """\
import sys
from pathlib import Path
from sdex.node.main import run_node
port, deployment, key, db = sys.argv[1:5]
run_node(port=int(port), deployment=Path(deployment), key=key, db=Path(db))
"""


# -- orders ----------------------------------------------------------------------------------


def chain_expiry(rpc: Rpc) -> int:
    """An order expiry three hours after the chain's latest block (the chain's clock, which a
    block a transaction can take hours ahead of the wall clock's)."""
    return int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16) + 3 * 3600


def devnet_signer(dev: Devnet, deployment: Deployment) -> tuple[Signer, str]:
    """A ``Signer`` for ``dev``'s dev accounts (orders valid for three hours from its latest
    block: ``chain_expiry``) and the operator's key (``OPERATOR``), for a bench that starts
    its own nodes."""
    assert dev.rpc is not None
    domain = Exchange(dev.rpc, deployment.exchange).domain()
    return Signer(deployment, domain, chain_expiry(dev.rpc)), deployment.accounts[OPERATOR].key


@contextlib.contextmanager
def signed_devnet(
    prefix: str, keep: bool = False
) -> Iterator[tuple[Path, Devnet, Deployment, Signer, str]]:
    """A devnet of 20 dev accounts in a temporary folder (its deployment saved there as
    ``devnet.json``, the chain's log as ``hardhat.log``), with ``devnet_signer``'s signer and
    operator key: the folder, the devnet, its deployment, the signer, the key. Stopped after,
    and the folder deleted unless ``keep`` (a bench that leaves the chain's log to read)."""
    with contextlib.ExitStack() as stack:
        if keep:
            work = Path(tempfile.mkdtemp(prefix=prefix))
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
        log = work / "hardhat.log"
        dev = Devnet(deployment_path=work / "devnet.json", log_path=log, accounts=20)
        deployment = dev.start()
        try:
            signer, key = devnet_signer(dev, deployment)
            yield work, dev, deployment, signer, key
        finally:
            dev.stop()


class Signer:
    """Signs the benchmark's orders for the devnet's dev accounts (before any timing)."""

    def __init__(
        self, deployment: Deployment, domain: Domain, expiry: int, *, bitmap: bool = False
    ) -> None:
        self.domain = domain
        self.bitmap = bitmap
        """Sign bitmap orders (``sdex.order.bitmap_salt``, a per-maker nonce) instead of
        random salts: the wallet's opt-in to the Exchange's cheaper per-maker bitmap."""
        self.nonces: dict[int, int] = {}
        self.keys = [bytes.fromhex(a.key[2:]) for a in deployment.accounts]
        self.addresses = [a.address.lower() for a in deployment.accounts]
        self.weth = deployment.token("WETH").address
        self.usdc = deployment.token("USDC").address
        self.expiry = expiry

    def order(self, maker: int, ask: bool, cents: int) -> SignedOrder:
        """0.01 WETH at ``cents`` USDC cents per WETH: an ask sells WETH, a bid sells USDC."""
        usdc = WETH_LOT * cents * 10**4 // 10**18  # 6-decimal USDC units for 0.01 WETH
        w, u = self.weth, self.usdc
        o = Order(
            self.addresses[maker], ZERO_ADDRESS, w if ask else u, u if ask else w,
            WETH_LOT if ask else usdc, usdc if ask else WETH_LOT,
            ZERO_ADDRESS, 0, self.expiry, self.salt(maker),
        )  # fmt: skip
        return sign_order(o, self.domain, self.keys[maker])

    def salt(self, maker: int) -> int:
        if not self.bitmap:
            return random_salt()
        nonce = self.nonces.get(maker, 0)
        self.nonces[maker] = nonce + 1
        return bitmap_salt(nonce)

    def resting(self, n: int, makers: range | list[int]) -> list[SignedOrder]:
        """``n`` non-crossing orders: asks 0.01..5.00 above the mid, bids as far below."""
        out = []
        for i in range(n):
            ask = i % 2 == 0
            ticks = 1 + (i // 2) % 500
            out.append(
                self.order(makers[i % len(makers)], ask, MID + ticks if ask else MID - ticks)
            )
        return out


def body(signed: SignedOrder) -> bytes:
    return json.dumps(signed.to_json()).encode()


# -- processes -------------------------------------------------------------------------------


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """User + system CPU seconds a process (or one of its threads, ``task``) has used so
    far (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_user_sys(pid: int) -> tuple[float, float, int]:
    """User and system CPU seconds a process has used so far, and its minor page faults
    (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz, int(fields[7])


def thread_split(pid: int) -> dict[str, tuple[float, float, int, int]]:
    """A process's threads grouped by name (digits dropped: ``tokio-runtime-w``, ``V8Worker``,
    ``node``...): user and system CPU seconds, minor page faults and context switches of
    the threads alive now (Linux /proc; a thread that ended is missed)."""
    hz = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[float, float, int, int]] = {}
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        try:
            raw = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:
            continue
        name = "".join(c for c in raw.split("(", 1)[1].rsplit(")", 1)[0] if not c.isdigit())
        fields = raw.rsplit(")", 1)[1].split()
        switches = sum(
            int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line
        )
        u, s, f, c = out.get(name, (0.0, 0.0, 0, 0))
        out[name] = (u + int(fields[11]) / hz, s + int(fields[12]) / hz, f + int(fields[7]),
                     c + switches)  # fmt: skip
    return out


def thread_split_per_match(
    before: dict[str, tuple[float, float, int, int]], pid: int, matches: int
) -> dict[str, list[float]]:
    """``thread_split`` since ``before`` per match: [user ms, sys ms, page faults, context
    switches] by thread name, the names that used any."""
    after = thread_split(pid)
    rows: dict[str, list[float]] = {}
    for name, (u, s, f, c) in sorted(after.items()):
        u0, s0, f0, c0 = before.get(name, (0.0, 0.0, 0, 0))
        row = [1000 * (u - u0) / matches, 1000 * (s - s0) / matches, (f - f0) / matches,
               (c - c0) / matches]  # fmt: skip
        if any(v > 0 for v in row[:3]):
            rows[name] = [round(v, 3) for v in row]
    return rows


def user_sys_per_match(
    before: tuple[float, float, int], pid: int, matches: int
) -> dict[str, float]:
    """The chain's user and system CPU per match since ``before`` (ms). (Hardhat's system
    time swings 0.1-2 ms a match for the same transactions with the machine's load; its
    user time is the work.)"""
    after = cpu_user_sys(pid)
    return {
        "chain_user_ms_per_match": round(1000 * (after[0] - before[0]) / matches, 3),
        "chain_sys_ms_per_match": round(1000 * (after[1] - before[1]) / matches, 3),
        "chain_page_faults_per_match": round((after[2] - before[2]) / matches),
    }


def print_rounds(rounds: dict[str, list[dict[str, Any]]], **head: object) -> None:
    """The settle benches' JSON line: when, the machine's load, ``head``, each way's median
    of every figure over its rounds, and the rounds."""
    out = {
        "at": time.strftime("%H:%M:%S"),
        "load": round(os.getloadavg()[0], 1),
        **head,
        "median": {
            w: {k: statistics.median(x[k] for x in v) for k in v[0]} for w, v in rounds.items() if v
        },
        "rounds": rounds,
    }
    print(json.dumps(out), flush=True)


class CpuMeter:
    """CPU used over a phase, in cores: this process, the node, Hardhat, and every other
    process on the machine (``other_processes``: the figures are only clean when it is ~0)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {"bench_client": os.getpid(), **pids}

    def __enter__(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.c0 = {k: cpu_seconds(p) for k, p in self.pids.items()}
        self.m0 = machine_busy_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = self.wall = time.perf_counter() - self.t0
        used = {k: (cpu_seconds(p) - self.c0[k]) / wall for k, p in self.pids.items()}
        others = (machine_busy_seconds() - self.m0) / wall - sum(used.values())
        self.cores = {k: round(v, 2) for k, v in used.items()}
        self.cores["other_processes"] = round(max(0.0, others), 2)


class CpuTrace:
    """A process's CPU seconds sampled every ``every`` seconds from a thread, to tell the
    CPU it used between two moments of a phase."""

    def __init__(self, pid: int, every: float = 0.01) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self.split: list[tuple[float, float, int]] = []
        """(user s, system s, minor page faults) at each sample's time."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            t, (user, sys_, faults) = time.perf_counter(), cpu_user_sys(self.pid)
            self.samples.append((t, user + sys_))
            self.split.append((user, sys_, faults))
            if self._stop.wait(self.every):
                return

    def split_per_match(self, a: float, b: float, matches: int) -> dict[str, float]:
        """User and system ms and page faults a match between ``a`` and ``b`` (the samples
        nearest inside; as ``user_sys_per_match``)."""
        i = min(bisect.bisect_left(self.samples, (a, -1.0)), len(self.samples) - 1)
        j = max(i, min(bisect.bisect_left(self.samples, (b, -1.0)), len(self.samples) - 1))
        (u0, s0, f0), (u1, s1, f1) = self.split[i], self.split[j]
        k = max(1, matches)
        return {
            "chain_user_ms_per_match": round(1000 * (u1 - u0) / k, 3),
            "chain_sys_ms_per_match": round(1000 * (s1 - s0) / k, 3),
            "chain_page_faults_per_match": round((f1 - f0) / k),
        }

    def __enter__(self) -> CpuTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, t: float) -> float:
        """CPU seconds used up to ``t`` (interpolated between samples)."""
        i = bisect.bisect_left(self.samples, (t, -1.0))
        if i <= 0 or i >= len(self.samples):
            return self.samples[min(max(i, 0), len(self.samples) - 1)][1]
        (ta, ca), (tb, cb) = self.samples[i - 1], self.samples[i]
        return ca + (cb - ca) * (t - ta) / max(1e-9, tb - ta)

    def between(self, a: float, b: float) -> float:
        return self.at(b) - self.at(a)


def _cli_has_node() -> bool:
    try:
        from sdex.cli import main as cli
    except Exception:
        return False
    return "node" in getattr(cli, "commands", {})


@contextlib.contextmanager
def node_process(
    deployment_file: Path,
    key: str,
    workdir: Path,
    name: str,
    profile: Path | None,
    peers: tuple[str, ...] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A node in its own process on a free port with a fresh database (gossip to ``peers``);
    stopped by its PID."""
    port = free_port()
    db = workdir / f"{name}.db"
    args = [str(port), str(deployment_file), key, str(db)]
    spy = _py_spy() if profile else None
    prof = ["-m", "cProfile", "-o", str(profile / f"{name}.prof")] if profile and not spy else []
    if _cli_has_node():
        cmd = [sys.executable, *prof, "-m", "sdex.cli", "node", "--port", args[0],
               "--deployment", args[1], "--key", args[2], "--db", args[3]]  # fmt: skip
        cmd += [a for p in peers for a in ("--peer", p)]
        cmd += ["--fronts", str(NODE_FRONTS)] if NODE_FRONTS else []
    else:
        launcher = workdir / "launch_node.py"
        launcher.write_text(LAUNCHER)
        cmd = [sys.executable, *prof, str(launcher), *args]
    log = (workdir / f"{name}.log").open("ab")
    root = NODE_ROOT or ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    url = f"http://127.0.0.1:{port}"
    if TIMELINES is not None:  # (sdex/settlement/stages.py: a debug file, one line a batch)
        TIMELINES[url] = workdir / f"{name}.timeline.jsonl"
        env["SDEX_SETTLE_TIMELINE"] = str(TIMELINES[url])
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    (workdir / f"{name}.pid").write_text(str(proc.pid))
    sampler: subprocess.Popen[bytes] | None = None
    try:
        _wait_healthy(proc, url, workdir / f"{name}.log")
        if spy and profile:  # every thread's Python stacks while it holds the GIL: CPU time
            out = str(profile / f"{name}.raw")
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(proc.pid), "--format", "raw", "-o", out,
                 "--rate", "200", "--gil", "--threads", "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # a clean stop (cProfile writes its file)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if sampler is not None:  # it ends with the process it samples
            try:
                sampler.wait(timeout=20)
            except subprocess.TimeoutExpired:
                sampler.kill()
                sampler.wait(timeout=10)
        log.close()


CHAIN_FAULTS: Path | None = None
"""(``--profile-with chain_faults``) Where the raw rounds' perf records of the chain go."""
RAW_ROUNDS_SEEN: list[int] = []
CHAIN_HELD = [0]
"""Matches the settle phase's rounds settled on its chain so far: anvil's CPU a block grows
with them (~2 ms per 1,000, docs/BENCHMARKS.md "anvil35"), so each round says how many the
chain held when it began (``chain_matches_held_before``)."""
WINDOW_SAMPLERS = ("gil", "threads", "native", "perf", "chain_faults")
window_sampler = "gil"
"""How ``window_profile`` samples (``--profile-with``): ``gil``, py-spy of the thread holding
the GIL; ``threads``, py-spy of every thread not idle (the store writer in SQLite, which
runs without the GIL); ``native``, the same with C frames (py-spy pauses the node each
sample: slower, for attribution only); ``perf``, ``perf record -g`` of the process
(``node-settle-window.perf``: C symbols, e.g. SQLite's own functions)."""


@contextlib.contextmanager
def window_profile(profile: Path | None, pid: int, name: str = "settle") -> Iterator[None]:
    """A sampler on ``pid`` for the duration of the block only (when ``profile`` and py-spy
    are there): ``<profile>/node-settle-window.raw`` (``window_sampler``). Stopped by its own
    PID (SIGINT: it writes what it sampled)."""
    spy = _py_spy() if profile is not None else None
    if profile is None or spy is None:
        yield
        return
    out = str(profile / "node-settle-window.raw")
    cmd = [spy, "record", "--pid", str(pid), "--format", "raw", "-o", out, "--threads"]
    cmd += {
        "gil": ["--rate", "250", "--gil", "--nonblocking"],
        "threads": ["--rate", "250", "--nonblocking"],
        "native": ["--rate", "100", "--native"],
    }.get(window_sampler, [])
    if window_sampler == "perf":
        cmd = ["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o",
               str(profile / "node-settle-window.perf")]  # fmt: skip
    elif window_sampler == "chain_faults":  # (``pid`` is the chain's: its page faults)
        cmd = ["perf", "record", "-e", "page-faults", "-c", "64", "--call-graph", "dwarf,32768",
               "-p", str(pid), "-o",
               str(profile / f"chain-{name}-window.perf")]  # fmt: skip
    sampler = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # attached before the clock starts
        yield
    finally:
        sampler.send_signal(signal.SIGINT)
        try:
            sampler.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait(timeout=10)


def _py_spy() -> str | None:
    """py-spy (a pinned dev dependency) next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _wait_peered(url: str, timeout: float = 60) -> None:
    """Until the node at ``url`` lists a gossip peer in ``/health`` (bounded)."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError, KeyError):
            if requests.get(url + "/health", timeout=5).json()["gossip"]["peers"]:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} found no peer in {timeout:.0f} s")


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            r = requests.get(url + "/health", timeout=1)
            if r.status_code == 200 and r.json().get("caughtUp", True):
                return  # (caught up: a node replaying a long chain publishes its past fills)
        if time.monotonic() > deadline:
            raise RuntimeError(f"node did not answer on {url} in {timeout}s")
        time.sleep(0.1)


# -- HTTP helpers ----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, in milliseconds, nearest rank."""
    s = sorted(values)
    return round(1000 * s[min(len(s) - 1, max(0, round(q * len(s)) - 1))], 2)


async def post_all(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[bytes],
    concurrency: int,
    deadline: float = float("inf"),
) -> dict[str, Any]:
    """POST every body with ``concurrency`` requests in flight; statuses and latencies.

    No new request starts after ``deadline`` (``time.perf_counter``); ``posted`` counts."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    work = iter(bodies)
    clock = time.perf_counter

    async def worker() -> None:
        for b in work:
            t = clock()
            if t > deadline:
                return
            async with session.post(url, data=b, headers=JSON_HEADERS) as r:
                text = await r.read()
                statuses[r.status] += 1
                if r.status >= 300 and len(errors) < 3:
                    errors.append(text.decode()[:300])
            latencies.append(clock() - t)

    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = clock() - t0
    return {
        "seconds": elapsed,
        "posted": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "latencies": latencies,
        "errors": errors,
    }


async def health(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(base + "/health") as r:
        out: dict[str, Any] = await r.json()
        return out


async def fills_total(session: aiohttp.ClientSession, base: str) -> int:
    async with session.get(base + "/v1/fills", params={"perPage": "1"}) as r:
        return int((await r.json())["total"])


def session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency + 4, force_close=False),
        timeout=aiohttp.ClientTimeout(total=60),
    )


# -- 1. validation in-process ------------------------------------------------------------------


async def bench_validation(
    deployment: Deployment,
    signer: Signer,
    workdir: Path,
    n: int,
    pids: dict[str, int],
    profile: Path | None,
) -> dict[str, Any]:
    orders = signer.resting(n, list(range(OPERATOR)))
    objs = [o.to_json() for o in orders]
    cfg = NodeConfig.from_deployment(
        deployment, signer.keys[OPERATOR], workdir / "inproc.db", port=free_port()
    )
    async with serve(cfg) as node:
        intake = node.intake

        def offchain(objs: list[dict[str, str]]) -> float:
            t0 = time.perf_counter()
            for obj in objs:
                signed = intake.check_offchain(obj)
                if not isinstance(signed, SignedOrder):
                    raise RuntimeError(f"rejected off-chain: {signed}")
                if recover_signer(signed.hash, signed.signature) != signed.order.maker:
                    raise RuntimeError("signature does not recover to the maker")
            return time.perf_counter() - t0

        def parts(objs: list[dict[str, str]]) -> dict[str, float]:
            """Microseconds per order: the parse + EIP-712 hash alone, all of
            ``check_offchain`` (which includes them), and the ECDSA recovery."""
            clock = time.perf_counter
            spent = {"parse_and_hash": 0.0, "check_offchain": 0.0, "ecdsa_recover": 0.0}
            for obj in objs:
                t0 = clock()
                SignedOrder.from_json(obj, node.domain)
                t1 = clock()
                signed = intake.check_offchain(obj)
                t2 = clock()
                assert isinstance(signed, SignedOrder)
                recover_signer(signed.hash, signed.signature)
                t3 = clock()
                spent["parse_and_hash"] += t1 - t0
                spent["check_offchain"] += t2 - t1
                spent["ecdsa_recover"] += t3 - t2
            return {k: round(1e6 * v / len(objs), 1) for k, v in spent.items()}

        offchain(objs[:500])  # warm-up
        with CpuMeter(pids) as cpu_offchain:
            seconds = offchain(objs)
        micro = parts(objs[: min(n, 5000)])

        async def full(objs: list[dict[str, str]], concurrency: int) -> float:
            work = iter(objs)
            bad: list[object] = []

            async def worker() -> None:
                for obj in work:
                    r = await intake.submit(obj)
                    if not isinstance(r, Accepted) and len(bad) < 3:
                        bad.append(r)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            if bad:
                raise RuntimeError(f"intake rejected: {bad}")
            return time.perf_counter() - t0

        await full(objs[:1000], 512)  # warm-up
        calls0 = node.batcher.calls
        with CpuMeter(pids) as cpu_full:
            full_seconds = await full(objs, 512)
        calls = node.batcher.calls - calls0

        if profile is not None:
            prof = cProfile.Profile()
            prof.enable()
            offchain(objs)
            prof.disable()
            prof.dump_stats(profile / "validation_offchain.prof")
            prof = cProfile.Profile()
            prof.enable()
            await full(objs, 512)
            prof.disable()
            prof.dump_stats(profile / "validation_full.prof")

    return {
        "orders": n,
        "offchain_checks_and_signature": {
            "orders_per_s": round(n / seconds),
            "us_per_order": round(1e6 * seconds / n, 1),
            "us_per_order_split": micro,
            "cpu_cores_used": cpu_offchain.cores,
        },
        "full_intake_with_chain_read": {
            "orders_per_s": round(n / full_seconds),
            "concurrent": 512,
            "chain_state_calls": calls,
            "orders_per_chain_call": round(n / max(1, calls), 1),
            "cpu_cores_used": cpu_full.cores,
        },
    }


# -- 2. orders accepted over HTTP ---------------------------------------------------------------


async def bench_http(
    url: str, signer: Signer, n: int, concurrency: int, pids: dict[str, int]
) -> dict[str, Any]:
    orders = signer.resting(n + 500, list(range(OPERATOR)))
    bodies = [body(o) for o in orders]
    # the reference just before and just after the node's round (the node idles meanwhile):
    # the ratio is taken against their mean, so a load that comes or goes moves both sides
    ref_before = await trivial_reference(bodies[500:], concurrency)
    # (``/health`` asked on a connection of its own: with fronts, ``sdex node --fronts``, a
    # connection whose request is not an order passes to the node and stays there)
    async with session(concurrency) as s, session(1) as side:
        await post_all(s, url + "/v1/orders", bodies[:500], concurrency)  # warm-up
        h0 = await health(side, url)
        gc0 = h0.get("gossip", {}).get("gc", {})
        fronts = {f"front{i}": p for i, p in enumerate(h0.get("fronts", {}).get("pids", []))}
        main0 = cpu_seconds(pids["node"], pids["node"])  # the event loop's thread
        with CpuMeter({**pids, **fronts}) as cpu:
            r = await post_all(s, url + "/v1/orders", bodies[500:], concurrency)
        main_cpu = cpu_seconds(pids["node"], pids["node"]) - main0
        h = await health(side, url)
        node_loop = event_loop_of(pids["node"])
    if r["statuses"] != {"201": n}:
        raise RuntimeError(f"HTTP posts: {r['statuses']} {r['errors']}")
    ref_after = await trivial_reference(bodies[500:], concurrency)
    refs = (ref_before, ref_after)
    trivial_per_s = statistics.fmean(n / x["seconds"] for x in refs)
    trivial_cpu_us = statistics.fmean(x["cpu_us_per_request"] for x in refs)
    front_us = 1e6 * sum(cpu.cores[k] for k in fronts) * r["seconds"] / n
    node_cpu_us = 1e6 * cpu.cores["node"] * r["seconds"] / n + front_us  # (all its processes)
    main_us = 1e6 * main_cpu / n
    return {
        "event_loops": {"node": node_loop, "trivial_handler": ref_after["event_loop"]},
        "trivial_aiohttp_handler_per_s": round(trivial_per_s),
        "trivial_before_and_after_per_s": [round(n / x["seconds"]) for x in refs],
        "ratio_node_over_trivial": round(n / r["seconds"] / trivial_per_s, 3),
        "cpu_us_per_request": {
            "node": round(node_cpu_us, 1),
            "trivial_handler": round(trivial_cpu_us, 1),
            "ratio_trivial_over_node": round(trivial_cpu_us / node_cpu_us, 3),
            "node_event_loop_thread": round(main_us, 1),
            "node_other_threads": round(max(0.0, node_cpu_us - front_us - main_us), 1),
            "node_front_processes": round(front_us, 1),
        },
        "chain_calls": h.get("chainMirror", {}),
        **({"fronts": h["fronts"]} if "fronts" in h else {}),
        "node_gc": node_gc(gc0, h.get("gossip", {}).get("gc", {}), n),
        "orders": n,
        "concurrency": concurrency,
        "accepted_per_s": round(n / r["seconds"]),
        "seconds": round(r["seconds"], 3),
        "statuses": r["statuses"],
        "post_latency_ms": {"p50": pct(r["latencies"], 0.5), "p99": pct(r["latencies"], 0.99)},
        "cpu_cores_used": cpu.cores,
        "node_open_orders": h["openOrders"],
        "chain_state_calls": h["chainStateCalls"],
    }


def node_gc(before: dict[str, Any], after: dict[str, Any], n: int) -> dict[str, Any]:
    """The node's garbage collections over the round (``/health``'s ``gossip.gc`` before and
    after it): how many of each generation, their CPU per order, and the longest one's CPU
    since the node started. Empty if the node does not say (an older tree's)."""
    if not before or not after:
        return {}
    runs = [b - a for a, b in zip(before["byGeneration"], after["byGeneration"], strict=True)]
    cpu = after["cpuSeconds"] - before["cpuSeconds"]
    return {
        "collections_by_generation": runs,
        "cpu_us_per_order": round(1e6 * cpu / n, 1),
        "longest_cpu_ms_by_generation": [
            round(1e3 * x, 2) for x in after["longestCpuByGeneration"]
        ],
    }


def event_loop_of(pid: int) -> str:
    """Which event loop a running process serves on: uvloop if its extension module is
    mapped, else asyncio's own (the node and the reference should match: a faster loop
    under one of them alone would move the ratio, not the handlers)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    return "uvloop" if "/uvloop/loop." in maps else "asyncio"


async def answering(s: aiohttp.ClientSession, url: str, body: bytes) -> None:
    """Once a server just started answers a POST of ``body`` to ``url`` 201 (within 10 s)."""
    for _ in range(200):
        try:
            async with s.post(url, data=body, headers=JSON_HEADERS) as r:
                if r.status == 201:
                    return
        except aiohttp.ClientError:
            await asyncio.sleep(0.05)


async def trivial_reference(bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    """The same bodies, the same client, to bench/trivial_server.py in its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "trivial_server.py"), str(port)],
        stdin=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/orders"
        async with session(concurrency) as s:
            await answering(s, url, bodies[0])
            await post_all(s, url, bodies[:500], concurrency)  # warm-up
            c0 = cpu_seconds(proc.pid)
            out = await post_all(s, url, bodies, concurrency)
            out["cpu_us_per_request"] = 1e6 * (cpu_seconds(proc.pid) - c0) / len(bodies)
            out["event_loop"] = event_loop_of(proc.pid)
            return out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- 3. order-to-receipt latency -----------------------------------------------------------------


class FillWatcher:
    """Reads the node's websocket; records when each order's settlement was announced.

    Both events are published once the settlement's receipt is in: the ``fill`` event and
    the ``order`` event that moves the order to ``filled``. The first of the two counts;
    ``fill_events`` and ``filled_events`` tell which ones arrived at all."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.fill_events: dict[str, float] = {}
        self.filled_events: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.closed = False

    async def run(self) -> None:
        try:
            await self._read()
        finally:  # the node closed the websocket (e.g. this reader fell behind): say so
            self.closed = True
            for fut in self.waiters.values():
                if not fut.done():
                    fut.set_exception(RuntimeError(f"the node's websocket closed: {self.ws}"))

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(msg.data)
            now = time.perf_counter()
            if event.get("type") == "fill":
                h = event["orderHash"]
                self.fill_events.setdefault(h, now)
            elif event.get("type") == "order" and event.get("event") == "filled":
                h = event["metaData"]["orderHash"]
                self.filled_events.setdefault(h, now)
            else:
                continue
            fut = self.waiters.pop(h, None)
            if fut is not None and not fut.done():
                fut.set_result(now)

    def first(self, order_hash: str) -> float | None:
        seen = [d[order_hash] for d in (self.fill_events, self.filled_events) if order_hash in d]
        return min(seen) if seen else None

    async def wait(self, order_hash: str, timeout: float = 30.0) -> float:
        at = self.first(order_hash)
        if at is not None:
            return at
        if self.closed:
            raise RuntimeError(f"the node's websocket closed: {self.ws}")
        fut = self.waiters[order_hash] = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(fut, timeout)


async def bench_latency(
    url: str, signer: Signer, samples: int, pids: dict[str, int]
) -> dict[str, Any]:
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    pairs = []
    for i in range(samples + 10):
        ask = signer.order(ASK_MAKERS[i % len(ASK_MAKERS)], True, MID)
        bid = signer.order(BID_MAKERS[i % len(BID_MAKERS)], False, MID)
        pairs.append((body(ask), body(bid), bid.hash_hex))
    post_ms: list[float] = []
    receipt_ms: list[float] = []

    async def sample(s: aiohttp.ClientSession, watcher: FillWatcher, i: int) -> None:
        ask, bid, bid_hash = pairs[i]
        async with s.post(url + "/v1/orders", data=ask, headers=JSON_HEADERS) as r:
            if r.status != 201:
                raise RuntimeError(f"resting order: {r.status} {await r.text()}")
        t0 = time.perf_counter()
        async with s.post(url + "/v1/orders", data=bid, headers=JSON_HEADERS) as r:
            if r.status != 201:
                raise RuntimeError(f"crossing order: {r.status} {await r.text()}")
            await r.read()
        t1 = time.perf_counter()
        try:
            filled_at = await watcher.wait(bid_hash)
        except TimeoutError:
            async with s.get(f"{url}/v1/orders/{bid_hash}") as r:
                rec = await r.json()
            raise RuntimeError(
                f"no fill event for crossing order {i} in 30 s: {rec['metaData']}, "
                f"node {await health(s, url)}"
            ) from None
        if i >= 10:  # the first ten warm up the node's settlement path
            post_ms.append(t1 - t0)
            receipt_ms.append(filled_at - t0)
            sent[bid_hash], answered[bid_hash] = t0, t1

    async with session(4) as s, s.ws_connect(url + "/v1/ws") as ws:
        watcher = FillWatcher(ws)
        reader = asyncio.create_task(watcher.run())
        try:
            with CpuMeter(pids) as cpu:
                for i in range(len(pairs)):
                    await sample(s, watcher, i)
            await asyncio.sleep(0.5)  # late events of the last sample
        finally:
            reader.cancel()
        measured = [h for _, _, h in pairs[10:]]
        no_fill_event = sum(h not in watcher.fill_events for h in measured)
        no_filled_event = sum(h not in watcher.filled_events for h in measured)
        async with s.get(f"{url}/v1/orders/{pairs[-1][2]}") as r:
            last = await r.json()
    if last["metaData"]["status"] != "filled":
        raise RuntimeError(f"last crossing order is {last['metaData']['status']}, not filled")
    timeline = timeline_stages(url, sent, answered, watcher)
    return {
        **({"timeline_ms": timeline} if timeline is not None else {}),
        "samples": samples,
        "measured_until": "first websocket event of the settled fill (fill, order filled)",
        "order_to_receipt_ms": {
            "p50": pct(receipt_ms, 0.5),
            "p99": pct(receipt_ms, 0.99),
            "mean": round(1000 * statistics.fmean(receipt_ms), 2),
        },
        "post_response_ms": {"p50": pct(post_ms, 0.5), "p99": pct(post_ms, 0.99)},
        "websocket_events_missing": {
            "fill": no_fill_event,
            "order_filled": no_filled_event,
        },
        "cpu_cores_used": cpu.cores,
    }


async def bench_latency_under_load(
    url: str, signer: Signer, rate: float, seconds: float, pids: dict[str, int]
) -> dict[str, Any]:
    """Order-to-receipt under load, automine: resting asks first, then crossing bids posted
    open-loop at ``rate`` a second for ``seconds`` (each at its scheduled time, whatever the
    earlier ones are doing); for every bid, the time from its POST until the websocket
    delivered its settlement (``fill`` or ``order filled``, the first)."""
    n = max(1, round(rate * seconds))
    asks = [body(signer.order(ASK_MAKERS[i % len(ASK_MAKERS)], True, MID)) for i in range(n)]
    bids = [signer.order(BID_MAKERS[i % len(BID_MAKERS)], False, MID) for i in range(n)]
    sent: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    answered: list[float] = []
    errors: list[str] = []
    async with session(64) as s, s.ws_connect(url + "/v1/ws") as ws:
        r = await post_all(s, url + "/v1/orders", asks, 16)
        if r["statuses"] != {"201": n}:
            raise RuntimeError(f"resting asks: {r['statuses']} {r['errors']}")
        watcher = FillWatcher(ws)
        reader = asyncio.create_task(watcher.run())
        h0 = await health(s, url)

        async def post(signed: SignedOrder, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            t = time.perf_counter()
            async with s.post(url + "/v1/orders", data=body(signed), headers=JSON_HEADERS) as r:
                if r.status != 201 and len(errors) < 3:
                    errors.append(f"{r.status} {(await r.text())[:200]}")
                await r.read()
            sent[signed.hash_hex] = t
            answered_at[signed.hash_hex] = time.perf_counter()
            answered.append(answered_at[signed.hash_hex] - t)

        try:
            with CpuMeter(pids) as cpu:
                t0 = time.perf_counter() + 0.2
                await asyncio.gather(*(post(b, t0 + i / rate) for i, b in enumerate(bids)))
                posted = time.perf_counter() - t0
                with contextlib.suppress(TimeoutError):
                    await asyncio.gather(*(watcher.wait(h, 30.0) for h in sent))
                done = time.perf_counter() - t0
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        h1 = await health(s, url)
    if errors:
        raise RuntimeError(f"crossing bids refused: {errors}")
    waits = [at - sent[h] for h in sent if (at := watcher.first(h)) is not None]
    settled = h1["matchesSettled"] - h0["matchesSettled"]
    txs = h1["settlementsSent"] - h0["settlementsSent"]
    timeline = timeline_stages(url, sent, answered_at, watcher)
    chain_cores = max(cpu.cores.get(k, 0.0) for k in ("hardhat", "anvil"))
    return {
        **({"timeline_ms": timeline} if timeline is not None else {}),
        "offered_matches_per_s": rate,
        "seconds": seconds,
        "crossing_orders": n,
        "settled_seen_on_websocket": len(waits),
        "settled_matches_per_s": round(settled / done),
        "seconds_posting": round(posted, 3),
        "order_to_receipt_ms": {
            "p50": pct(waits, 0.5),
            "p90": pct(waits, 0.9),
            "p99": pct(waits, 0.99),
            "max": pct(waits, 1.0),
        },
        "post_response_ms": {"p50": pct(answered, 0.5), "p99": pct(answered, 0.99)},
        "settlement_transactions": txs,
        "matches_per_transaction": round(settled / max(1, txs), 1),
        "failed": h1["matchesFailed"] - h0["matchesFailed"],
        "chain_calls_per_transaction": _calls_per_tx(h0, h1, txs),
        "chain_calls_per_match": _calls_per_tx(h0, h1, settled, 4),
        "receipts_with_send": _with_send(h0, h1),
        "settlement_stages_ms_per_match": _stages(h0, h1),
        "cpu_cores_used": cpu.cores,
        # CPU per crossing order (node, bench) and per settlement transaction (the chain):
        # the node's own cost at this load, and what Hardhat spends on each block it mines
        "cpu_ms": {
            "node_per_order": round(1000 * cpu.cores.get("node", 0.0) * cpu.wall / n, 2),
            "chain_per_transaction": round(1000 * chain_cores * cpu.wall / max(1, txs), 2),
        },
    }


def _with_send(h0: dict[str, Any], h1: dict[str, Any]) -> dict[str, int] | None:
    """Receipts asked in the send's own batch, and those answered with none (polled from
    the event loop), from ``h0`` to ``h1``; None for a node that does not report them."""
    a0, a1 = h0.get("settlementReceiptsWithSend"), h1.get("settlementReceiptsWithSend")
    if a0 is None or a1 is None:
        return None
    keys = ("asked", "missed", "syncSends", "syncTimeouts")
    return {k: a1[k] - a0[k] for k in keys if k in a0 and k in a1}


TIMELINE_STAGES = (
    ("post_to_201", "post", "answered"),
    ("post_to_matched", "post", "submitted"),
    ("matched_to_batch", "submitted", "formed"),
    ("signed", "formed", "signed"),
    ("recorded", "signed", "recorded"),
    ("chain_wait", "recorded", "send_start"),
    ("send", "send_start", "send_end"),
    ("receipt", "send_end", "receipt"),
    ("applied", "receipt", "applied"),
    ("applied_to_ws_read", "applied", "ws"),
    ("receipt_to_ws_read", "receipt", "ws"),
    ("total", "post", "ws"),
)
"""``--timeline``: each stage of a crossing order's way, between two of its timestamps."""


HIST_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""``--timeline``: each stage's histogram counts the orders whose span fell below each edge
(and not below the one before); the last count is of those at ``HIST_EDGES_MS[-1]`` or more."""


def histogram(spans: list[float]) -> list[int]:
    """Counts of ``spans`` (seconds) per bucket of ``HIST_EDGES_MS`` (one more: the rest)."""
    counts = [0] * (len(HIST_EDGES_MS) + 1)
    for v in spans:
        counts[bisect.bisect_right(HIST_EDGES_MS, 1000 * v)] += 1
    return counts


def timeline_stages(
    url: str, sent: dict[str, float], answered: dict[str, float], watcher: FillWatcher
) -> dict[str, Any] | None:
    """Per stage, p50 / p99 ms over the crossing orders ``sent`` (POST times): the bench's
    own timestamps (POST, 2xx, websocket event read) set beside the settler's per batch
    (``SDEX_SETTLE_TIMELINE``, the same monotonic clock); None without ``--timeline``."""
    path = (TIMELINES or {}).get(url)
    if path is None or not path.exists():
        return None
    ways: dict[str, dict[str, float]] = {}
    batches: list[dict[str, float]] = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        names = ("formed", "signed", "recorded", "send_start", "send_end", "receipt", "applied")
        batch = dict(zip(names, row["batch"], strict=True))
        batches.append(batch)
        for h, sub in zip(row["incoming"], row["submitted"], strict=True):
            if h in sent and h in answered and (ws := watcher.first(h)) is not None:
                ways[h] = {"post": sent[h], "answered": answered[h], "submitted": sub,
                           "ws": ws, **batch}  # fmt: skip
    out: dict[str, Any] = {"orders": {"n": len(ways)}}
    if not ways:
        return out
    out["hist_edges_ms"] = list(HIST_EDGES_MS)
    for name, a, b in TIMELINE_STAGES:
        spans = [w[b] - w[a] for w in ways.values()]
        out[name] = {"p50": pct(spans, 0.5), "p90": pct(spans, 0.9), "p99": pct(spans, 0.99),
                     "hist": histogram(spans)}  # fmt: skip
    # The chain thread between two sends (one send's end to the next one's start; the next
    # formed after that end): what an automine chain idles while the node forms, signs and
    # records the next batch. Gaps of 50 ms and more (no match waiting) are left out.
    batches.sort(key=lambda b: b["send_start"])
    pairs = [
        (p, n) for p, n in itertools.pairwise(batches) if n["send_start"] - p["send_end"] < 0.05
    ]
    for name, spans in (
        ("between_sends", [n["send_start"] - p["send_end"] for p, n in pairs]),
        ("send_end_to_formed", [n["formed"] - p["send_end"] for p, n in pairs]),
    ):
        if spans:
            out[name] = {"p50": pct(spans, 0.5), "p99": pct(spans, 0.99), "n": len(spans)}
    return out


def _stages(h0: dict[str, Any], h1: dict[str, Any]) -> dict[str, float] | None:
    """The settler's mean milliseconds per match in each stage (sdex/settlement/stages.py),
    over the matches settled from ``h0`` to ``h1``; None from a node that does not tell."""
    a, b = h0.get("settlementStagesMs"), h1.get("settlementStagesMs")
    if a is None or b is None or b["matches"] <= a["matches"]:
        return None
    n = b["matches"] - a["matches"]
    return {
        k: round((b[k] * b["matches"] - a[k] * a["matches"]) / n, 2) for k in b if k != "matches"
    }


# -- 4. settled matches per second when busy -------------------------------------------------------


async def bench_matches(
    url: str, signer: Signer, n: int, concurrency: int, pids: dict[str, int], timeout: float
) -> dict[str, Any]:
    # one price for all: each bid fills exactly one ask (a better bid price would leave the
    # bid a remainder after its price improvement, which matches again in dust)
    asks = [body(signer.order(ASK_MAKERS[i % len(ASK_MAKERS)], True, MID)) for i in range(n)]
    bids = [body(signer.order(BID_MAKERS[i % len(BID_MAKERS)], False, MID)) for i in range(n)]
    async with session(concurrency) as s:
        r = await post_all(s, url + "/v1/orders", asks, concurrency)
        if r["statuses"] != {"201": n}:
            raise RuntimeError(f"resting asks: {r['statuses']} {r['errors']}")
        h0 = await health(s, url)
        fills0 = await fills_total(s, url)
        trace: list[tuple[float, int]] = []
        target = n  # lowered to what was posted if the deadline cut the posting short

        async def poll() -> None:
            while True:
                h = await health(s, url)
                settled = h["matchesSettled"] - h0["matchesSettled"]
                trace.append((time.perf_counter(), settled))
                if settled + h["matchesFailed"] - h0["matchesFailed"] >= target:
                    return
                await asyncio.sleep(0.1)  # /health counts every record: poll gently

        with CpuMeter(pids) as cpu:
            t0 = time.perf_counter()
            poller = asyncio.create_task(poll())
            r = await post_all(s, url + "/v1/orders", bids, concurrency, t0 + timeout)
            posted = time.perf_counter() - t0
            target = r["posted"]
            try:
                await asyncio.wait_for(poller, timeout=max(1.0, t0 + timeout - time.perf_counter()))
                complete = target == n
            except TimeoutError:
                complete = False
            total = trace[-1][0] - t0
        h1 = await health(s, url)
        fills = await fills_total(s, url) - fills0
    if r["statuses"] != {"201": r["posted"]}:
        raise RuntimeError(f"crossing bids: {r['statuses']} {r['errors']}")
    settled = h1["matchesSettled"] - h0["matchesSettled"]
    txs = h1["settlementsSent"] - h0["settlementsSent"]
    # sustained: the rate between 10% and 90% of the matches settled (no ramp-up or tail)
    lo = next((t for t, k in trace if k >= 0.1 * n), None)
    hi = next((t for t, k in trace if k >= 0.9 * n), None)
    return {
        "matches": n,
        "concurrency": concurrency,
        "complete": complete,
        "crossing_orders_posted": r["posted"],
        "settled": settled,
        "failed": h1["matchesFailed"] - h0["matchesFailed"],
        "settled_matches_per_s": round(settled / total),
        "sustained_10_to_90_percent_per_s": (
            round(0.8 * n / (hi - lo)) if lo is not None and hi is not None and hi > lo else None
        ),
        "seconds_first_post_to_all_settled": round(total, 3),
        "seconds_to_post_crossing_orders": round(posted, 3),
        "crossing_orders_accepted_per_s": round(r["posted"] / posted),
        "settlement_transactions": txs,
        "matches_per_transaction": round(settled / max(1, txs), 1),
        "fills_recorded": fills,
        "cpu_cores_used": cpu.cores,
    }


# -- 5. settlement at the chain's speed, beside a raw sender -----------------------------------

RAW_SENDER = 18  # dev account of the raw reference sender (never a maker here)
RAW_BATCH = 64
BLOCK_TIME: list[float | None] = [None]
"""anvil's interval mining (``--anvil-block-time``), else None (automine)."""
RAW_IN_FLIGHT = 1
"""Raw batches sent ahead of the receipt the raw sender waits for (``--raw-in-flight``)."""


MINER_SCRIPT = """
import json, sys, time, urllib.request
url, interval = sys.argv[1], float(sys.argv[2])
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}).encode()
while True:
    t = time.perf_counter()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()
    time.sleep(max(0.0, interval - (time.perf_counter() - t)))
"""


class IntervalMiner:
    """Blocks every ``interval`` seconds by ``evm_mine`` from a process of its own (a thread
    here was starved by the bench's client: 31 blocks in 5.9 s at 0.05 s), in place of
    anvil's own interval mining (``--block-time``), which a JSON-RPC call can stop
    (``evm_setIntervalMining 0``) but not start again below a second: a node round pauses
    the miner (SIGSTOP; a block under way ends) while its orders are posted. A block mined
    so is anvil's interval block (the same miner takes the whole pool)."""

    def __init__(self, rpc_url: str, interval: float) -> None:
        rpc = Rpc(rpc_url)
        try:
            rpc.call("evm_setIntervalMining", 0)  # (anvil's own timer stops)
        finally:
            rpc.close()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", MINER_SCRIPT, rpc_url, str(interval)],
            stdout=subprocess.DEVNULL,
        )

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        self.proc.wait(10)


MINER: list[IntervalMiner | None] = [None]
FOREIGN = 18
"""Dev account of ``--foreign-every``'s transfers (neither a maker nor the operator here)."""


@contextlib.contextmanager
def foreign_blocks(rpc_url: str, deployment: Deployment, every: float) -> Iterator[list[int]]:
    """Meanwhile, with ``every`` > 0: another party's transaction every ``every`` seconds
    (``FOREIGN`` sends itself 1 wei of WETH: a block of its own on automine, a listed
    token's ``Transfer`` the node's watcher reads), as other relayers' settlements and
    wallets' transfers are on a shared chain. A node holds its signing while such a block
    is known and not applied (``sdex.watch.unapplied``): this is the traffic that hold
    costs. Yields [blocks sent]."""
    sent = [0]
    if every <= 0:
        yield sent
        return
    stop = threading.Event()
    rpc = Rpc(rpc_url)
    sender = Sender(rpc, bytes.fromhex(deployment.accounts[FOREIGN].key.removeprefix("0x")))
    weth = deployment.tokens["WETH"].address
    me = bytes.fromhex(sender.address[2:].lower()).rjust(32, b"\0")
    data = bytes.fromhex("a9059cbb") + me + (1).to_bytes(32, "big")

    def run() -> None:
        while not stop.wait(every):
            try:
                sender.wait(sender.send(weth, data, gas=60_000), timeout=30)
                sent[0] += 1
            except Exception as e:  # (the bench goes on: said once)
                print(f"foreign transfer failed: {e!r}", file=sys.stderr)
                return

    t = threading.Thread(target=run, name="foreign blocks", daemon=True)
    t.start()
    try:
        yield sent
    finally:
        stop.set()
        t.join(40)


def signing_holds(url: str) -> Any:
    """The node's ``/health`` ``chainMirror.unapplied`` (None on a tree without it)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/health", timeout=10) as r:
            got = json.loads(r.read())
    except urllib.error.HTTPError as e:  # (503 while degraded: the body says)
        got = json.loads(e.read())
    return got.get("chainMirror", {}).get("unapplied")


@contextlib.contextmanager
def interval_mining(rpc_url: str) -> Iterator[None]:
    """With ``--anvil-block-time``, the interval miner runs (``MINER``) meanwhile."""
    if BLOCK_TIME[0] is not None:
        MINER[0] = IntervalMiner(rpc_url, BLOCK_TIME[0])
    try:
        yield
    finally:
        if MINER[0] is not None:
            MINER[0].close()
            MINER[0] = None


def set_mining(rpc: Rpc, on: bool) -> None:
    """A node round's pause (``on`` False) and resume: automine, or the interval miner."""
    miner = MINER[0]
    if miner is None:
        rpc.call("evm_setAutomine", on)
    elif on:
        miner.resume()
    else:
        miner.pause()


RAW_WAIT = "poll"
"""How the raw sender waits for a batch's receipt (``--raw-wait``): ``poll``, asked from 5 ms
on, doubling (``Sender.wait``: its steps, 5/15/35/75 ms, set a batch's time on anvil, which
mines after answering the send); ``sync``, ``eth_sendRawTransactionSync`` (anvil: answered
with the receipt once mined)."""


def raw_batch_tx(
    signer: Signer,
    sender: Sender,
    ex: Exchange,
    first: int,
    size: int = RAW_BATCH,
    gas: int | None = None,
) -> SignedTx:
    """One ``batchMatchOrders`` of ``size`` crossing pairs, signed by ``sender``: the pairs
    ``first`` to ``first + size - 1`` of the bench's makers, at ``MID`` (``gas``: its gas
    limit, else the settler's bound)."""
    from sdex.settlement.gas import settlement_gas

    matches = []
    for k in range(first, first + size):
        ask = signer.order(ASK_MAKERS[k % len(ASK_MAKERS)], True, MID)
        bid = signer.order(BID_MAKERS[k % len(BID_MAKERS)], False, MID)
        matches.append((ask, bid, 2**256 - 1))
    return sender.sign(ex.address, ex.encode_batch(matches), gas or settlement_gas(size))


def raw_batches(
    rpc_url: str,
    deployment: Deployment,
    signer: Signer,
    batches: int,
    pids: dict[str, int],
    size: int = RAW_BATCH,
) -> dict[str, Any]:
    """``batches`` pre-signed ``batchMatchOrders`` of ``size`` sent one after the other
    by a bare client, each waiting for its receipt: matches per second, and the chain's CPU
    per match."""
    from sdex.chain import Receipt, Rpc, Sender

    rpc = Rpc(rpc_url)
    try:
        ex = Exchange(rpc, deployment.exchange)
        sender = Sender(rpc, signer.keys[RAW_SENDER], deployment.chain_id)
        signed_txs = [raw_batch_tx(signer, sender, ex, b * size, size) for b in range(batches)]
        settled = 0
        gas = 0
        faults = CHAIN_FAULTS if window_sampler == "chain_faults" else None
        with (
            window_profile(faults, pids["hardhat"], f"raw{len(RAW_ROUNDS_SEEN)}"),
            CpuMeter(pids) as cpu,
        ):
            RAW_ROUNDS_SEEN.append(batches)
            us0, th0 = cpu_user_sys(pids["hardhat"]), thread_split(pids["hardhat"])
            block0 = int(rpc.call("eth_blockNumber"), 16)
            t0 = time.perf_counter()
            ahead: list[SignedTx] = []
            for i, tx in enumerate(signed_txs):
                receipts = []
                if RAW_IN_FLIGHT > 1:  # (sent plain, the oldest waited for once N are out)
                    sender.broadcast(tx)
                    ahead.append(tx)
                    if len(ahead) == RAW_IN_FLIGHT or i == len(signed_txs) - 1:
                        receipts = [sender.wait(t.tx_hash) for t in ahead]
                        ahead.clear()
                elif RAW_WAIT == "sync":
                    raw, _ = sender.broadcast_sync(tx, 5.0)
                    receipts = [sender.wait(tx.tx_hash) if raw is None else Receipt.from_rpc(raw)]
                else:
                    sender.broadcast(tx)
                    receipts = [sender.wait(tx.tx_hash)]
                for receipt in receipts:
                    if receipt.status != 1:
                        raise RuntimeError(f"raw batch {receipt.tx_hash} reverted")
                    settled += len(ex.fills(receipt.logs)) // 2
                    gas += receipt.gas_used
            seconds = time.perf_counter() - t0
            blocks = int(rpc.call("eth_blockNumber"), 16) - block0
            split = user_sys_per_match(us0, pids["hardhat"], max(1, settled))
            threads = thread_split_per_match(th0, pids["hardhat"], max(1, settled))
    finally:
        rpc.close()
    if settled != batches * size:
        raise RuntimeError(f"raw sender settled {settled} of {batches * size}")
    held, CHAIN_HELD[0] = CHAIN_HELD[0], CHAIN_HELD[0] + settled
    return {
        "chain_matches_held_before": held,
        "batches": batches,
        "batch_size": size,
        "blocks": blocks,
        "matches": settled,
        "seconds": round(seconds, 3),
        "matches_per_s": round(settled / seconds),
        "gas_per_match": round(gas / settled),
        "chain_cpu_ms_per_match": round(1000 * cpu.cores["hardhat"] * seconds / settled, 3),
        **split,
        "chain_threads_per_match": threads,
        "cpu_cores_used": cpu.cores,
    }


def bare_lone(
    rpc_url: str, deployment: Deployment, signer: Signer, n: int, engine: str = "hardhat"
) -> dict[str, Any]:
    """The chain's own time for what a lone crossing costs the settler, from a bare client
    (the same ``Sender``, one at a time, ``n`` fresh pairs, a few warm-up sends first): the
    signature and the ``matchOrders`` send with its receipt in one round trip (Hardhat: a
    JSON-RPC batch; anvil: ``eth_sendRawTransactionSync``); p50 / p99 ms each. The floor
    under the node's order-to-receipt of one crossing. Beside them, for comparison, what
    the settler no longer does: a pre-flight (``eth_call``) of that ``matchOrders``, and a
    batch of one (``batchMatchOrders``, which needs none) instead of it, with the gas of each."""
    from sdex.chain import Receipt, Rpc, Sender
    from sdex.settlement.gas import LONE_GAS, settlement_gas

    rpc = Rpc(rpc_url)
    names = ("preflight", "sign", "send_and_receipt", "batch_of_one_send_and_receipt")
    spans: dict[str, list[float]] = {k: [] for k in names}
    gas: dict[str, int] = {}
    missed = [0]
    try:
        ex = Exchange(rpc, deployment.exchange)
        sender = Sender(rpc, signer.keys[RAW_SENDER], deployment.chain_id)

        def send(data: bytes, limit: int) -> tuple[float, float, int]:
            t0 = time.perf_counter()
            tx = sender.sign(ex.address, data, limit)
            t1 = time.perf_counter()
            if engine == "anvil":
                raw, _ = sender.broadcast_sync(tx, 5.0)
            else:
                raw = sender.broadcast_for_receipt(tx)
            t2 = time.perf_counter()
            missed[0] += raw is None  # (the chain answered before its receipt could be read)
            receipt = sender.wait(tx.tx_hash) if raw is None else Receipt.from_rpc(raw)
            if receipt.status != 1 or len(ex.fills(receipt.logs)) != 2:
                raise RuntimeError(f"bare lone match {tx.tx_hash} did not settle")
            return t1 - t0, t2 - t1, receipt.gas_used

        for i in range(n + 5):
            pair = [signer.order(ASK_MAKERS[i % len(ASK_MAKERS)], True, MID),
                    signer.order(BID_MAKERS[i % len(BID_MAKERS)], False, MID)]  # fmt: skip
            data = ex.encode_settlement([(pair[0], pair[1], 2**256 - 1)])
            t0 = time.perf_counter()
            sender.preflight(ex.address, data)
            pre = time.perf_counter() - t0
            signing, sending, gas["match_orders"] = send(data, LONE_GAS)
            pair = [signer.order(ASK_MAKERS[i % len(ASK_MAKERS)], True, MID),
                    signer.order(BID_MAKERS[i % len(BID_MAKERS)], False, MID)]  # fmt: skip
            data = ex.encode_batch([(pair[0], pair[1], 2**256 - 1)])
            _, one, gas["batch_of_one"] = send(data, settlement_gas(1))
            if i >= 5:
                for name, span in zip(names, (pre, signing, sending, one), strict=True):
                    spans[name].append(span)
    finally:
        rpc.close()
    return {
        **{k: {"p50": pct(v, 0.5), "p99": pct(v, 0.99)} for k, v in spans.items()},
        "gas_last": gas,
        "receipt_not_with_send": f"{missed[0]} of {2 * (n + 5)}",
    }


async def node_round(
    url: str,
    rpc_url: str,
    signer: Signer,
    n: int,
    concurrency: int,
    pids: dict[str, int],
    profile: Path | None = None,
    proxy: str | None = None,
) -> dict[str, Any]:
    """``n`` matches queued in the node while mining is paused; then the time from resuming
    mining until the websocket delivered all ``2 n`` fills. With ``profile``, py-spy samples
    the node over that window only (``node-settle-window.raw``); with ``proxy`` (the URL of
    bench/rpcproxy.py between the node and the chain), the node's chain calls over that
    window by method, with the chain's service time."""
    from sdex.chain import Rpc

    asks = [body(signer.order(ASK_MAKERS[i % len(ASK_MAKERS)], True, MID)) for i in range(n)]
    bids = [body(signer.order(BID_MAKERS[i % len(BID_MAKERS)], False, MID)) for i in range(n)]
    rpc = Rpc(rpc_url)
    fills = 0
    done = asyncio.Event()
    times: list[float] = []
    kinds: Counter[str] = Counter()  # (the websocket's events in the timed window, by kind)
    timing = [False]
    async with session(concurrency) as s, s.ws_connect(url + "/v1/ws") as ws:
        last = 0.0

        async def count() -> None:
            nonlocal fills, last
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(msg.data)
                if timing[0]:
                    kinds[f"{event.get('type')}:{event.get('event')}"] += 1
                if event.get("type") == "fill" and event.get("event") != "reverted":
                    fills += 1
                    last = time.perf_counter()
                    times.append(last)
                    if fills >= 2 * n:
                        done.set()

        counter = asyncio.create_task(count())
        h0 = await health(s, url)
        set_mining(rpc, False)
        try:
            r = await post_all(s, url + "/v1/orders", asks, concurrency)
            if r["statuses"] != {"201": n}:
                raise RuntimeError(f"resting asks: {r['statuses']} {r['errors']}")
            r = await post_all(s, url + "/v1/orders", bids, concurrency)
            if r["statuses"] != {"201": n}:
                raise RuntimeError(f"crossing bids: {r['statuses']} {r['errors']}")
        except BaseException:
            set_mining(rpc, True)
            rpc.close()
            counter.cancel()
            raise
        h_resume = await health(s, url)
        if proxy is not None:
            async with s.get(proxy + "/__reset") as resp:
                resp.raise_for_status()
        with (
            window_profile(
                profile, pids["hardhat" if window_sampler == "chain_faults" else "node"]
            ),
            CpuMeter(pids) as cpu,
            CpuTrace(pids["hardhat"]) as trace,
        ):
            us0, th0 = cpu_user_sys(pids["hardhat"]), thread_split(pids["hardhat"])
            block0 = int(rpc.call("eth_blockNumber"), 16)
            t0 = time.perf_counter()
            timing[0] = True
            set_mining(rpc, True)
            operator = signer.addresses[OPERATOR]
            # what waits in the pool (one large transaction a block; interval mining: the
            # interval's blocks take it)
            for _ in range(0 if MINER[0] else 16):
                # (told by the operator's nonces: building the "pending" block to look would
                # execute the whole pool each time, 0.3 s of the chain's CPU for 4 batches)
                mined = rpc.call("eth_getTransactionCount", operator, "latest")
                if rpc.call("eth_getTransactionCount", operator, "pending") == mined:
                    break
                rpc.call("evm_mine")
            try:
                await asyncio.wait_for(done.wait(), timeout=120)
                split = user_sys_per_match(us0, pids["hardhat"], n)
                threads = thread_split_per_match(th0, pids["hardhat"], n)
                blocks = int(rpc.call("eth_blockNumber"), 16) - block0
            finally:
                counter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await counter
                rpc.close()
        h1 = await health(s, url)
        calls = None
        if proxy is not None:
            async with s.get(proxy + "/__stats") as resp:
                calls = await resp.json()
    seconds = last - t0
    settled = h1["matchesSettled"] - h0["matchesSettled"]
    txs = h1["settlementsSent"] - h0["settlementsSent"]
    # sustained: between 10% and 90% of the fills (without the resume's transient: the
    # batches sent while mining was paused are mined from the pool, a slower path)
    lo, hi = times[len(times) // 10], times[len(times) * 9 // 10 - 1]
    held, CHAIN_HELD[0] = CHAIN_HELD[0], CHAIN_HELD[0] + settled
    return {
        "chain_matches_held_before": held,
        "matches": n,
        "settled": settled,
        "failed": h1["matchesFailed"] - h0["matchesFailed"],
        "seconds": round(seconds, 3),
        "matches_per_s": round(n / seconds),
        "sustained_matches_per_s": round(0.8 * n / max(1e-9, hi - lo)),
        "settlement_transactions": txs,
        "matches_per_transaction": round(settled / max(1, txs), 1),
        "blocks": blocks,
        "matches_per_block": round(settled / max(1, blocks), 1),
        "most_batches_in_flight": h1.get("settlementsInFlightMax"),
        "chain_calls_per_transaction": _calls_per_tx(h_resume, h1, txs),
        "chain_calls_per_match": _calls_per_tx(h_resume, h1, settled, 4),
        **({"all_chain_calls_per_match": _proxied_per_match(calls, settled)} if calls else {}),
        "settlement_stages_ms_per_match": _stages(h_resume, h1),
        "chain_cpu_ms_per_match": round(1000 * cpu.cores["hardhat"] * seconds / n, 3),
        "sustained_chain_cpu_ms_per_match": round(1000 * trace.between(lo, hi) / (0.8 * n), 3),
        # (without the resume: the batches sent while mining was paused are mined from the
        # pool, which costs Hardhat ~2x a match: bench/settle_ways.py ``pool``)
        "sustained_chain_split": trace.split_per_match(lo, hi, round(0.8 * n)),
        **split,
        "chain_threads_per_match": threads,
        "node_cpu_ms_per_match": round(1000 * cpu.cores["node"] * seconds / n, 3),
        "node_thread_cpu_ms_per_match": _thread_cpu_per_match(h_resume, h1, n),
        # (its ``cpu_us_per_order`` is per match here: the collector's share of the above)
        "ws_events_per_match": {k: round(v / n, 3) for k, v in sorted(kinds.items())},
        "node_gc": node_gc(
            h_resume.get("gossip", {}).get("gc", {}), h1.get("gossip", {}).get("gc", {}), n
        ),
        "cpu_cores_used": cpu.cores,
        **({"chain_faults_by_method": _faults_by_method(calls, trace)} if calls else {}),
        **({"proxied_chain_calls": calls, "chain_cpu_trace": trace.samples} if calls else {}),
    }


def _calls_per_tx(
    h0: dict[str, Any], h1: dict[str, Any], txs: int, digits: int = 2
) -> dict[str, float]:
    """The node's JSON-RPC calls from ``h0`` to ``h1`` (its event loop's clients), by
    method, per settlement transaction (or per whatever ``txs`` counts: matches)."""
    before = h0["chainMirror"]["chainCallsByMethod"]
    after = h1["chainMirror"]["chainCallsByMethod"]
    return {
        m: round((n - before.get(m, 0)) / max(1, txs), digits)
        for m, n in sorted(after.items())
        if n > before.get(m, 0)
    }


def _thread_cpu_per_match(h0: dict[str, Any], h1: dict[str, Any], n: int) -> dict[str, float]:
    """The node's CPU from ``h0`` to ``h1`` by thread (``gossip.threadCpu``: the event loop,
    the store writer, the chain thread, the ECDSA worker...), ms per match; {} if not told."""
    g0, g1 = (h.get("gossip") or {} for h in (h0, h1))
    t0, t1 = g0.get("threadCpu") or {}, g1.get("threadCpu") or {}
    return {
        name: round(1000 * (row[0] - t0.get(name, [0.0])[0]) / max(1, n), 4)
        for name, row in sorted(t1.items())
        if row[0] > t0.get(name, [0.0])[0]
    }


def _faults_by_method(calls: dict[str, Any], trace: CpuTrace) -> dict[str, list[float]]:
    """Hardhat's page faults in the node's round by the requests in service when they came
    (bench/rpcproxy.py's timeline against ``trace``'s 10 ms samples; a sample's faults shared
    out evenly among the methods in service over it, ``idle`` when none was): [faults, calls,
    faults a call]. (The proxy's clock is this one's: ``perf_counter``, system-wide.)"""
    t0 = calls["t0"]
    spans = [(a + t0, b + t0, m.split(",")[0]) for a, b, m, _ in calls["timeline"] if b]
    made: dict[str, int] = {}
    for _, _, m in spans:
        made[m] = made.get(m, 0) + 1
    faults: dict[str, float] = {}
    for (ta, _), (tb, _), x, y in zip(
        trace.samples, trace.samples[1:], trace.split, trace.split[1:], strict=False
    ):
        now = {m for a, b, m in spans if a < tb and b > ta} or {"idle"}
        for m in now:
            faults[m] = faults.get(m, 0.0) + (y[2] - x[2]) / len(now)
    return {
        m: [round(f), made.get(m, 0), round(f / max(1, made.get(m, 0)))]
        for m, f in sorted(faults.items(), key=lambda kv: -kv[1])
    }


def _proxied_per_match(calls: dict[str, Any], settled: int) -> dict[str, float]:
    """Every JSON-RPC call the node made (bench/rpcproxy.py's count: the chain thread's
    too, a batch's members each under ``batch:``) by method, per settled match; the
    newHeads notifications the chain pushed as ``ws_notifications``."""
    per = {m: round(v["calls"] / max(1, settled), 4) for m, v in sorted(calls["methods"].items())}
    per["ws_notifications"] = round(calls.get("ws_notifications", 0) / max(1, settled), 4)
    return per


async def bench_settlement(
    url: str,
    rpc_url: str,
    deployment: Deployment,
    signer: Signer,
    args: argparse.Namespace,
    pids: dict[str, int],
) -> dict[str, Any]:
    warm = await asyncio.to_thread(
        raw_batches, rpc_url, deployment, signer, args.warmup_batches, pids
    )
    warm_node = await node_round(url, rpc_url, signer, 4 * RAW_BATCH, args.concurrency, pids)
    # raw, node, raw, node, ..., raw: each node round set against the mean of the raw
    # rounds on either side of it, so that the chain's drift over the run (its state
    # grows: the raw rate falls round after round) and the machine's other processes fall
    # on both sides of each ratio
    raws = [
        await asyncio.to_thread(raw_batches, rpc_url, deployment, signer, args.raw_batches, pids)
    ]
    pairs: list[dict[str, Any]] = []
    for k in range(max(1, args.settle_pairs)):
        load_avg = round(os.getloadavg()[0], 2)
        nk = await node_round(
            url, rpc_url, signer, args.settle_matches, args.concurrency, pids,
            args.profile if k == 0 else None, getattr(args, "proxy_url", None),
        )  # fmt: skip
        raws.append(
            await asyncio.to_thread(
                raw_batches, rpc_url, deployment, signer, args.raw_batches, pids
            )
        )
        around = (raws[k]["matches_per_s"] + raws[k + 1]["matches_per_s"]) / 2
        pairs.append({"load_average": load_avg, "node": nk, "raw": around,
                      "chain_matches_held_before": nk["chain_matches_held_before"],
                      "raw_around": (raws[k]["matches_per_s"], raws[k + 1]["matches_per_s"]),
                      "ratio": round(nk["matches_per_s"] / around, 3)})  # fmt: skip
    ratios = [p["ratio"] for p in pairs]
    mid = sorted(range(len(pairs)), key=lambda i: ratios[i])[len(pairs) // 2]
    node, raw_before, raw_after = pairs[mid]["node"], raws[0], raws[-1]
    raw_rate = statistics.median(r["matches_per_s"] for r in raws)
    big: dict[str, Any] = {}
    if args.raw_batch and args.raw_batch != RAW_BATCH:  # the raw sender at the node's size
        k = max(1, -(-args.raw_batches * RAW_BATCH // args.raw_batch))
        for _ in range(2):
            big.setdefault("rounds", []).append(
                await asyncio.to_thread(
                    raw_batches, rpc_url, deployment, signer, k, pids, args.raw_batch
                )
            )
        big["matches_per_s"] = round(statistics.fmean(r["matches_per_s"] for r in big["rounds"]))
        big["ratio_node_over_it"] = round(node["matches_per_s"] / big["matches_per_s"], 3)
    probe = (
        await asyncio.to_thread(request_probe, rpc_url, pids["hardhat"])
        if args.chain_probe
        else None
    )
    try:
        loaded = await bench_latency_under_load(
            url, signer, args.load_rate, args.load_seconds, pids
        )
    except RuntimeError as e:  # (the node refused the round's orders: the figures above stand)
        loaded = {"error": str(e)[:400]}
    return {
        "latency_under_load": loaded,
        **({"request_probe": probe} if probe else {}),
        "bitmap_orders": signer.bitmap,
        "raw_wait": RAW_WAIT,
        "raw_in_flight": RAW_IN_FLIGHT,
        "anvil_block_time": BLOCK_TIME[0],
        "anvil_args": list(AnvilNode.extra_args),
        **({f"raw_batch_of_{args.raw_batch}": big} if big else {}),
        "warmup": {"raw": warm, "node": warm_node},
        "raw_before": raw_before,
        "node": node,
        "raw_after": raw_after,
        "pairs": [
            {
                "load_average": p["load_average"],
                "raw_matches_per_s_around": p["raw_around"],
                "node_matches_per_s": p["node"]["matches_per_s"],
                "ratio": p["ratio"],
                "node_sustained_matches_per_s": p["node"]["sustained_matches_per_s"],
                "sustained_ratio": round(p["node"]["sustained_matches_per_s"] / p["raw"], 3),
                "node_other_processes_cores": p["node"]["cpu_cores_used"].get("other_processes"),
                "chain_matches_held_before": p["chain_matches_held_before"],
                "node_matches_per_transaction": p["node"]["matches_per_transaction"],
                "node_matches_per_block": p["node"]["matches_per_block"],
                "node_chain_cpu_ms_per_match": p["node"]["chain_cpu_ms_per_match"],
                "node_cpu_ms_per_match": p["node"]["node_cpu_ms_per_match"],
            }
            for p in pairs
        ],
        "raw_rounds_matches_per_s": [r["matches_per_s"] for r in raws],
        "node_matches_per_s": round(statistics.median(p["node"]["matches_per_s"] for p in pairs)),
        "raw_matches_per_s": round(raw_rate),
        "ratio_node_over_raw": round(statistics.median(ratios), 3),
    }


def request_probe(rpc_url: str, pid: int, calls: int = 20) -> dict[str, list[float]]:
    """(``--chain-probe``) Hardhat's user ms, sys ms and page faults a call, by kind,
    on the chain the rounds left (its state grown): each kind ``calls`` times, one after
    the other from one connection."""
    from sdex.chain import Rpc
    from sdex.chain.rpc import quantity

    rpc = Rpc(rpc_url)
    try:
        head = quantity(rpc.call("eth_blockNumber"))
        block = rpc.call("eth_getBlockByNumber", hex(head), False)
        tx = block["transactions"][0]
        kinds: dict[str, Callable[[], object]] = {
            "blockNumber": lambda: rpc.call("eth_blockNumber"),
            "header_latest": lambda: rpc.call("eth_getBlockByNumber", "latest", False),
            "header_n": lambda: rpc.call("eth_getBlockByNumber", hex(head), False),
            "headers_batch3": lambda: rpc.batch(
                [("eth_getBlockByNumber", [hex(head - i), False]) for i in range(3)]
            ),
            "receipt": lambda: rpc.call("eth_getTransactionReceipt", tx),
            "tx_by_hash": lambda: rpc.call("eth_getTransactionByHash", tx),
            "nonce_latest": lambda: rpc.call("eth_getTransactionCount", block["miner"], "latest"),
            "chain_id": lambda: rpc.call("eth_chainId"),
        }
        out: dict[str, list[float]] = {}
        for name, call in kinds.items():
            u0, s0, f0 = cpu_user_sys(pid)
            for _ in range(calls):
                call()
            u1, s1, f1 = cpu_user_sys(pid)
            out[name] = [round(1000 * (u1 - u0) / calls, 3), round(1000 * (s1 - s0) / calls, 3),
                         round((f1 - f0) / calls, 1)]  # fmt: skip
        return out
    finally:
        rpc.close()


async def bench_load_rounds(
    url: str, signer: Signer, args: argparse.Namespace, pids: dict[str, int]
) -> dict[str, Any]:
    """Only order-to-receipt under load (``--phases load``): a warm-up of 20 crossings one at
    a time, then ``--load-rounds`` rounds of ``bench_latency_under_load``, each printed with
    ``uptime``'s load average when it started."""
    warm = await bench_latency(url, signer, 10, pids)
    rounds = []
    for _ in range(args.load_rounds):
        load_avg = os.getloadavg()[0]
        r = await bench_latency_under_load(url, signer, args.load_rate, args.load_seconds, pids)
        rounds.append({"load_average": round(load_avg, 2), **r})
    p50s = [r["order_to_receipt_ms"]["p50"] for r in rounds]
    return {
        "warmup_p50_ms": warm["order_to_receipt_ms"]["p50"],
        "p50_ms": p50s,
        "p99_ms": [r["order_to_receipt_ms"]["p99"] for r in rounds],
        "p50_median_ms": statistics.median(p50s),
        "rounds": rounds,
    }


# -- driver ------------------------------------------------------------------------------------


def wait_quiet(limit: float, window: float = 5.0, idle_below: float = 0.2) -> float:
    """Wait up to ``limit`` seconds for other processes to leave the CPU alone (less than
    ``idle_below`` cores busy over ``window`` seconds); returns the busy cores last seen."""
    deadline = time.monotonic() + limit
    while True:
        b0 = machine_busy_seconds()
        time.sleep(window)
        busy = (machine_busy_seconds() - b0) / window
        if busy < idle_below or time.monotonic() > deadline:
            return round(busy, 2)


def rpc_proxy(
    stack: contextlib.ExitStack, deployment: Deployment, workdir: Path, pids: dict[str, int]
) -> tuple[Path, str]:
    """bench/rpcproxy.py in its own process between the node and the chain: the node's
    deployment file names the proxy as its RPC. Its CPU is counted as ``rpc_proxy``."""
    port = free_port()
    log = stack.enter_context((workdir / "rpcproxy.log").open("ab"))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "rpcproxy.py"), deployment.rpc, str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    stack.callback(proc.wait, 10)
    stack.callback(proc.terminate)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the RPC proxy did not start") from None
            time.sleep(0.05)
    pids["rpc_proxy"] = proc.pid
    path = workdir / "devnet-proxied.json"
    Deployment(
        deployment.chain_id, url, deployment.exchange, deployment.deploy_block,
        deployment.tokens, deployment.accounts,
    ).save(path)  # fmt: skip
    return path, url


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile: Path | None = args.profile
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sdex-bench-")))
        deployment_file = workdir / "devnet.json"
        devnet = Devnet(
            deployment_path=deployment_file,
            log_path=workdir / f"{args.engine}.log",
            accounts=20,
            engine=args.engine,
            block_time=BLOCK_TIME[0],
        )
        deployment = devnet.start()
        try:
            assert devnet.rpc is not None and devnet.node.proc is not None
            domain = Exchange(devnet.rpc, deployment.exchange).domain()
            signer = Signer(deployment, domain, chain_expiry(devnet.rpc), bitmap=args.bitmap)
            key = deployment.accounts[OPERATOR].key
            pids = {"hardhat": devnet.node.proc.pid}
            result: dict[str, Any] = {"engine": args.engine}
            phases = set(args.phases)
            if "validation" in phases:
                result["validation"] = asyncio.run(
                    bench_validation(deployment, signer, workdir, args.validate, pids, profile)
                )
            if "http" in phases:
                with contextlib.ExitStack() as http_stack:
                    p, url = http_stack.enter_context(
                        node_process(deployment_file, key, workdir, "node-http", profile)
                    )
                    if args.peer:  # (gossip has a peer: every new order is passed on)
                        peer_key = deployment.accounts[OPERATOR - 1].key
                        peer = node_process(
                            deployment_file, peer_key, workdir, "node-peer", None, peers=(url,)
                        )
                        http_stack.enter_context(peer)
                        _wait_peered(url)
                    result["http_accept"] = asyncio.run(
                        bench_http(url, signer, args.http_orders, args.concurrency,
                                   {**pids, "node": p.pid})
                    )  # fmt: skip
            node_file = deployment_file
            if args.poll:  # (revert79: a proxy that serves no WebSocket: the watcher polls)
                from tests.rpcfault import _proxy

                polled = stack.enter_context(_proxy(deployment.rpc, lambda req: None))
                node_file = workdir / "devnet-poll.json"
                Deployment(
                    deployment.chain_id, polled, deployment.exchange, deployment.deploy_block,
                    deployment.tokens, deployment.accounts,
                ).save(node_file)  # fmt: skip
            if args.rpc_proxy and "settle" in phases:
                node_file, args.proxy_url = rpc_proxy(stack, deployment, workdir, pids)
            if "settle" in phases or "latency" in phases or "load" in phases:
                with node_process(node_file, key, workdir, "node-settle", profile) as (
                    p,
                    url,
                ):
                    node_pids = {**pids, "node": p.pid}
                    if "settle" in phases:
                        with interval_mining(devnet.node.url):
                            result["settlement_vs_raw"] = asyncio.run(
                                bench_settlement(
                                    url, devnet.node.url, deployment, signer, args, node_pids
                                )
                            )
                    foreign = foreign_blocks(devnet.node.url, deployment, args.foreign_every)
                    if "load" in phases:
                        with foreign as sent:
                            result["under_load"] = asyncio.run(
                                bench_load_rounds(url, signer, args, node_pids)
                            )
                        result["under_load"]["foreign_blocks"] = sent[0]
                        result["under_load"]["signing_holds"] = signing_holds(url)
                        foreign = foreign_blocks(devnet.node.url, deployment, args.foreign_every)
                    if "latency" in phases:
                        with foreign as sent:
                            result["order_to_receipt"] = asyncio.run(
                                bench_latency(url, signer, args.latency_samples, node_pids)
                            )
                        result["order_to_receipt"]["foreign_blocks"] = sent[0]
                        result["order_to_receipt"]["signing_holds"] = signing_holds(url)
                        result["settled_matches"] = asyncio.run(
                            bench_matches(url, signer, args.matches, args.concurrency,
                                          node_pids, args.settle_timeout)
                        )  # fmt: skip
        finally:
            devnet.stop()
    result["targets"] = targets(result)
    result["machine"] = machine()
    result["profiled"] = profile is not None
    return result


def targets(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of issues 4 and 12 with the figure reached (the phases that ran)."""
    got: dict[str, tuple[float, str, float]] = {}
    if "validation" in r:
        got["validated_in_process_per_s"] = (
            r["validation"]["offchain_checks_and_signature"]["orders_per_s"],
            ">=",
            10_000,
        )
    if "http_accept" in r:
        got["accepted_over_http_per_s"] = (r["http_accept"]["accepted_per_s"], ">=", 3_000)
    if "order_to_receipt" in r:
        got["order_to_receipt_p50_ms"] = (
            r["order_to_receipt"]["order_to_receipt_ms"]["p50"],
            "<=",
            20,
        )
        got["settled_matches_per_s"] = (r["settled_matches"]["settled_matches_per_s"], ">=", 1_000)
    if "settlement_vs_raw" in r:
        sv = r["settlement_vs_raw"]
        got["node_settlement_matches_per_s"] = (
            sv["node_matches_per_s"],
            ">=",
            3_000 if r.get("engine") == "anvil" else 1_000,
        )
        got["node_settlement_over_raw"] = (sv["ratio_node_over_raw"], ">=", 0.8)
        if "order_to_receipt_ms" in sv["latency_under_load"]:  # (not when its orders were refused)
            got["order_to_receipt_under_load_p50_ms"] = (
                sv["latency_under_load"]["order_to_receipt_ms"]["p50"],
                "<=",
                20,
            )
    return {
        k: {"value": v, "target": f"{op} {t:,}", "met": v >= t if op == ">=" else v <= t}
        for k, (v, op, t) in got.items()
    }


def before_rows(args: argparse.Namespace) -> str:
    """The same measure from an earlier run (``--before``: its printed JSON), for comparison."""
    if args.before is None:
        return ""
    b = json.loads(args.before.read_text())
    sv = b["settlement_vs_raw"]
    return (
        f"Before ({args.before_label}, the same benchmark on the same machine that day): node "
        f"{sv['node_matches_per_s']:,} matches/s, raw {sv['raw_matches_per_s']:,} "
        f"(ratio {sv['ratio_node_over_raw']}), {sv['node']['settlement_transactions']} "
        f"transactions, {sv['node']['failed']} failed matches; other processes used "
        f"{sv['node']['cpu_cores_used'].get('other_processes', '?')} cores.\n\n"
    )


def settlement_markdown(r: dict[str, Any], args: argparse.Namespace) -> str:
    """The settlement-at-chain-speed section: node beside the raw sender, one engine."""
    m = r["machine"]
    sv = r["settlement_vs_raw"]
    t = r["targets"]
    engine = "anvil (@foundry-rs/anvil)" if r["engine"] == "anvil" else f"Hardhat {m['hardhat']}"

    def met(key: str) -> str:
        return "met" if t[key]["met"] else "missed"

    node, rb, ra, lo = sv["node"], sv["raw_before"], sv["raw_after"], sv["latency_under_load"]
    cmd = (
        f"bench/node.py --engine {r['engine']} --phases {' '.join(args.phases)} "
        f"--warmup-batches {args.warmup_batches} --raw-batches {args.raw_batches} "
        f"--settle-matches {args.settle_matches} --load-rate {args.load_rate:g} "
        f"--load-seconds {args.load_seconds:g}"
    )
    busy = node["cpu_cores_used"].get("other_processes", 0.0)
    contended = (
        f"**Other processes used {busy} cores during the node's round: the machine was "
        "shared.**\n\n"
        if busy > 0.25
        else ""
    )
    return (
        f"Measured {date.today()} on {m['os']}, nproc {m['nproc']}, {m['cpu']}, CPython "
        f"{m['python']}, an automine {engine} devnet on the same machine, by `{cmd}`. "
        f"Warm-up first: {sv['warmup']['raw']['batches']} raw batches of 64 and "
        f"{sv['warmup']['node']['matches']} matches through the node. Raw: a bare client "
        "sending pre-signed `batchMatchOrders` of 64 one after the other, each waiting for "
        "its receipt, alternated with the node's rounds. Node: every match queued while "
        "mining is paused, then timed from resuming mining until the websocket delivered "
        "every fill (receipts in, book, store and events updated).\n\n"
        + contended
        + "| measure | result | target |\n|---|---|---|\n"
        f"| node, settled matches/s, median of the rounds ({node['matches']:,} matches a "
        f"round; the median pair's: {node['settlement_transactions']} transactions, "
        f"{node['matches_per_transaction']} per tx, up to {node['most_batches_in_flight']} in "
        f"flight) | {sv['node_matches_per_s']:,}/s | "
        f">= {t['node_settlement_matches_per_s']['target'][3:]}/s "
        f"({met('node_settlement_matches_per_s')}) |\n"
        f"| raw batchMatchOrders of 64, first / last round | "
        f"{rb['matches_per_s']:,} / {ra['matches_per_s']:,} matches/s (median "
        f"{sv['raw_matches_per_s']:,}) | |\n"
        f"| node rounds, each / the mean of the raw rounds either side | "
        + ", ".join(
            f"{p['node_matches_per_s']} / {sum(p['raw_matches_per_s_around']) / 2:g}"
            for p in sv["pairs"]
        )
        + f" | |\n| ratio node / raw, median of the pairs | {sv['ratio_node_over_raw']} | >= 0.8 "
        f"({met('node_settlement_over_raw')}) |\n"
        f"| order-to-receipt under load, automine ({lo['offered_matches_per_s']:g} crossing "
        f"orders/s offered for {lo['seconds']:g} s, {lo['matches_per_transaction']} matches "
        f"per tx): p50 / p90 / p99 | {lo['order_to_receipt_ms']['p50']} / "
        f"{lo['order_to_receipt_ms']['p90']} / {lo['order_to_receipt_ms']['p99']} ms | p50 "
        f"<= 20 ms ({met('order_to_receipt_under_load_p50_ms')}) |\n\n"
        + before_rows(args)
        + "CPU during the node's round, in cores (`hardhat`: the chain process, either "
        f"engine): {node['cpu_cores_used']}.\n\n"
        "```json\n" + json.dumps(sv, indent=2) + "\n```\n"
    )


def cpu_rows(r: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """(phase, cores used by each process) for every timed phase."""
    v = r["validation"]
    return [
        ("validation, off-chain", v["offchain_checks_and_signature"]["cpu_cores_used"]),
        ("validation, full intake", v["full_intake_with_chain_read"]["cpu_cores_used"]),
        ("accepted over HTTP", r["http_accept"]["cpu_cores_used"]),
        ("order-to-receipt", r["order_to_receipt"]["cpu_cores_used"]),
        ("settled matches", r["settled_matches"]["cpu_cores_used"]),
    ]


def markdown(r: dict[str, Any], args: argparse.Namespace) -> str:
    m = r["machine"]
    v = r["validation"]
    h = r["http_accept"]
    lat = r["order_to_receipt"]
    s = r["settled_matches"]
    partial = "" if s["complete"] else f", cut at {args.settle_timeout:g} s"
    rows = [
        ("validated in-process, off-chain checks + ECDSA (one core)",
         f"{v['offchain_checks_and_signature']['orders_per_s']:,} orders/s", ">= 10,000/s"),
        (f"full intake, chain state from the node's mirror or one batched read "
         f"({v['full_intake_with_chain_read']['concurrent']} concurrent, in-process)",
         f"{v['full_intake_with_chain_read']['orders_per_s']:,} orders/s", ""),
        (f"accepted over HTTP ({h['concurrency']} in flight, node in its own process) vs a "
         "trivial aiohttp handler (bench/trivial_server.py), same client and bodies",
         f"{h['accepted_per_s']:,} vs {h['trivial_aiohttp_handler_per_s']:,} orders/s "
         f"(ratio {h['ratio_node_over_trivial']}; CPU per request "
         f"{h['cpu_us_per_request']['node']:,} vs {h['cpu_us_per_request']['trivial_handler']:,}"
         f" us, ratio {h['cpu_us_per_request']['ratio_trivial_over_node']}; intake chain reads "
         f"{h['chain_calls'].get('intakeChainCalls', '?')} for "
         f"{h['chain_calls'].get('ordersChecked', '?')} orders)",
         ">= 3,000/s and ratio >= 0.5"),
        ("order-to-receipt, crossing order (p50 / p99)",
         f"{lat['order_to_receipt_ms']['p50']} / {lat['order_to_receipt_ms']['p99']} ms",
         "p50 <= 20 ms"),
        (f"settled matches when busy ({s['matches']:,} crossing orders at once{partial})",
         f"{s['settled_matches_per_s']:,} matches/s in {s['settlement_transactions']} "
         f"transactions ({s['matches_per_transaction']} per tx)", ">= 1,000/s"),
    ]  # fmt: skip
    met = {k: t["met"] for k, t in r["targets"].items()}
    marks = [met["validated_in_process_per_s"], None, met["accepted_over_http_per_s"],
             met["order_to_receipt_p50_ms"], met["settled_matches_per_s"]]  # fmt: skip
    table = "| measure | result | target |\n|---|---|---|\n" + "\n".join(
        f"| {a} | {b} | {c}{'' if ok is None else (' (met)' if ok else ' (missed)')} |"
        for (a, b, c), ok in zip(rows, marks, strict=True)
    )
    cpu = "| phase | bench client | node | Hardhat | other processes |\n|---|---|---|---|---|\n"
    cpu += "\n".join(
        f"| {name} | {c['bench_client']} | {c.get('node', '(in client)')} | {c['hardhat']} "
        f"| {c['other_processes']} |"
        for name, c in cpu_rows(r)
    )
    busiest = max(c["other_processes"] for _, c in cpu_rows(r))
    contended = (
        f"**Other processes used up to {busiest} cores during the run: the machine was shared "
        "and these figures are lower than a quiet machine gives.**\n\n"
        if busiest > 0.25
        else ""
    )
    cmd = (
        f"bench/node.py --validate {args.validate} --http-orders {args.http_orders} "
        f"--latency-samples {args.latency_samples} --matches {args.matches} "
        f"--concurrency {args.concurrency}"
    )
    return (
        f"Measured {date.today()} on {m['os']}, nproc {m['nproc']}, {m['cpu']}, "
        f"CPython {m['python']}, a Hardhat {m['hardhat']} automine devnet on the same machine, "
        f"by `{cmd}`.\n\n"
        + contended
        + table
        + "\n\nCPU used during each phase, in cores (the bench client, the node and Hardhat "
        "share the machine):\n\n" + cpu + "\n\n```json\n" + json.dumps(r, indent=2) + "\n```\n"
    )


def print_profiles(profile: Path, top: int = 30) -> None:
    """Summaries of the profiles to stderr: cProfile files, and py-spy's collapsed stacks
    (share of samples per function: ``self``, and ``total`` with what it calls)."""
    for f in sorted(profile.glob("*.prof")):
        print(f"\n===== {f.name}: cProfile, main thread =====", file=sys.stderr)
        st = pstats.Stats(str(f), stream=sys.stderr)
        st.sort_stats("cumulative").print_stats(top)
        st.sort_stats("tottime").print_stats(top)
    for f in sorted(profile.glob("*.raw")):
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        samples = 0
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():  # (a line py-spy adds when interrupted)
                continue
            n = int(count)
            samples += n
            frames = [_frame(x) for x in stack.split(";")[1:]]  # [0] is the thread
            if frames:
                own[frames[-1]] += n
            for fr in set(frames):
                total[fr] += n
        print(f"\n===== {f.name}: py-spy, {samples} samples holding the GIL =====", file=sys.stderr)
        for title, c in (("self", own), ("total", total)):
            print(f"--- {title}", file=sys.stderr)
            for fr, n in c.most_common(top):
                print(f"{100 * n / max(1, samples):5.1f}%  {fr}", file=sys.stderr)


def _frame(text: str) -> str:
    """``func (path/to/file.py:12)`` as ``file path:func``, site-packages and repo trimmed."""
    func, _, where = text.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    path = re.sub(r"^.*(site-packages/|/lib/python3\.\d+/)", "", path.replace(f"{ROOT}/", ""))
    return f"{path}:{func}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--validate", type=int, default=20_000, help="orders validated in-process")
    ap.add_argument("--http-orders", type=int, default=12_000, help="orders posted over HTTP")
    ap.add_argument("--latency-samples", type=int, default=200)
    ap.add_argument("--matches", type=int, default=2_000, help="crossing pairs when busy")
    ap.add_argument("--concurrency", type=int, default=48, help="HTTP requests in flight")
    ap.add_argument(
        "--fronts", type=int, default=0,
        help="run the nodes with this many front processes (sdex node --fronts; their CPU "
        "counts as the node's)",
    )  # fmt: skip
    ap.add_argument(
        "--settle-timeout", type=float, default=60.0,
        help="seconds phase 4 may take; past them it reports what settled so far",
    )  # fmt: skip
    ap.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="SECONDS",
        help="first wait up to this long for the machine's other processes to go idle",
    )  # fmt: skip
    ap.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="profile into DIR: node processes with py-spy if on PATH (else cProfile), "
        "in-process phases with cProfile; prints summaries to stderr",
    )  # fmt: skip
    ap.add_argument(
        "--profile-with", choices=WINDOW_SAMPLERS, default="gil",
        help="how the node's settle window is sampled with --profile (gil: py-spy --gil; "
        "threads: every busy thread; native: with C frames; perf: perf record; chain_faults: "
        "perf record of the chain's page faults, every 16th, with call stacks)",
    )  # fmt: skip
    ap.add_argument("--engine", choices=("hardhat", "anvil"), default="hardhat")
    ap.add_argument(
        "--phases", nargs="+", choices=PHASES, default=list(PHASES[:-1]),
        help="run only these phases (validation, http: phase 2, latency: phases 3 and 4, "
        "settle: settlement beside the raw sender, load: only order-to-receipt under load, "
        "--load-rounds times); the node section needs all but load",
    )  # fmt: skip
    ap.add_argument("--warmup-batches", type=int, default=10, help="raw batches before timing")
    ap.add_argument(
        "--raw-batches", type=int, default=32,
        help="raw batches of 64 per round (32: as many matches as the node's round, so both "
        "sides span about as long a stretch of the machine's other work)",
    )  # fmt: skip
    ap.add_argument(
        "--settle-pairs", type=int, default=3,
        help="settle: raw and node rounds alternated this many times (each pair in the "
        "other order): the ratio is the median of the pairs' node / raw",
    )  # fmt: skip
    ap.add_argument(
        "--raw-batch", type=int, default=0, metavar="N",
        help="settle: also the raw sender with batches of N (the node's size), same matches",
    )  # fmt: skip
    ap.add_argument(
        "--raw-wait", choices=("poll", "sync"), default="poll",
        help="settle: how the raw sender waits for each receipt (poll: from 5 ms, doubling; "
        "sync: eth_sendRawTransactionSync, anvil only)",
    )  # fmt: skip
    ap.add_argument(
        "--anvil-args", default="", metavar="ARGS",
        help="options added to anvil's command line (--engine anvil): an A/B of its own options",
    )  # fmt: skip
    ap.add_argument(
        "--anvil-block-time", type=float, default=None, metavar="SECONDS",
        help="--engine anvil: the devnet mines a block every SECONDS (`sdex devnet "
        "--block-time`) instead of one a transaction; the settle phase's blocks come from "
        "the bench (evm_mine at that interval) so that a node round can pause them",
    )  # fmt: skip
    ap.add_argument(
        "--raw-in-flight", type=int, default=1, metavar="N",
        help="settle: the raw sender keeps N batches sent ahead of the receipt it waits for "
        "(the node keeps up to 4): with interval mining, 1 is a block a batch",
    )  # fmt: skip
    ap.add_argument(
        "--bitmap", action="store_true",
        help="sign bitmap orders (salt tag SDEXBITS + a per-maker nonce), the cheaper opt-in",
    )  # fmt: skip
    ap.add_argument(
        "--settle-matches", type=int, default=2048, help="matches queued in the node at once"
    )
    ap.add_argument(
        "--load-rate", type=float, default=100.0,
        help="crossing orders a second offered while order-to-receipt is measured under load",
    )  # fmt: skip
    ap.add_argument(
        "--peer", action="store_true",
        help="the http phase's node has a peer (a second node process): new orders are gossiped",
    )  # fmt: skip
    ap.add_argument("--load-seconds", type=float, default=10.0, help="how long that load runs")
    ap.add_argument(
        "--load-rounds", type=int, default=3, help="load: rounds of order-to-receipt under load"
    )
    ap.add_argument(
        "--timeline", action="store_true",
        help="load: each crossing order's way stage by stage, p50/p99 (the node's settler "
        "writes its batches' times to a debug file: SDEX_SETTLE_TIMELINE)",
    )  # fmt: skip
    ap.add_argument("--before", type=Path, help="JSON printed by an earlier run, to compare")
    ap.add_argument("--before-label", default="an earlier commit", help="what --before ran")
    ap.add_argument("--write", type=Path, help="update the node section of this markdown file")
    ap.add_argument(
        "--section-note", default="",
        help="added to the settlement section's title (a new dated section, the others stay)",
    )  # fmt: skip
    ap.add_argument("--workdir", type=Path, help="keep the databases and logs here")
    ap.add_argument(
        "--foreign-every", type=float, default=0.0, metavar="SECONDS",
        help="latency and load: another party's token transfer every SECONDS (a block of "
        "its own on automine) while they run; the node's signing holds are printed",
    )  # fmt: skip
    ap.add_argument(
        "--node-root", type=Path, metavar="DIR",
        help="run the nodes from DIR's sdex (another checkout, with its artifacts/): a "
        "before/after in the same minutes",
    )  # fmt: skip
    ap.add_argument(
        "--chain-probe", action="store_true",
        help="settle: after the rounds, Hardhat's user/sys ms and page faults a call of each "
        "kind the node makes (headers, receipts...) on the chain the rounds grew",
    )  # fmt: skip
    ap.add_argument(
        "--poll", action="store_true",
        help="the node's chain through a loopback proxy that serves no WebSocket: no "
        "newHeads, the watcher polls (revert79)",
    )  # fmt: skip
    ap.add_argument(
        "--rpc-proxy", action="store_true",
        help="settle: the node talks to the chain through bench/rpcproxy.py, which counts its "
        "calls by method with the chain's time over the node's round",
    )  # fmt: skip
    args = ap.parse_args()
    global NODE_ROOT, NODE_FRONTS, TIMELINES, window_sampler, CHAIN_FAULTS, RAW_WAIT, RAW_IN_FLIGHT
    RAW_IN_FLIGHT = max(1, args.raw_in_flight)
    window_sampler = args.profile_with
    RAW_WAIT = args.raw_wait
    AnvilNode.extra_args = tuple(shlex.split(args.anvil_args))
    BLOCK_TIME[0] = args.anvil_block_time
    CHAIN_FAULTS = args.profile
    NODE_ROOT = args.node_root
    NODE_FRONTS = args.fronts
    TIMELINES = {} if args.timeline else None
    if args.http_orders + 500 > OPERATOR * 1000:
        ap.error("--http-orders: at most 18,500 (19 makers, 1,000 open orders each)")
    busy = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    result = run(args)
    result["machine"]["busy_cores_before_start"] = busy
    print(json.dumps(result, indent=2))
    if args.profile is not None:
        print_profiles(args.profile)
    if args.write:
        if args.profile is not None:
            sys.exit("not writing profiled figures: run again without --profile")
        engine = "anvil" if args.engine == "anvil" else "Hardhat"
        if "settle" in args.phases:
            write_section(
                args.write,
                f"Settlement at the chain's speed, {engine}{args.section_note} (bench/node.py)",
                settlement_markdown(result, args),
            )
        if set(PHASES) - {"load"} <= set(args.phases) and args.engine == "hardhat":
            write_section(args.write, "Node (bench/node.py)", markdown(result, args))


if __name__ == "__main__":
    main()
