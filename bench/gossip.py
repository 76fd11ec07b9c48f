"""Gossip delivery across N real ``sdex node`` processes on loopback (N = 8 and 16).

One Hardhat devnet (16 operators + ``--makers`` dev accounts; Hardhat funds only its first
20 with ETH, so the rest get gas money by ``hardhat_setBalance`` before the deployment).
For each N, N fresh node processes (node i's operator is dev account i, its own SQLite
database), seeded by ``--seeds``:

- ``bootstrap`` (default): every node is started with node 0 as its only ``--peer`` (a
  bootstrap list of one); the others are found by peer exchange (``/p2p/hello``). The
  benchmark waits until every node knows the other N-1 before it posts anything.
- ``chain``: node i knows only node i-1 (peer exchange does the rest, as in the tests).
- ``full``: every node is started with all the others.

A watcher process subscribes to every node's websocket (``GET /v1/ws``) before any order
is posted and stamps each ``order``/``added`` event with ``time.monotonic()`` (one machine,
one clock: the poster stamps each POST with the same clock). Valid signed orders that do not
cross (asks above the mid, bids below, from ``--makers`` dev accounts), signed before any
timing, are posted at ``--rate`` per second for ``--seconds`` to a uniformly random node
each, by ``--concurrency`` keep-alive HTTP clients (an open loop: an order is posted at its
scheduled time unless every client is busy, and none after the window, so the accepted rate
is what the nodes let in). Several ``--rate`` values: one window each, in that order, on the
same cluster, after a warm-up of 200 orders. The posts go through ``bench/rawpost.py``
(``--client raw``, the default: the requests aiohttp's client sends, for about half its
CPU, which the nodes share the machine with) or aiohttp's client (``--client aiohttp``).
The accepted rate is the orders answered 201 over the window until the last answer; its
shortfall's parts are printed beside it (orders never posted because every client was
busy, answers other than 201, how long after the window the last answer came), and its
ceiling (``accepted_ceiling_per_s``: every order offered accepted, over the same window): an
offer of R/s for T s reads at most R * T / (T + tail), so at 1,000/s offered the accepted rate
is under 1,000 by the last answer's tail alone; a window offered above 1,000/s (``--rate
1000 1200``) says whether the nodes let 1,000/s in (a capacity figure, not the target's).
Peers' orders go through a node's intake a group at a time, the wallets' waiting POSTs
between two groups (``sdex.gossip.checks``), so gossip may lag the accepted rate and drain
after the window: ``delivered_to_every_node_per_s`` is the orders over the window until the
last one reached every node.

Per order, from the start of its POST: the time until its node accepted it, until each
node had it, and until every node had it (p50, p99, max); coverage (the fraction of
(order, node) pairs delivered before ``--drain`` seconds after the last POST); and the
gossip traffic from every node's ``/health`` counters over the window: order copies pushed
(acknowledged), HTTP messages sent (push batches, anti-entropy, peer exchange) and order
copies received (which also counts batches a sender timed out on and sent again), per order
per node. CPU used by the nodes, Hardhat, the bench's own processes and everything else on
the machine is measured too. ``--profile DIR`` profiles the nodes over the windows only
(``--sample``: by sampling their stacks, which leaves their batching as it is).

Every process started here (Hardhat, the nodes, the watcher) is stopped by its own PID.
Prints JSON; ``--write docs/BENCHMARKS.md`` also replaces the gossip section there (or the
section ``--section`` names, with ``--note`` as its first paragraph).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from benchlib import machine, machine_busy_seconds, write_section  # noqa: E402
from flooder import Split, quiet, split  # noqa: E402
from rawpost import RawPoster, RawPostError  # noqa: E402
from runqueue import RunQueue  # noqa: E402

from sdex.deployment import Deployment  # noqa: E402
from sdex.devnet import free_port  # noqa: E402
from sdex.gossip import GossipConfig, NodeKey, PeerClient  # noqa: E402
from sdex.gossip.timing import EDGES_US, PUSH_EDGES_US, GcPauses  # noqa: E402
from sdex.order import (  # noqa: E402
    ZERO_ADDRESS,
    Domain,
    Order,
    address_of,
    random_salt,
    sign_order,
)

MAX_NODES = 16  # node i's operator is dev account i; makers come after them
WETH_LOT = 10**16  # 0.01 WETH per order
MID = 200_000  # price in USDC cents per WETH: 2,000.00
FLOOD_MAKERS = 10  # (--flood: the flooder's orders' makers, after the others)
WARMUP = 200  # orders posted (slowly) and delivered everywhere before the measured window
JSON_HEADERS = {"Content-Type": "application/json"}
TARGET_P99_MS = 50  # to all of 8 nodes
TARGET_COVERAGE = 1.0
FANOUT = GossipConfig().fanout  # the nodes run with the default
INF = float("inf")  # the latency of an order that did not arrive within the drain window


# -- orders -----------------------------------------------------------------------------------


class Signer:
    """Signs the benchmark's non-crossing orders for the makers (before any timing)."""

    def __init__(self, deployment: Deployment, domain: Domain, expiry: int) -> None:
        self.domain = domain
        self.keys = [bytes.fromhex(a.key[2:]) for a in deployment.accounts]
        self.addresses = [a.address.lower() for a in deployment.accounts]
        self.weth = deployment.token("WETH").address
        self.usdc = deployment.token("USDC").address
        self.expiry = expiry

    def bodies(self, n: int, makers: list[int]) -> list[tuple[str, bytes]]:
        """``n`` orders as (hash, JSON body): asks 0.01..5.00 above the mid, bids below."""
        out = []
        for i in range(n):
            ask, ticks = i % 2 == 0, 1 + (i // 2) % 500
            cents = MID + ticks if ask else MID - ticks
            usdc = WETH_LOT * cents * 10**4 // 10**18  # 6-decimal USDC units for 0.01 WETH
            w, u, m = self.weth, self.usdc, makers[i % len(makers)]
            o = Order(
                self.addresses[m], ZERO_ADDRESS, w if ask else u, u if ask else w,
                WETH_LOT if ask else usdc, usdc if ask else WETH_LOT,
                ZERO_ADDRESS, 0, self.expiry, random_salt(),
            )  # fmt: skip
            signed = sign_order(o, self.domain, self.keys[m])
            out.append((signed.hash_hex, json.dumps(signed.to_json()).encode()))
        return out


# With --profile a node runs under this launcher: cProfile, with the CPU clock, only between
# SIGUSR1 and SIGUSR2 (the measured window), so start-up and idle waits are left out.
PROFILED_NODE = """\
import cProfile, signal, sys, time
out, root = sys.argv.pop(1), sys.argv.pop(1)
sys.path.insert(0, root)
from sdex.cli import main
prof = cProfile.Profile(time.process_time)
signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
signal.signal(signal.SIGUSR2, lambda *_: (prof.disable(), prof.dump_stats(out)))
main()
"""

# With --profile DIR --sample the launcher samples instead: the main thread's stack each
# time the process has used 1 ms of CPU (``ITIMER_PROF``; the kernel's tick bounds the
# rate), as counts of collapsed stacks. cProfile adds a cost to every call and slows the
# nodes so much that their pushes batch (0.35 frames an order and node at 100/s against
# 1.7 unprofiled): the sampler keeps the nodes' real shape. CPU the other threads use
# while the main one waits is counted where it waits (``select``).
SAMPLED_NODE = """\
import collections, json, signal, sys
out, root = sys.argv.pop(1), sys.argv.pop(1)
sys.path.insert(0, root)
from sdex.cli import main
counts = collections.Counter()
def sample(sig, f):
    stack = []
    while f is not None:
        stack.append(f.f_code.co_filename.rsplit("/", 1)[-1] + ":" + f.f_code.co_name)
        f = f.f_back
    counts[";".join(reversed(stack))] += 1
def start(*_):
    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
def stop(*_):
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    signal.signal(signal.SIGPROF, signal.SIG_IGN)  # (a tick already pending: not into the dump)
    with open(out, "w") as fh:
        json.dump(dict(counts), fh)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
main()
"""


# -- processes and CPU ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc); 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runs_of(pid: int) -> tuple[int, int]:
    """How many times the process's main thread and its other threads were put on a core so
    far (``/proc/PID/task/*/schedstat``'s third field): its wake-ups, each a context switch
    that starts on cold caches when 8 nodes share 2 cores; (0, 0) once gone."""
    main = rest = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        try:
            runs = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[2])
        except (OSError, IndexError, ValueError):
            continue  # (a thread that ended meanwhile)
        if tid == str(pid):
            main += runs
        else:
            rest += runs
    return main, rest


class CpuMeter:
    """Cores used over a window by groups of processes and by the whole machine, the other
    tasks runnable meanwhile (``RunQueue``), and the nodes' threads' runs (``runs_of``)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.queue: RunQueue | None = None
        self.runs = (0, 0)
        """The nodes' main and other threads' runs over the last window."""

    def _runs(self) -> tuple[int, int]:
        both = [runs_of(p) for p in self.groups.get("nodes", [])]
        return sum(m for m, _ in both), sum(r for _, r in both)

    def _sample(self) -> dict[str, float]:
        out = {k: sum(cpu_seconds(p) for p in pids) for k, pids in self.groups.items()}
        out["machine"] = machine_busy_seconds()
        return out

    def start(self) -> None:
        self.queue = RunQueue(self.groups.get("nodes", []))
        self.t0, self.c0, self.r0 = time.monotonic(), self._sample(), self._runs()

    def stop(self) -> dict[str, float]:
        wall, c1, r1 = time.monotonic() - self.t0, self._sample(), self._runs()
        self.runs = (r1[0] - self.r0[0], r1[1] - self.r0[1])
        queue = self.queue.stop() if self.queue is not None else {}
        self.trace = self.queue.trace() if self.queue is not None else {}
        self.wall = wall
        self.seconds = {k: c1[k] - self.c0[k] for k in c1}
        cores = {k: round((c1[k] - self.c0[k]) / wall, 2) for k in c1}
        ours = sum(v for k, v in cores.items() if k != "machine")
        cores["other_processes"] = round(max(0.0, cores["machine"] - ours), 2)
        cores |= queue
        return cores


class NodeProcs:
    """N ``sdex node`` processes on loopback; each stopped by its own PID."""

    def __init__(
        self,
        n: int,
        deployment: Path,
        workdir: Path,
        seeds: str,
        profile: Path | None = None,
        root: Path = ROOT,
        sample: bool = False,
        site: Path | None = None,
    ) -> None:
        self.n = n
        self.root = root
        self.site = site
        """``--node-site``: a directory put before ``root`` on the nodes' ``PYTHONPATH``."""
        self.sample = sample
        """The checkout the nodes run from (``--node-root``: an A/B against another one)."""
        self.profile = profile
        self.ports = [free_port() for _ in range(n)]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.deployment = deployment
        self.workdir = workdir
        self.seeds = seeds
        self.procs: list[subprocess.Popen[bytes]] = []
        self.keys: list[str] = []
        self._log_from = [0] * n
        """Each node's log size when it was last started: what it wrote since is its own."""

    def peers_of(self, i: int) -> list[int]:
        if self.seeds == "full":
            return [j for j in range(self.n) if j != i]
        if self.seeds == "chain":
            return [i - 1] if i else []
        return [0] if i else []  # bootstrap

    def start(self, keys: list[str]) -> None:
        self.keys = keys
        launcher = self.workdir / "profiled_node.py"
        if self.profile:  # (written once: rewritten for each node, it was truncated while
            # the nodes started before were still reading it, and they exited at once, 0)
            launcher.write_text(SAMPLED_NODE if self.sample else PROFILED_NODE)
        for i in range(self.n):
            if self.profile:
                out = self.profile / f"n{self.n}-node-{i}.prof"
                head = [sys.executable, str(launcher), str(out), str(self.root)]
            else:
                head = [sys.executable, "-m", "sdex.cli"]
            cmd = [
                *head, "node", "--port", str(self.ports[i]),
                "--deployment", str(self.deployment), "--key", keys[i],
                "--db", str(self.workdir / f"node-{i}.db"),
            ]  # fmt: skip
            for j in self.peers_of(i):
                cmd += ["--peer", self.urls[j]]
            path = str(self.root) if self.site is None else f"{self.site}{os.pathsep}{self.root}"
            env = {**os.environ, "PYTHONPATH": path}
            with (self.workdir / f"node-{i}.log").open("ab") as log:
                self._log_from[i] = log.tell()
                self.procs.append(
                    subprocess.Popen(
                        cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )

    def signal(self, sig: int) -> None:
        if self.profile:
            for p in self.procs:
                p.send_signal(sig)

    def check_alive(self) -> None:
        """``PortTaken`` if a node exited because its port was taken (picked free, then
        bound by another process before the node started: the machine is shared), else a
        ``RuntimeError`` with the log's tail of the first node that exited."""
        exited = [i for i, p in enumerate(self.procs) if p.poll() is not None]
        logs = {i: self._since_start(i) for i in exited}
        taken = [i for i in exited if "already in use" in logs[i]]
        if taken:
            raise PortTaken(taken)
        for i in exited:
            raise RuntimeError(f"node {i} exited with {self.procs[i].returncode}:\n{logs[i]}")

    def _since_start(self, i: int) -> str:
        with (self.workdir / f"node-{i}.log").open("rb") as log:
            log.seek(self._log_from[i])
            return log.read()[-2000:].decode(errors="replace")

    def restart_on_new_ports(self) -> None:
        """Stop every node, pick new ports for all and start them again: the others were
        started with the lost node's URL as a peer, so all of them start again."""
        self.stop()
        self.procs = []
        self.ports = [free_port() for _ in range(self.n)]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.start(self.keys)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@contextlib.contextmanager
def watcher(urls: list[str], out: Path) -> Iterator[subprocess.Popen[str]]:
    """The websocket watcher in its own process (``--watch``); ready once subscribed."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--watch", str(out), *urls]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"watcher did not subscribe: {line!r}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def finish_watcher(proc: subprocess.Popen[str], out: Path) -> dict[str, Any]:
    """Tell the watcher to stop (close its stdin) and read what it recorded."""
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


# -- the watcher process ----------------------------------------------------------------------


async def watch(urls: list[str], out: Path) -> None:
    """Subscribe to every node's websocket; stamp each order ``added`` event on arrival
    (``arrivals``), and keep the node's own stamps of it (``published``: read by the node
    as it published the event, ``metaData.publishedAt``, and as it wrote it here,
    ``sentAt``, in Unix time on this machine, turned into this process's monotonic clock
    by the offset between the two clocks read at the start; absent from nodes from
    before them, 2026-12-02)."""
    arrivals: list[tuple[str, int, float]] = []
    published: list[tuple[str, int, float, float]] = []
    closed: list[int] = []
    clock = time.monotonic
    offset = time.time() - clock()  # (a node's Unix-time stamp less this: the monotonic one)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        sockets = []
        for u in urls:
            ws = await s.ws_connect(u + "/v1/ws", max_msg_size=0, autoping=True)
            hello = await ws.receive_json(timeout=10)
            if hello.get("type") != "hello":
                raise RuntimeError(f"{u}: expected hello, got {hello}")
            sockets.append(ws)

        async def read(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                t = clock()
                if '"added"' not in msg.data:
                    continue
                ev = json.loads(msg.data)
                if ev.get("type") == "order" and ev.get("event") == "added":
                    meta = ev["metaData"]
                    arrivals.append((meta["orderHash"], i, t))
                    if "sentAt" in meta:
                        stamps = (meta["publishedAt"] - offset, meta["sentAt"] - offset)
                        published.append((meta["orderHash"], i, *stamps))
            closed.append(i)

        readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
        pauses = GcPauses()  # its own stalls: collections, and its waits for a core
        pauses.install()
        ran0, queued0 = own_schedstat()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
        ran1, queued1 = own_schedstat()
        await asyncio.sleep(0.2)
        for r in readers:
            r.cancel()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
    itself = {"gc": pauses.to_json(), "cpu_s": ran1 - ran0, "queue_s": queued1 - queued0}
    out.write_text(json.dumps({"arrivals": arrivals, "published": published,
                               "closed_early": sorted(closed), "watcher": itself}))  # fmt: skip


def own_schedstat() -> tuple[float, float]:
    """The calling thread's seconds on a core and waiting for one (Linux; zeros without)."""
    try:
        ran, queued = Path("/proc/thread-self/schedstat").read_text().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(queued) / 1e9


# -- HTTP helpers -----------------------------------------------------------------------------


async def health(s: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with s.get(url + "/health") as r:
        body: dict[str, Any] = await r.json()
        return body


async def healths(s: aiohttp.ClientSession, urls: list[str]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(health(s, u) for u in urls)))


async def wait_until(cond: Any, timeout: float, every: float = 0.25) -> float | None:
    """Poll the async ``cond`` until true; seconds it took, or None at the timeout."""
    t0 = time.monotonic()
    while True:
        if await cond():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return None
        await asyncio.sleep(every)


class PortTaken(RuntimeError):
    """Nodes (their indexes) exited: the port picked for them was taken before they bound it."""

    def __init__(self, nodes: list[int]) -> None:
        super().__init__(f"nodes {nodes}: their ports were taken before they bound them")
        self.nodes = nodes


HEALTH_POLL = aiohttp.ClientTimeout(total=2)
"""A start-up poll's bound on one ``/health``."""

PORT_ATTEMPTS = 3
"""Starts of the nodes on freshly picked ports before a taken port fails the run."""


async def wait_started(
    s: aiohttp.ClientSession, nodes: NodeProcs, timeout: float, meter: CpuMeter
) -> list[float]:
    """``wait_healthy``; if a node lost its port to another process meanwhile, all start
    again on new ports (at most ``PORT_ATTEMPTS`` starts; ``meter`` follows the new PIDs).
    The seconds are the last start's."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return await wait_healthy(s, nodes, timeout)
        except PortTaken as e:
            if attempt == PORT_ATTEMPTS:
                raise RuntimeError(f"{e}, {PORT_ATTEMPTS} times: giving up") from None
            print(json.dumps({"ports_taken": e.nodes, "restart": attempt}), file=sys.stderr)
            nodes.restart_on_new_ports()
            meter.groups["nodes"] = [p.pid for p in nodes.procs]
    raise AssertionError("unreachable")


async def wait_healthy(s: aiohttp.ClientSession, nodes: NodeProcs, timeout: float) -> list[float]:
    """Seconds (from now, to the poll's 0.2 s) until each node first answered /health."""
    pending = set(range(nodes.n))
    t0 = time.monotonic()
    deadline = t0 + timeout
    ready = [0.0] * nodes.n
    while pending:
        nodes.check_alive()
        for i in list(pending):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                # (a short bound: a port taken by another server may never answer)
                async with s.get(nodes.urls[i] + "/health", timeout=HEALTH_POLL) as r:
                    if r.status == 200:
                        pending.discard(i)
                        ready[i] = round(time.monotonic() - t0, 2)
        if time.monotonic() > deadline:
            raise RuntimeError(f"nodes {sorted(pending)} did not answer in {timeout}s")
        await asyncio.sleep(0.2)
    return ready


async def post_paced(
    s: aiohttp.ClientSession,
    urls: list[str],
    orders: list[tuple[str, bytes]],
    targets: list[int],
    rate: float,
    concurrency: int,
    raw: RawPoster | None = None,
) -> dict[str, Any]:
    """POST order k to ``urls[targets[k]]`` at ``t0 + k / rate`` (open loop, bounded): an
    order whose time has come waits only for a free client; none is posted after the window
    (``len(orders) / rate`` seconds), so when the nodes are slower fewer orders go in.
    With ``raw`` the posts go through it (``bench/rawpost.py``: the same requests for a
    tenth of aiohttp's client CPU, which the nodes share the machine with), else ``s``.
    Besides the rate over the window until the last answer (``achieved_rate``), the
    shortfall's parts: orders never posted (every client busy), answers other than 201,
    and how long after the window the last answer came (``last_answer_after_window``)."""
    sent: dict[str, float] = {}
    status: dict[str, int] = {}
    post_latency: list[float] = []
    errors: list[str] = []
    nxt = 0
    clock = time.monotonic
    t0 = clock() + 0.05
    t_end = t0 + len(orders) / rate

    async def worker() -> None:
        nonlocal nxt
        while nxt < len(orders) and clock() < t_end:
            k = nxt
            nxt += 1
            delay = t0 + k / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            h, b = orders[k]
            t = clock()
            sent[h] = t
            try:
                if raw is not None:
                    code, text = await raw.post(urls[targets[k]], "/v1/orders", b)
                else:
                    url = urls[targets[k]] + "/v1/orders"
                    async with s.post(url, data=b, headers=JSON_HEADERS) as r:
                        code, text = r.status, await r.read()
                status[h] = code
                if code != 201 and len(errors) < 3:
                    errors.append(f"{code} {text.decode(errors='replace')[:300]}")
            except (aiohttp.ClientError, TimeoutError, OSError, RawPostError) as e:
                status[h] = 0
                if len(errors) < 3:
                    errors.append(repr(e))
            post_latency.append(clock() - t)

    cpu0 = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    last = clock()
    cpu = time.process_time() - cpu0
    window = max(t_end, last) - t0  # until the last answer, if that came after the window
    return {
        "sent": sent,
        "status": status,
        "post_latency": post_latency,
        "errors": errors,
        "posting_seconds": window,
        "achieved_rate": sum(1 for c in status.values() if c == 201) / window,
        "ceiling_rate": len(orders) / window,
        "not_posted": len(orders) - len(sent),
        "not_201": sum(1 for c in status.values() if c != 201),
        "last_answer_after_window": last - t_end,
        "poster_cpu_s": cpu,
    }


async def p2p_round_trips(s: aiohttp.ClientSession, urls: list[str]) -> dict[str, float | None]:
    """Signed ``GET /p2p/digest`` round trips from this process to each node in turn (signing,
    HTTP on loopback, the node's check of the signature, its signed answer, our check): what
    one gossip message costs on this machine besides the intake."""
    client = PeerClient(s, NodeKey.generate(), "http://127.0.0.1:1")
    ids = [(await client.call("POST", url, "/p2p/hello", {})).signer or "" for url in urls]
    times = []
    for k in range(40):
        t = time.monotonic()  # (a request names its node: the id a first hello answered with)
        await client.call("GET", urls[k % len(urls)], "/p2p/digest", to=ids[k % len(urls)])
        times.append(time.monotonic() - t)
    return summary(times)


# -- statistics -------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of seconds ``values``, in milliseconds, nearest rank; None
    when it falls on an order that never arrived (``INF``: later than the drain window)."""
    if not values:
        return None
    s = sorted(values)
    v = s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]
    return None if v == INF else round(1000 * v, 1)


def summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": pct(values, 0.5),
        "p90": pct(values, 0.9),
        "p99": pct(values, 0.99),
        "max": pct(values, 1.0),
    }


# -- one cluster ------------------------------------------------------------------------------


async def measure(
    n: int,
    nodes: NodeProcs,
    phases: list[tuple[float, list[tuple[str, bytes]]]],
    warm: list[tuple[str, bytes]],
    args: argparse.Namespace,
    meter: CpuMeter,
    workdir: Path,
    flood: list[bytes] | None = None,
) -> list[dict[str, Any]]:
    """Start-up, warm-up, then one measured window per offered rate (in the given order);
    ``flood``: orders an admitted peer pushes at node 0 during each (``bench/flooder.py``)."""
    rng = random.Random(n)
    conn = aiohttp.TCPConnector(limit=args.concurrency + 8, limit_per_host=0)
    out: list[dict[str, Any]] = []
    raw = RawPoster(timeout=60) if args.client == "raw" else None
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as s:
        t_start = time.monotonic()
        ready = await wait_started(s, nodes, 150, meter)
        started = time.monotonic() - t_start

        async def meshed() -> bool:
            hs = await healths(s, nodes.urls)
            return all(sum(1 for p in h["gossip"]["peers"] if not p["banned"]) >= n - 1 for h in hs)

        px = await wait_until(meshed, timeout=60)
        if px is None:
            raise RuntimeError(f"peer exchange did not connect all {n} nodes within 60 s")
        flooder = None
        if flood:
            flooder = Split(nodes.urls[0], flood, args.flood_batch, args.flood, args.flood_ids)
            await flooder.start()
        setup = {"seconds_to_start_nodes": round(started, 1), "node_ready_s": ready,
                 "seconds_until_peer_exchange_connected_all": round(px, 1),
                 "p2p_call_ms": await p2p_round_trips(s, nodes.urls)}  # fmt: skip

        async def all_have(total: int) -> bool:
            nodes.check_alive()
            return all(h["orders"] >= total for h in await healths(s, nodes.urls))

        async def caught_up(behind: set[int], total: int) -> bool:
            """``all_have`` asking only the nodes still ``behind`` (dropped once they hold
            ``total``; a node's count only grows here: no order crosses or expires): the
            drain's polls, ten a second, load only the nodes still being waited for."""
            nodes.check_alive()
            urls = [nodes.urls[i] for i in sorted(behind)]
            for i, h in zip(sorted(behind), await healths(s, urls), strict=True):
                if h["orders"] >= total:
                    behind.discard(i)
            return not behind

        arrivals = workdir / f"arrivals-{n}.json"
        with watcher(nodes.urls, arrivals) as wproc:
            meter.groups["watcher"] = [wproc.pid]
            w = await post_paced(
                s, nodes.urls, warm, [rng.randrange(n) for _ in warm], 100.0, 16, raw
            )
            total = sum(1 for c in w["status"].values() if c == 201)
            if await wait_until(lambda: all_have(total), timeout=30) is None:
                raise RuntimeError("warm-up orders did not reach every node within 30 s")
            windows = []
            for rate, orders in phases:
                await asyncio.sleep(1.5)  # let anti-entropy and outboxes go quiet
                hi, ti = await healths(s, nodes.urls), time.monotonic()
                meter.start()  # what the nodes use with no orders coming (timers, polls)
                await asyncio.sleep(1.5)
                idle = meter.stop()["nodes"]
                h0, t0 = await healths(s, nodes.urls), time.monotonic()
                unix0 = time.time()
                nodes.signal(signal.SIGUSR1)
                meter.start()
                targets = [rng.randrange(n) for _ in orders]
                stop, flooding = asyncio.Event(), None
                if flooder is not None:
                    flooding = asyncio.create_task(flooder.run(stop))
                p = await post_paced(s, nodes.urls, orders, targets, rate, args.concurrency, raw)
                stop.set()
                tally = {} if flooding is None else await flooding
                p["flood"] = tally
                if flooder is not None and args.flood_ids > 1:  # (alike86: each id's own)
                    p["flood_ids"] = flooder.ids_tallies
                accepted = sum(1 for c in p["status"].values() if c == 201)
                total += accepted + tally.get("accepted", 0)  # (its orders reach every node)
                drained = await wait_until(
                    lambda total=total, behind=set(range(n)): caught_up(behind, total),
                    timeout=args.drain,
                    every=0.1,
                )
                cpu = meter.stop()
                cpu["window_start_unix"], cpu["window_end_unix"] = unix0, time.time()
                trace = meter.trace
                nodes.signal(signal.SIGUSR2)
                cpu["node_cpu_ms_per_order_per_node"] = round(
                    1000 * meter.seconds["nodes"] / max(1, accepted) / n, 2
                )
                cpu["nodes_idle"] = idle
                per = 1 / max(1, accepted) / n
                cpu["node_runs_per_order_per_node"] = {  # (loop thread; the others)
                    "main": round(meter.runs[0] * per, 2), "threads": round(meter.runs[1] * per, 2)
                }  # fmt: skip
                above_idle = max(0.0, meter.seconds["nodes"] - idle * meter.wall)
                cpu["node_cpu_ms_per_order_per_node_above_idle"] = round(
                    1000 * above_idle / max(1, accepted) / n, 3
                )
                await asyncio.sleep(0.5)
                h1 = await healths(s, nodes.urls)
                window = time.monotonic() - t0
                cpu["threads"] = thread_cpu(hi, h0, h1, t0 - ti, window, n, accepted)
                windows.append((rate, p, h0, h1, cpu, drained, trace))
            data = finish_watcher(wproc, arrivals)
            meter.groups.pop("watcher", None)
        if args.idle > 0:  # nothing posted, no watcher: the nodes' timers and polls alone
            await asyncio.sleep(args.idle_settle)
            meter.start()
            await asyncio.sleep(args.idle)
            idle_cores = meter.stop()["nodes"]
            nodes.check_alive()
            setup["idle"] = {"settle_s": args.idle_settle, "seconds": args.idle,
                             "cores_per_node": round(idle_cores / n, 4)}  # fmt: skip
        if raw is not None:
            raw.close()
        if flooder is not None:
            await flooder.stop()
    for rate, p, h0, h1, cpu, drained, trace in windows:
        run = {**analyse(n, rate, p, data, h0, h1, cpu, drained, args), **setup}
        run["peer_requests"] = peer_requests(h0, h1)
        run["peer_refusals"] = peer_refusals(h0, h1)
        if flood:  # (peers81: the flooder's own refusals, and the honest peers')
            run["flood"] = p["flood"]
            if "flood_ids" in p:
                run["flood_ids"] = p["flood_ids"]
            run["peer_refusals"] = split(run["peer_refusals"], p["flood"])
        run["runnable_trace"] = trace
        out.append(run)
    return out


def thread_cpu(
    hi: list[dict[str, Any]],
    h0: list[dict[str, Any]],
    h1: list[dict[str, Any]],
    idle_s: float,
    window_s: float,
    n: int,
    accepted: int,
) -> dict[str, dict[str, float]] | None:
    """The nodes' threads (loop, ECDSA worker, store writer, chain, ...), all nodes
    together: ms of CPU per order per node in the window above what they used idle (``hi``
    to ``h0``, scaled to the window), and ms waited for a CPU while runnable (``/health``
    ``gossip.threadCpu``: run and wait seconds by thread name)."""
    if any("threadCpu" not in h["gossip"] for h in hi + h0 + h1):
        return None  # nodes from before it was measured

    def total(a: list[dict[str, Any]], b: list[dict[str, Any]], k: int) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for x, y in zip(a, b, strict=True):
            for name, row in y["gossip"]["threadCpu"].items():
                was = x["gossip"]["threadCpu"].get(name, [])
                if len(row) > k:  # (nodes from before a field was reported: 0)
                    out[name] += row[k] - (was[k] if len(was) > k else 0.0)
        return out

    run, idle, wait = total(h0, h1, 0), total(hi, h0, 0), total(h0, h1, 1)
    runs = total(h0, h1, 2)
    per = 1000 / max(1, accepted) / n
    return {
        name: {
            "cpu_ms_per_order_per_node": round(run[name] * per, 4),
            "above_idle": round((run[name] - idle.get(name, 0.0) * window_s / idle_s) * per, 4),
            "waited_ms_per_order_per_node": round(wait[name] * per, 4),
            "runs_per_order_per_node": round(runs[name] * per / 1000, 3),
        }
        for name in sorted(run)
    }


def node_stamped(
    sent: dict[str, float],
    ok: list[str],
    n: int,
    data: dict[str, Any],
    arrived: dict[str, dict[int, float]],
) -> dict[str, Any] | None:
    """The latencies again by the nodes' own stamps (``metaData.sentAt``: when each node
    wrote its ``added`` event to the watcher) instead of the watcher's, how long the
    nodes held each event after publishing it (``publishedAt``: at the order's hand-over
    to gossip; the event leaves after its pushes) and the watcher's lag behind them (its
    stamp less the node's ``sentAt``, per event); None from nodes without the stamps."""
    stamps: dict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
    for h, i, published, written in data.get("published", ()):
        if h in sent:
            stamps[h].setdefault(i, (published, written))
    if not stamps:
        return None
    to_all, per_node, to_origin, held, lag = [], [], [], [], []
    for h in ok:
        got = stamps.get(h, {})
        lat = [w - sent[h] for _, w in got.values()]
        per_node.extend(lat + [INF] * (n - len(got)))
        to_origin.append(min(lat, default=INF))
        to_all.append(max(lat) if len(got) == n else INF)
        held.extend(w - p for p, w in got.values())
        seen = arrived.get(h, {})
        lag.extend(seen[i] - w for i, (_, w) in got.items() if i in seen)
    return {
        "to_every_node": summary(to_all),
        "to_each_node": summary(per_node),
        "accepted_by_first_node": summary(to_origin),
        "published_to_sent": summary(held),
        "watcher_lag": summary(lag),
    }


def delivered_rate(to_all: list[float], posting: float, drained: float | None) -> float | None:
    """Orders every node held, over the window until the last one reached the last node
    (``drained`` after the posting window: the drain's polls, 0.1 s apart); None if some
    never did. While gossip lags the wallets' intake (their POSTs run between its groups) it
    is under the accepted rate, which does not wait for delivery."""
    if drained is None:
        return None
    return round(sum(1 for x in to_all if x != INF) / (posting + drained), 1)


def analyse(
    n: int,
    rate: float,
    p: dict[str, Any],
    data: dict[str, Any],
    h0: list[dict[str, Any]],
    h1: list[dict[str, Any]],
    cpu: dict[str, float],
    drained: float | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    sent, status = p["sent"], p["status"]
    ok = [h for h, c in status.items() if c == 201]
    arrived: dict[str, dict[int, float]] = defaultdict(dict)
    for h, i, t in data["arrivals"]:
        if h in sent:
            arrived[h].setdefault(i, t)
    to_all, per_node, to_origin, missing_pairs = [], [], [], 0
    hops: dict[int, list[float]] = defaultdict(list)  # k -> the k-th node after the first
    t_first = min(sent.values())
    by_second: dict[int, list[float]] = defaultdict(list)
    for h in ok:
        got = arrived.get(h, {})
        missing_pairs += n - len(got)
        lat = [t - sent[h] for t in got.values()]
        per_node.extend(lat + [INF] * (n - len(got)))
        to_origin.append(min(lat, default=INF))
        worst = max(lat) if len(got) == n else INF
        to_all.append(worst)
        for k, t in enumerate(sorted(got.values())[1:], 1):
            hops[k].append(t - min(got.values()))
        by_second[int(sent[h] - t_first)].append(worst)

    def delta(key: str) -> int:
        return sum(
            b["gossip"].get(key, 0) - a["gossip"].get(key, 0) for a, b in zip(h0, h1, strict=True)
        )

    def store_delta(key: str) -> int:
        return sum(
            b.get("store", {}).get(key, 0) - a.get("store", {}).get(key, 0)
            for a, b in zip(h0, h1, strict=True)
        )

    def sub_delta(path: tuple[str, ...]) -> int | None:
        """A nested counter's sum of differences (None: a node that does not report it)."""

        def at(h: dict[str, Any]) -> int | None:
            v: Any = h
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            return v if isinstance(v, int) else None

        pairs = [(at(a), at(b)) for a, b in zip(h0, h1, strict=True)]
        if any(x is None or y is None for x, y in pairs):
            return None
        return sum(y - x for x, y in pairs)  # type: ignore[operator]

    def per_order_node(path: tuple[str, ...], digits: int = 3) -> float | None:
        d = sub_delta(path)
        return None if d is None else round(d / per, digits)

    def peer_delta(key: str) -> int:
        return sum(
            sum(p[key] for p in b["gossip"]["peers"]) - sum(p[key] for p in a["gossip"]["peers"])
            for a, b in zip(h0, h1, strict=True)
        )

    def histogram(table: str, key: str) -> list[int] | None:
        """The window's counts of a ``/health`` gossip histogram, all nodes together."""
        if any(table not in h["gossip"] for h in h0 + h1):
            return None  # nodes from before it was measured
        rows = [
            [y - x for x, y in zip(a["gossip"][table][key], b["gossip"][table][key], strict=True)]
            for a, b in zip(h0, h1, strict=True)
        ]
        return [sum(col) for col in zip(*rows, strict=True)]

    def quantiles(
        counts: list[int] | None, edges: tuple[int, ...] = PUSH_EDGES_US
    ) -> dict[str, float | str] | None:
        """p50 / p90 / p99 of a histogram's window, as its buckets' upper edges (ms)."""
        if counts is None or not sum(counts):
            return None
        out: dict[str, float | str] = {"count": sum(counts)}
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            seen, goal = 0, q * sum(counts)
            for i, c in enumerate(counts):
                seen += c
                if seen >= goal:
                    top = f"> {edges[-1] / 1000}"  # (the last bucket has no upper edge)
                    out[name] = round(edges[i] / 1000, 2) if i < len(edges) else top
                    break
        return out

    def push_counts() -> dict[str, int] | None:
        """The window's pushes answered at once, failed, and orders never timed (``PushTiming``)."""
        if any("failed" not in h["gossip"].get("pushTiming", {}) for h in h0 + h1):
            return None  # nodes from before they were counted
        pairs = [
            (a["gossip"]["pushTiming"], b["gossip"]["pushTiming"])
            for a, b in zip(h0, h1, strict=True)
        ]
        return {k: sum(b[k] - a[k] for a, b in pairs) for k in ("allKnown", "failed", "unpushed")}

    def delta_gc_seconds() -> float:
        return sum(b["gossip"]["gc"]["seconds"] - a["gossip"]["gc"]["seconds"]
                   for a, b in zip(h0, h1, strict=True))  # fmt: skip

    per = max(1, len(ok)) * n
    copies, frames = delta("ordersSent"), delta("streamFramesSent")
    messages = delta("messagesSent")
    return {
        "nodes": n,
        "seeds": args.seeds,
        "fanout": FANOUT,
        "offered": {
            "rate_per_s": rate,
            "accepted_per_s": round(p["achieved_rate"]),
            "accepted_per_s_exact": round(p["achieved_rate"], 1),
            # what accepted_per_s would read had every order offered been posted and answered
            # 201, over the same window (its tail counted): an offer of R/s for T seconds reads
            # at most R * T / (T + tail), so at R = 1,000 it is under 1,000 by the tail alone
            "accepted_ceiling_per_s": round(p["ceiling_rate"], 1),
            "posting_seconds": round(p["posting_seconds"], 2),
            "last_answer_after_window_ms": round(1000 * p["last_answer_after_window"], 1),
            "concurrency": args.concurrency,
            "client": args.client,
            "client_cpu_us_per_post": round(1e6 * p["poster_cpu_s"] / max(1, len(sent)), 1),
            "orders_posted": len(sent),
            "orders_not_posted_in_window": p["not_posted"],
            "orders_not_201": p["not_201"],
            "orders_accepted": len(ok),
            "post_errors": p["errors"],
            "post_latency_ms": summary(p["post_latency"]),
        },
        "latency_ms": {
            "to_every_node": summary(to_all),
            "to_each_node": summary(per_node),
            "accepted_by_first_node": summary(to_origin),
            "first_node_to_kth_node": {  # the watcher's stamps: the spread past the first
                str(k): {"p50": pct(v, 0.5), "p99": pct(v, 0.99)} for k, v in sorted(hops.items())
            },
            "to_every_node_p99_by_second_of_posting": [
                pct(by_second[k], 0.99) for k in sorted(by_second)
            ],
        },
        "node_stamped_ms": node_stamped(sent, ok, n, data, arrived),
        "watcher_process": data.get("watcher"),  # (over every window: one watcher a run)
        "coverage": round(1 - missing_pairs / per, 6),
        "mesh_size": {
            "mean": round(sum(h["gossip"]["mesh"] for h in h1) / len(h1), 2),
            "max": max(h["gossip"]["mesh"] for h in h1),
        },
        "orders_reaching_every_node": sum(1 for x in to_all if x != INF),
        "pairs_missing": missing_pairs,
        "seconds_after_last_post_until_all_delivered": (
            None if drained is None else round(drained, 2)
        ),
        "delivered_to_every_node_per_s": delivered_rate(to_all, p["posting_seconds"], drained),
        "per_order_per_node": {
            "order_copies_sent": round(copies / per, 2),
            "messages_sent": round(messages / per, 3),
            "http_messages_sent": round((messages - frames) / per, 3),
            "stream_frames_sent": round(frames / per, 3),
            "stream_answer_frames_sent": round(delta("streamAnswerFrames") / per, 3),
            "order_copies_received": round(peer_delta("received") / per, 2),
            "echoes_skipped": round(delta("echoesSkipped") / per, 3),
            "hint_skipped": round(delta("hintSkipped") / per, 3),
            "hint_held": round(delta("hintHeld") / per, 3),
            "timer_wakeups": round(delta("timerWakeups") / per, 3),  # (0: older nodes)
            "void_timers": round(delta("voidTimers") / per, 3),
            # (sim44) peers' checks through the intake: calls, and those taking more than one
            # check's orders (``PeerChecks``: the checks that waited go in together)
            "intake_groups": round(delta("intakeGroups") / per, 3),
            "intake_merged": round(delta("intakeMerged") / per, 3),
            "store_commits": round(store_delta("commits") / per, 3),
            "store_jobs": round(store_delta("jobs") / per, 3),
            # wake-ups: the loop's turns (those woken by a socket or a thread's hand-back;
            # those that slept first), and hand-overs to the ECDSA and store threads
            "loop_turns": per_order_node(("gossip", "loopTurns", "turns")),
            "loop_turns_woken": per_order_node(("gossip", "loopTurns", "woken")),
            "loop_turns_slept": per_order_node(("gossip", "loopTurns", "slept")),
            "ecdsa_handovers": per_order_node(("chainMirror", "signatures", "handovers")),
            "ecdsa_deliveries": per_order_node(("chainMirror", "signatures", "batches")),
            "ecdsa_on_loop": per_order_node(("chainMirror", "signatures", "onLoop")),
            "store_handovers": per_order_node(("store", "handovers")),
        },
        "gossip_totals": {
            "order_copies_sent": copies,
            "messages_sent": messages,
            "http_messages_sent": messages - frames,
            "stream_frames_sent": frames,
            "orders_pulled_by_anti_entropy": delta("pulled"),
            "outbox_dropped": delta("outboxDropped"),
            "order_copies_received": peer_delta("received"),
            "order_copies_received_beyond_sent_and_pulled": peer_delta("received")
            - copies
            - delta("pulled"),
            "chain_state_calls": sum(
                b["chainStateCalls"] - a["chainStateCalls"] for a, b in zip(h0, h1, strict=True)
            ),
        },
        "check_timing_us": {
            "edges": list(EDGES_US),
            "cpu": histogram("checkTiming", "cpuUs"),
            "wall": histogram("checkTiming", "wallUs"),
            "off_cpu": histogram("checkTiming", "offCpuUs"),
            "gc_pauses": histogram("gc", "pausesUs"),
            "gc_by_generation": histogram("gc", "byGeneration"),
            "gc_seconds": round(delta_gc_seconds(), 4) if histogram("gc", "byGeneration") else None,
        },
        "push_timing_ms": {  # per push: outbox hold, round trip; per push checked: queue, check
            **{  # (the nodes count microseconds; these are ms: the keys say so, not ``Us``)
                k.removesuffix("Us"): quantiles(histogram("pushTiming", k))
                for k in ("holdUs", "roundTripUs", "queueUs", "checkUs")
            },
            "counts": push_counts(),
        },
        "hardhat_calls_per_order_per_node": _chain_calls(h0, h1, per * len(h0)),
        "watcher_sockets_closed_early": data["closed_early"],
        "cpu_cores_used": cpu,
    }


def _chain_calls(
    h0: list[dict[str, Any]], h1: list[dict[str, Any]], order_nodes: int
) -> dict[str, Any]:
    """JSON-RPC calls the nodes made in the window, per (order, node): the intake's reads
    (first-seen accounts, EIP-1271) and every call of the async client (watcher included;
    settlement transactions go through their own client and are not counted here)."""

    def total(key: str) -> int:
        return sum(
            int(b.get("chainMirror", {}).get(key, 0)) - int(a.get("chainMirror", {}).get(key, 0))
            for a, b in zip(h0, h1, strict=True)
        )

    intake, calls = total("intakeChainCalls"), total("chainCalls")
    return {
        "intake_reads": round(intake / max(1, order_nodes), 4),
        "all_async_rpc_calls": round(calls / max(1, order_nodes), 4),
        "orders_from_mirror": total("ordersFromMirror"),
        "orders_read_from_chain": total("ordersReadFromChain"),
    }


# -- driver -----------------------------------------------------------------------------------


def peer_requests(h0: list[dict[str, Any]], h1: list[dict[str, Any]]) -> dict[str, Any]:
    """Admitted peers' requests over the window, all nodes together, from ``/health``
    ``gossip.peerRequests`` (gossip77: what they took of the loop, what they were charged of
    their request budgets, and how many were refused over them); {} on a node without it."""
    got: dict[str, Any] = {}
    for a, b in zip(h0, h1, strict=True):
        x = (a.get("gossip") or {}).get("peerRequests")
        y = (b.get("gossip") or {}).get("peerRequests")
        if not (isinstance(x, dict) and isinstance(y, dict)):
            return {}
        for k, v in _flat(y).items():  # (gossip78: ``intake``, a dict of its own)
            got[k] = got.get(k, 0) + v - _flat(x).get(k, 0)
    return {k: round(v, 3) for k, v in got.items()}


def peer_refusals(h0: list[dict[str, Any]], h1: list[dict[str, Any]]) -> dict[str, Any]:
    """What the nodes refused one another over the window, all nodes together (flood80):
    their requests refused over a peer's budget (``peerRequests.throttled``: 429s and
    streams closed), the most on one node, the refusal gate's (``refusals``: 401s, a
    stranger's 429s, replays; ``gated``, 429 by client address), the pushes that got no
    answer (``pushTiming.failed``) and the pushed orders rejected unchecked, their pusher in
    debt (``intakeUnpaid``); None where a node did not report it."""

    def delta(path: tuple[str, ...]) -> list[int] | None:
        out = []
        for a, b in zip(h0, h1, strict=True):
            x, y = a.get("gossip"), b.get("gossip")
            for k in path:
                x = x.get(k) if isinstance(x, dict) else None
                y = y.get(k) if isinstance(y, dict) else None
            if not (isinstance(x, int) and isinstance(y, int)):
                return None
            out.append(y - x)
        return out

    throttled = delta(("peerRequests", "throttled"))
    got: dict[str, Any] = {
        "throttled": None if throttled is None else sum(throttled),
        "throttled_most_on_one_node": None if throttled is None else max(throttled),
    }
    for name, path in (
        ("refused", ("refusals", "refused")),
        ("gated", ("refusals", "gated")),
        ("pushes_failed", ("pushTiming", "failed")),
        ("orders_rejected_pusher_in_debt", ("intakeUnpaid",)),
    ):
        d = delta(path)
        got[name] = None if d is None else sum(d)
    return got


def _flat(counts: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``counts``' numbers, a nested dict's as ``outer.inner`` (``crowded``, a factor, left out)."""
    out: dict[str, float] = {}
    for k, v in counts.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif isinstance(v, int | float) and k != "crowded":
            out[prefix + k] = v
    return out


def orders_in_window(rate: float, args: argparse.Namespace) -> int:
    """Orders offered at ``rate``: ``--seconds`` of them, or ``--min-orders`` if more (the
    window is then that much longer: a p99 over 40 orders is their slowest one)."""
    return max(int(rate * args.seconds), getattr(args, "min_orders", 0) or 0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sdex.chain import Exchange
    from sdex.chainnode import HardhatNode
    from sdex.devnet import deploy_devnet, dev_keys

    makers = list(range(MAX_NODES, MAX_NODES + args.makers))
    flood_makers = list(range(MAX_NODES + args.makers, MAX_NODES + args.makers + FLOOD_MAKERS))
    per_run = WARMUP + sum(orders_in_window(r, args) for r in args.rate)
    if per_run > 900 * len(makers):
        raise SystemExit(f"{per_run} orders need more than --makers {args.makers} (1,000 each)")
    result: dict[str, Any] = {"runs": []}
    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sdex-gossip-")))
        deployment_file = workdir / "devnet.json"
        hardhat = HardhatNode(None, workdir / "hardhat.log")
        rpc = hardhat.start()
        try:
            # Hardhat funds its first 20 accounts with ETH only (hardhat.config.js): give the
            # others gas money, then deploy and fund/approve every account as `Devnet` does.
            count = MAX_NODES + args.makers + (FLOOD_MAKERS if args.flood else 0)
            for key in dev_keys(count)[20:]:
                rpc.call("hardhat_setBalance", address_of(key), hex(10_000 * 10**18))
            deployment = deploy_devnet(rpc, hardhat.url, count)
            deployment.save(deployment_file)
            assert hardhat.proc is not None
            domain = Exchange(rpc, deployment.exchange).domain()
            now = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
            signer = Signer(deployment, domain, now + 3 * 3600)
            keys = [a.key for a in deployment.accounts]
            for n in args.nodes:
                t0 = time.monotonic()
                orders = signer.bodies(per_run, makers)
                signing = time.monotonic() - t0
                warm, rest, phases = orders[:WARMUP], orders[WARMUP:], []
                for rate in args.rate:
                    k = orders_in_window(rate, args)
                    phases.append((rate, rest[:k]))
                    rest = rest[k:]
                run_dir = workdir / f"n{n}"
                run_dir.mkdir(exist_ok=True)
                nodes = NodeProcs(
                    n, deployment_file, run_dir, args.seeds, args.profile,
                    args.node_root.resolve(), args.sample, args.node_site,
                )  # fmt: skip
                try:
                    nodes.start(keys)
                    meter = CpuMeter(
                        {
                            "nodes": [p.pid for p in nodes.procs],
                            "hardhat": [hardhat.proc.pid],
                            "bench_poster": [os.getpid()],
                        }
                    )
                    flood = None
                    if args.flood:
                        flood = [b for _, b in signer.bodies(args.flood_orders, flood_makers)]
                    runs = asyncio.run(measure(n, nodes, phases, warm, args, meter, run_dir, flood))
                finally:
                    nodes.stop()
                for r in runs:
                    r["seconds_to_sign_orders"] = round(signing, 1)
                result["runs"].extend(runs)
                print(json.dumps({"nodes": n, "done": True}), file=sys.stderr)
        finally:
            rpc.close()
            hardhat.stop()
    result["targets"] = targets(result)
    result["machine"] = machine()
    return result


def targets(r: dict[str, Any]) -> dict[str, Any]:
    """Issue 5's benchmark targets with the figures reached, for each measured window."""
    out: dict[str, Any] = {}
    for run in r["runs"]:
        n, key = run["nodes"], f"{run['nodes']}_nodes_at_{run['offered']['rate_per_s']:g}_per_s"
        p99 = run["latency_ms"]["to_every_node"]["p99"]
        msgs = run["per_order_per_node"]
        # copies sent counts the pushes a peer acknowledged; a push that timed out and was sent
        # again shows in the receivers' count: the worst of the three is what went over the wire
        worst = max(msgs["order_copies_sent"], msgs["messages_sent"],
                    msgs["order_copies_received"])  # fmt: skip
        t = {
            "coverage": {"value": run["coverage"], "target": ">= 1.0",
                         "met": run["coverage"] >= TARGET_COVERAGE},
            "messages_per_order_per_node": {
                "value": worst, "target": f"<= {2 * FANOUT} (2 x fan-out)",
                "met": worst <= 2 * FANOUT},
        }  # fmt: skip
        if n == 8:
            t["p99_to_every_node_ms"] = {
                "value": p99, "target": f"<= {TARGET_P99_MS}",
                "met": p99 is not None and p99 <= TARGET_P99_MS,
            }  # fmt: skip
        out[key] = t
    return out


def reference(r: dict[str, Any]) -> str:
    """Each cluster's reference: one signed /p2p/ round trip, measured in the same run."""
    out, seen = [], set()
    for run in r["runs"]:
        ref = run["p2p_call_ms"]["p50"]
        lat = run["latency_ms"]["to_every_node"]["p50"]
        ratio = "-" if lat is None or not ref else f"{lat / ref:,.1f}x"
        head = "" if run["nodes"] in seen else (
            f"{run['nodes']} nodes: a signed `GET /p2p/digest` round trip from the bench "
            f"p50 {ref} ms / p99 {run['p2p_call_ms']['p99']} ms; "
        )  # fmt: skip
        seen.add(run["nodes"])
        out.append(f"{head}at {run['offered']['rate_per_s']:,.0f}/s to every node p50 = {ratio} it")
    return "Reference figures (same run, before the windows): " + "; ".join(out) + "."


def issue11(r: dict[str, Any]) -> str:
    """Issue 11's gossip targets against the windows measured."""
    out = []
    for run in r["runs"]:
        n, rate = run["nodes"], run["offered"]["rate_per_s"]
        p99 = run["latency_ms"]["to_every_node"]["p99"]
        acc, cov = run["offered"]["accepted_per_s"], run["coverage"]
        goal = {(8, 100.0): 50, (16, 20.0): 100}.get((n, rate))
        if goal is not None:
            met = p99 is not None and p99 <= goal and cov >= 1.0
            out.append(f"{n} nodes at {rate:g}/s p99 <= {goal} ms: {p99} ms "
                       f"({'met' if met else 'not met'})")  # fmt: skip
        ceiling = run["offered"].get("accepted_ceiling_per_s")
        delivered = run.get("delivered_to_every_node_per_s")
        if n == 8 and 300 <= rate <= 1000:
            met = acc >= 1000 and cov >= 1.0
            out.append(f"8 nodes at {rate:g}/s offered >= 1,000/s accepted, 100% coverage: "
                       f"{acc}/s, {100 * cov:.1f}% ({'met' if met else 'not met'}; "
                       f"{ceiling}/s if every order offered were accepted, the tail "
                       f"as measured; delivered to every node: {delivered}/s)")  # fmt: skip
        elif n == 8 and rate > 1000:  # (above the target's offers: what the nodes let in)
            out.append(f"8 nodes at {rate:g}/s offered, a capacity figure (not the target's "
                       f"300-1,000/s): {acc}/s accepted, {100 * cov:.1f}%, delivered to "
                       f"every node: {delivered}/s")  # fmt: skip
    return "; ".join(out) + "." if out else "(no window of issue 11's sizes)."


def demand(r: dict[str, Any]) -> str:
    """What the offered rate would cost in node CPU, from each window's measured cost."""
    out = []
    for run in r["runs"]:
        rate, n = run["offered"]["rate_per_s"], run["nodes"]
        ms = run["cpu_cores_used"]["node_cpu_ms_per_order_per_node"]
        out.append(
            f"{n} nodes at {rate:,.0f}/s: {n} x {rate:,.0f} x {ms} ms = "
            f"{n * rate * ms / 1000:,.1f} cores"
        )
    return (
        "Node CPU the offered rate would need (nodes x rate x the measured CPU per order per "
        "node, which includes each node's idle work, so it is high at low rates): "
        + "; ".join(out)
        + f". The machine has {r['machine']['nproc']} cores, shared with Hardhat, the "
        "benchmark and other processes."
    )


def markdown(r: dict[str, Any], args: argparse.Namespace) -> str:
    m = r["machine"]
    rows = []
    for run in r["runs"]:
        lat = run["latency_ms"]["to_every_node"]
        off = run["offered"]
        per = run["per_order_per_node"]
        cpu = run["cpu_cores_used"]
        ms = [("-" if x is None else f"{x:,.0f}") for x in (lat["p50"], lat["p99"], lat["max"])]
        drained = run["seconds_after_last_post_until_all_delivered"]
        hc = run["hardhat_calls_per_order_per_node"]
        rows.append(
            f"| {run['nodes']} | {off['rate_per_s']:,.0f}/s | {off['accepted_per_s']:,}/s "
            f"({off['orders_accepted']:,} orders) | {' / '.join(ms)} ms "
            f"| {100 * run['coverage']:.1f}% "
            f"{'(all in ' + str(drained) + ' s)' if drained is not None else '(drain cut)'} "
            f"| {per['order_copies_sent']} / {per['http_messages_sent']} / "
            f"{per['stream_frames_sent']} / "
            f"{per['order_copies_received']} | {hc['intake_reads']} / "
            f"{hc['all_async_rpc_calls']} | {cpu['node_cpu_ms_per_order_per_node']} ms "
            f"| {cpu['machine']} (nodes {cpu['nodes']}, Hardhat {cpu['hardhat']}, others "
            f"{cpu['other_processes']}) |"
        )
    table = (
        "| nodes | offered | accepted by the nodes | to every node p50 / p99 / max | coverage "
        "| per order per node: copies sent / HTTP messages / stream calls / copies received "
        "| Hardhat calls per order per node: intake reads / all (watcher included) "
        "| node CPU per order per node | cores busy of " + str(m["nproc"]) + " |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    verdicts = []
    for key, t in r["targets"].items():
        parts = [
            f"{name} {v['value']} (target {v['target']}: {'met' if v['met'] else 'missed'})"
            for name, v in t.items()
        ]
        verdicts.append(f"- {key.replace('_', ' ')}: " + "; ".join(parts))
    seeds = {
        "bootstrap": "each node started with node 0 as its only `--peer`; the others found by "
        "peer exchange (the benchmark waits until every node knows all N-1)",
        "chain": "node i started with node i-1 only; the others found by peer exchange",
        "full": "every node started with all the others",
    }[args.seeds]
    cmd = (
        f"bench/gossip.py --nodes {' '.join(map(str, args.nodes))} "
        f"--rate {' '.join(f'{x:g}' for x in args.rate)} --seconds {args.seconds:g} "
        f"--concurrency {args.concurrency} --drain {args.drain:g} --seeds {args.seeds} "
        f"--client {args.client}"
    )
    return (
        f"Measured {date.today()} on {m['os']}, nproc {m['nproc']}, {m['cpu']}, CPython "
        f"{m['python']}, by `{cmd}`. N `sdex node` processes, one Hardhat devnet, the poster "
        "and the websocket watcher share this machine (one clock for every timestamp). "
        f"Seeds: {seeds}. Nodes run the default gossip settings: fan-out {FANOUT}, push "
        "one push in flight per peer (orders accepted meanwhile leave as one batch with "
        "its answer), anti-entropy every 1 s. Orders are posted to a random "
        "node each, for the stated window, by "
        f"{args.concurrency} keep-alive clients; latency runs from the start of an order's "
        "POST until its `added` event arrives on the websocket of the last node to get it "
        "(`-`: that percentile fell on an order still missing somewhere when the drain window "
        f"of {args.drain:g} s after the last POST ended). Messages are counted from every "
        "node's `/health` over the window (push, anti-entropy, peer exchange), as signed HTTP "
        "requests or as calls on a peer's stream (`sdex.gossip.stream`); `copies "
        "received` counts what the receivers processed, including batches a sender timed "
        "out on and sent again. Cores busy are machine-wide over the window; `others` is "
        "load from processes outside this benchmark.\n\n"
        + table
        + "\n\n"
        + reference(r)
        + "\n\n"
        + demand(r)
        + "\n\nTargets (issue 11): "
        + issue11(r)
        + "\n\nTargets (issue 5):\n\n"
        + "\n".join(verdicts)
        + "\n\n```json\n"
        + json.dumps(r, indent=2)
        + "\n```\n"
    )


def print_profiles(profile: Path, sampled: bool = False) -> None:
    """The first node's profile of each run (the nodes are alike), to stderr; sampled: every
    node's samples together, the share of them each function was on the stack, and its own."""
    import pstats

    if sampled:
        for run in sorted({f.name.split("-node-")[0] for f in profile.glob("*-node-*.prof")}):
            stacks: defaultdict[str, int] = defaultdict(int)
            for f in profile.glob(f"{run}-node-*.prof"):
                for k, v in json.loads(f.read_text()).items():
                    stacks[k] += v
            total = max(1, sum(stacks.values()))
            within: defaultdict[str, int] = defaultdict(int)
            own: defaultdict[str, int] = defaultdict(int)
            for k, v in stacks.items():
                frames = k.split(";")
                for fn in set(frames):
                    within[fn] += v
                own[frames[-1]] += v
            print(f"\n===== {run}: {total} samples (on the stack / own) =====", file=sys.stderr)
            for fn, v in sorted(within.items(), key=lambda kv: -kv[1])[:60]:
                print(
                    f"{100 * v / total:5.1f}% {100 * own[fn] / total:5.1f}%  {fn}", file=sys.stderr
                )
        return
    for f in sorted(profile.glob("*-node-0.prof")):
        for key in ("cumulative", "tottime"):
            print(f"\n===== {f.name} ({key}) =====", file=sys.stderr)
            pstats.Stats(str(f), stream=sys.stderr).sort_stats(key).print_stats(30)


def parser() -> argparse.ArgumentParser:
    """The command line (``bench/gossip_sim.py`` takes its defaults for its real run)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[8, 16], help="cluster sizes")
    ap.add_argument(
        "--rate", type=float, nargs="+", default=[1000.0],
        help="orders per second offered; several: one window each, in order, same cluster",
    )  # fmt: skip
    ap.add_argument("--seconds", type=float, default=8.0, help="how long to offer them")
    ap.add_argument("--min-orders", type=int, default=0, help="at least this many orders a rate")
    ap.add_argument("--concurrency", type=int, default=128, help="HTTP posts in flight")
    ap.add_argument(
        "--client", choices=["raw", "aiohttp"], default="raw",
        help="the poster's HTTP client: raw (bench/rawpost.py, the same requests for less "
        "of the machine's CPU) or aiohttp's (before 2026-12-05's gossip50)",
    )  # fmt: skip
    ap.add_argument("--makers", type=int, default=24, help="dev accounts that sign the orders")
    ap.add_argument("--seeds", choices=["bootstrap", "chain", "full"], default="bootstrap")
    ap.add_argument("--drain", type=float, default=45.0, help="seconds to wait after posting")
    ap.add_argument(
        "--flood", type=int, default=0,
        help="an admitted peer floods node 0 with this many pushes in flight (bench/flooder.py)",
    )  # fmt: skip
    ap.add_argument("--flood-batch", type=int, default=32, help="orders a flooder's push")
    ap.add_argument(
        "--flood-ids", type=int, default=1,
        help="the flood spread over this many admitted ids (bench/flooder.py Split)",
    )  # fmt: skip
    ap.add_argument("--flood-orders", type=int, default=3000, help="the flooder's orders, cycled")
    ap.add_argument("--profile", type=Path, help="run the nodes under cProfile, files here")
    ap.add_argument("--sample", action="store_true", help="with --profile: sample instead")
    ap.add_argument("--write", type=Path, help="update the gossip section of this markdown file")
    ap.add_argument("--section", default="Gossip (bench/gossip.py)", help="its title")
    ap.add_argument("--note", default="", help="a paragraph put first in that section")
    ap.add_argument("--workdir", type=Path, help="keep the databases and logs here")
    ap.add_argument(
        "--node-root", type=Path, default=ROOT,
        help="run the nodes from this checkout (A/B: a frozen one of the base branch)",
    )  # fmt: skip
    ap.add_argument(
        "--node-site", type=Path,
        help="put this directory first on the nodes' PYTHONPATH (a sitecustomize that counts)",
    )  # fmt: skip
    ap.add_argument(
        "--switch-interval", type=float,
        help="the nodes' GIL switch interval, seconds ($SDEX_SWITCH_INTERVAL; default: the node's)",
    )  # fmt: skip
    ap.add_argument(
        "--idle", type=float, default=0.0,
        help="after the windows, measure the nodes' CPU over this many idle seconds",
    )  # fmt: skip
    ap.add_argument(
        "--idle-settle", type=float, default=20.0,
        help="seconds of quiet before that (the nodes settle after the last window)",
    )  # fmt: skip
    return ap


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--watch":
        asyncio.run(watch(sys.argv[3:], Path(sys.argv[2])))
        return
    ap = parser()
    args = ap.parse_args()
    if any(not 2 <= n <= MAX_NODES for n in args.nodes):
        ap.error(f"--nodes: each between 2 and {MAX_NODES}")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.switch_interval is not None:  # (the nodes inherit the environment)
        os.environ["SDEX_SWITCH_INTERVAL"] = repr(args.switch_interval)
    with quiet():  # (the flooder's server: its links' closed connections counted, not logged)
        result = run(args)
    result["node_switch_interval"] = os.environ.get("SDEX_SWITCH_INTERVAL") or "the node's default"
    result["profiled"] = args.profile is not None
    print(json.dumps(result, indent=2))
    if args.profile is not None:
        print_profiles(args.profile, args.sample)
    if args.write:
        if args.profile is not None:
            sys.exit("not writing profiled figures: run again without --profile")
        note = args.note + "\n\n" if args.note else ""
        write_section(args.write, args.section, note + markdown(result, args))


if __name__ == "__main__":
    main()
