"""What a benchmark's processes compete with for the CPU, sampled while it runs.

Linux's fair scheduler (CFS; EEVDF since 6.6) shares the cores among runnable tasks, and
with ``sched_autogroup_enabled`` (on this machine: every helper's shell is a session, and
each session an autogroup) it shares them among the active *groups* first: a group with
runnable tasks gets an equal share of the machine (no more than its runnable tasks can use),
split equally among its own runnable tasks. So what slows one of our nodes is not the other
processes' CPU use but how many other groups want the CPU and how many of our own other
tasks (the chain, the load generator, the watcher) do. ``RunQueue`` samples both every
``EVERY`` seconds from a process of its own (``python bench/runqueue.py``, started by
``RunQueue``, in our session so in our group): every process's state in ``/proc`` (its
main thread; ours thread by thread), grouped by ``/proc/PID/autogroup``. ``sdex.sim.cpu``
replays the samples.

The sampler was a thread of the process that creates ``RunQueue`` (bench/gossip.py's
poster) until sim11: busy 12% of the time (5-25 ms of CPU a sample), it shared the poster's
GIL between a post's ``sent`` stamp and the request's write (sim10: stamp to server arrival
p90 1.3-2.6x at load 10). Its own process takes only a core's share.
"""

from __future__ import annotations

import itertools
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _state(path: str) -> str:
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split(None, 1)[0]
    except (OSError, IndexError):
        return ""


def _autogroup(pid: str) -> str:
    """The process's autogroup; where the kernel keeps none (built without
    ``CONFIG_SCHED_AUTOGROUP``, or a sandboxed ``/proc``), what ``_group`` makes of its
    ``stat``. Empty for a kernel thread or a process gone."""
    try:
        return Path(f"/proc/{pid}/autogroup").read_text().split()[0]
    except (OSError, IndexError):
        pass
    try:
        return _group(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return ""


PF_KTHREAD = 0x00200000
"""``stat``'s flags bit of a kernel thread."""

SHARED = "all"
"""The one group of a ``/proc`` that names no session (a PID namespace whose session
leader is outside it, as in CI's sandbox, reports session 0): with no group to tell them
apart, every user process competes with every other, as the scheduler without autogroups
has them do."""


def _group(stat: str) -> str:
    """A process's group from its ``/proc/PID/stat`` text: its session, which is what an
    autogroup follows; ``SHARED`` where the session reads 0; empty for a kernel thread or
    text that is not a ``stat`` line."""
    fields = stat.rsplit(")", 1)[-1].split() if ")" in stat else []
    if len(fields) < 7 or not fields[3].lstrip("-").isdigit() or not fields[6].isdigit():
        return ""
    if int(fields[6]) & PF_KTHREAD:
        return ""
    return f"session-{fields[3]}" if fields[3] != "0" else SHARED


def _threads_running(pid: str) -> int:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    return sum(_state(f"/proc/{pid}/task/{t}/stat") == "R" for t in tids)


MAX_READS = 1000
"""At most this many processes' ``stat`` read a sample (the sampler's cost bounded however
many processes the machine has; the rest are counted in ``skipped``)."""
MAX_BURSTS = 32
"""At most this many other processes' CPU deltas kept a step, the largest; the rest's CPU
goes to the step's ``rest``."""
TICK = 1.0 / os.sysconf("SC_CLK_TCK")
"""Seconds a ``stat`` ``utime``/``stime`` tick."""


def _cpu_ticks(stat: str) -> int:
    """``utime + stime`` (all the process's threads) from its ``stat`` text; 0 if not one."""
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[11]) + int(fields[12])
    except (IndexError, ValueError):
        return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _machine_busy_ticks() -> int:
    """The machine's busy ticks (every core): ``/proc/stat``'s ``cpu`` line less idle and
    iowait."""
    fields = _read("/proc/stat").split("\n", 1)[0].split()[1:]
    try:
        ticks = [int(f) for f in fields[:8]]
    except ValueError:
        return 0
    return sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)


def _schedstat(pid: str) -> tuple[int, int, int]:
    """The main thread's ``schedstat``: ns on a CPU, ns runnable waiting for one
    (``run_delay``, which the kernel measures exactly), and the runs on a CPU."""
    fields = _read(f"/proc/{pid}/schedstat").split()
    try:
        return int(fields[0]), int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return 0, 0, 0


class Sampler:
    """The sampling itself (in the sampler's process): per sample, our group's runnable
    tasks besides the nodes (less this sampler) and each other active group's runnable
    processes; and each sample's wall-clock span (``spans``: the sampler runs, or waits
    for a core, throughout, ``/proc`` reads do not sleep).

    And (sim23) from the same ``stat`` reads, what each process other than the nodes ran
    since the last sample (``cpu``: its ``utime + stime`` delta in ticks, nonzero ones, this
    sampler's own included), the machine's busy ticks, each node's ``stat`` ticks and its
    main thread's ``schedstat`` (CPU ns, ``run_delay`` ns, runs), cumulative; and the
    sampler's own CPU a sample (``own_cpu``, seconds)."""

    def __init__(self, nodes: list[int], t0: float, every: float) -> None:
        self.nodes = {str(p) for p in nodes}
        self.order = [str(p) for p in nodes]
        self.mine = _autogroup("self")
        self.groups: dict[str, str] = {}
        self.t0, self.every = t0, every
        self.samples: list[tuple[float, int, list[int]]] = []
        self.spans: list[tuple[float, float]] = []
        self.cpu: list[dict[str, Any]] = []
        self._ticks: dict[str, int] = {}
        self._seen = False
        self._labels: dict[str, int] = {self.mine: 0}
        """Each group's label in ``gid`` (ours 0, the others 1, 2... as first seen)."""

    def sample(self) -> tuple[int, list[int]]:
        own = -1  # this sampler, running now
        others: dict[str, int] = {}
        ticks: dict[str, int] = {}
        nodes: dict[str, list[int]] = {}
        skipped = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            if len(ticks) + len(nodes) >= MAX_READS:
                skipped += 1
                continue
            group = self.groups.get(pid)
            if group is None:
                group = self.groups[pid] = _autogroup(pid)
            if not group:
                continue
            stat = _read(f"/proc/{pid}/stat")
            if not stat:
                continue
            if pid in self.nodes:
                nodes[pid] = [_cpu_ticks(stat), *_schedstat(pid)]
                continue
            ticks[pid] = _cpu_ticks(stat)
            if group == self.mine:
                own += _threads_running(pid)
            elif stat.rsplit(")", 1)[-1].split(None, 1)[0] == "R":
                others[group] = others.get(group, 0) + 1
        delta = {p: t - self._ticks.get(p, 0) for p, t in ticks.items()} if self._seen else {}
        self._ticks, self._seen = ticks, True
        self._last = {
            "cpu": {p: d for p, d in delta.items() if d > 0},
            "gid": {p: self._label(p) for p, d in delta.items() if d > 0},
            "machine": _machine_busy_ticks(),
            "nodes": [nodes.get(p, [0, 0, 0, 0]) for p in self.order],
            "skipped": skipped,
        }
        return max(0, own), sorted(others.values())

    def _label(self, pid: str) -> int:
        group = self.groups.get(pid, "")
        if group not in self._labels:
            self._labels[group] = len(self._labels)
        return self._labels[group]

    def run(self, stop: list[bool], ready: Any = None) -> None:
        """Samples until ``stop``; ``ready()`` once the first sample is taken (every
        process's group read), so a caller that waits for it is sampled from then on."""
        self.sample()
        self.cpu.append(self._last | {"t": time.monotonic() - self.t0, "own_cpu": 0.0})
        if ready is not None:
            ready()
        while not stop[0]:
            time.sleep(self.every)
            if stop[0]:
                break
            a, c = time.monotonic(), time.process_time()
            own, others = self.sample()
            b = time.monotonic()
            self.samples.append((b - self.t0, own, others))
            self.spans.append((a - self.t0, b - self.t0))
            used = round(time.process_time() - c, 6)
            self.cpu.append(self._last | {"t": b - self.t0, "own_cpu": used})


WAKE_SLEEP = (0.001, 0.01)
"""Seconds the wake-up probe sleeps, drawn uniformly: shorter than a node's idle spells
between orders at 4/s and 40/s, so it wakes as often as they do and at any phase."""


def probe(stop: list[bool], seed: int = 1, ready: Callable[[], None] = lambda: None) -> list[float]:
    """The wake-up probe (a process of its own, in our group): sleeps ``WAKE_SLEEP``, again
    and again, and keeps how late each wake-up ran, in seconds: from when its timer expired
    to when it ran again (the wait for a core of a task woken from sleep, plus the
    timer's slack, 50 us for a normal task). What a node's loop waits, woken by a socket,
    before it runs; measured by a task that uses no CPU to speak of itself."""
    import random

    rng = random.Random(seed)
    late: list[float] = []
    while True:  # (at least one wake-up: ``ready`` is called after the first)
        want = rng.uniform(*WAKE_SLEEP)
        t = time.monotonic()
        time.sleep(want)
        late.append(max(0.0, time.monotonic() - t - want))
        if len(late) == 1:
            ready()
        if stop[0]:
            return late


READY = "ready\n"
"""The sampler's first line on stdout: it samples from then on."""


class RunQueue:
    """Starts the sampler's process; ``stop`` ends it and takes its samples (one machine's
    ``CLOCK_MONOTONIC``: the times are from this object's creation)."""

    EVERY = 0.05

    def __init__(self, nodes: list[int]) -> None:
        self.t0 = time.monotonic()
        self.samples: list[tuple[float, int, list[int]]] = []
        self.spans: list[tuple[float, float]] = []
        self.cpu: list[dict[str, Any]] = []
        argv = [sys.executable, __file__, repr(self.t0), repr(self.EVERY), *map(str, nodes)]
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        self.pid = self._proc.pid
        self._wait_ready(self._proc)
        self.wakeups: list[float] = []
        self._probe: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, __file__, "--probe"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        # (as the sampler: a probe ended before its handler was set would die with nothing)
        self._wait_ready(self._probe)

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], bound: float = 30.0) -> None:
        """Until the sampler says it samples (its start-up, a Python's import time, can
        take longer than a short measured window on a loaded machine), at most ``bound``
        seconds."""
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(bound):
                raise TimeoutError(f"the run-queue sampler did not start in {bound} s")
        line = proc.stdout.readline().decode()
        if line != READY:
            raise RuntimeError(f"the run-queue sampler said {line!r}, not that it samples")

    @staticmethod
    def _end(proc: subprocess.Popen[bytes]) -> bytes:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=10)
        return out

    def _collect(self) -> None:
        waker, self._probe = self._probe, None
        if waker is not None:
            got = self._end(waker)
            self.wakeups = [float(x) for x in json.loads(got)] if got else []
        proc, self._proc = self._proc, None
        if proc is None:
            return
        out = self._end(proc)
        if out:
            got = json.loads(out)
            self.samples = [(t, own, others) for t, own, others in got["samples"]]
            self.spans = [(a, b) for a, b in got["spans"]]
            self.cpu = list(got.get("cpu", []))

    def stop(self) -> dict[str, float]:
        """Means over the window: our other runnable tasks, other active groups, and every
        runnable task besides the nodes (as if there were no groups); the wake-up probe's
        lateness, p50 and p99 in ms."""
        self._collect()
        n = max(1, len(self.samples))
        cost = sum(float(c.get("own_cpu", 0.0)) for c in self.cpu)
        wall = self.cpu[-1]["t"] - self.cpu[0]["t"] if len(self.cpu) > 1 else 0.0
        own = sum(s[1] for s in self.samples) / n
        late = sorted(self.wakeups)
        k = len(late)
        return {
            "wakeup_late_p50_ms": round(1000 * late[k // 2], 3) if k else -1.0,
            "wakeup_late_p99_ms": round(1000 * late[min(k - 1, int(k * 0.99))], 3) if k else -1.0,
            "own_group_others_runnable": round(own, 2),
            "other_groups_active": round(sum(len(s[2]) for s in self.samples) / n, 2),
            "other_tasks_runnable": round(own + sum(sum(s[2]) for s in self.samples) / n, 2),
            "sampler_cpu_per_sample_ms": round(1000 * cost / max(1, len(self.cpu) - 1), 3),
            "sampler_cores": round(cost / wall, 4) if wall > 0 else -1.0,
        }

    def trace(self) -> dict[str, Any]:
        """One sample per ``EVERY`` seconds from the start (the latest by then: the sampler
        runs late on a busy machine): ``own`` and ``groups`` as ``sdex.sim.cpu`` takes them."""
        self._collect()
        own: list[float] = []
        groups: list[list[int]] = []
        k = 0
        last = self.samples[-1][0] if self.samples else -1.0
        for i in range(int(last / self.EVERY) + 1 if self.samples else 0):
            while k + 1 < len(self.samples) and self.samples[k + 1][0] <= (i + 1) * self.EVERY:
                k += 1
            own.append(float(self.samples[k][1]))
            groups.append(self.samples[k][2])
        late = [round(x, 6) for x in self.wakeups]
        out = {"step": self.EVERY, "own": own, "groups": groups, "wakeup_late_s": late}
        return out | bursts(self.cpu, self.EVERY, len(own))


def _spread(into: list[float], a: float, b: float, value: float, step: float) -> None:
    """Add ``value``, spent evenly over ``(a, b]`` seconds, to the steps of ``step`` it covers
    (none past ``into``'s end; an empty span: all to the step of ``b``)."""
    if not into or value == 0:
        return
    if b <= a:
        into[min(len(into) - 1, max(0, int(b / step)))] += value
        return
    for k in range(max(0, int(a / step)), min(len(into), int(b / step) + 1)):
        lo, hi = max(a, k * step), min(b, (k + 1) * step)
        if hi > lo:
            into[k] += value * (hi - lo) / (b - a)


def bursts(cpu: list[dict[str, Any]], step: float, steps: int) -> dict[str, Any]:
    """The sampler's CPU readings as a trace of ``steps`` steps of ``step`` seconds (sim23):
    per step, the CPU seconds each other process ran (``bursts``, largest first, at most
    ``MAX_BURSTS``; a sample's deltas spread over the steps its interval covers) and its task
    group (``burst_groups``: ours 0, the others 1, 2... as first seen), the rest of
    the machine's busy time less the nodes' (``rest``: processes past the cap, processes that
    ended, kernel threads and interrupts); per node and step its main thread's ``run_delay``
    (``node_delay``, seconds waiting for a core), its runs on a core (``node_runs``) and its
    CPU (``node_cpu``, ``stat`` seconds, every thread); and the sampler's own CPU seconds."""
    cores = os.cpu_count() or 1
    per: list[dict[str, float]] = [{} for _ in range(steps)]
    label: dict[str, int] = {}
    machine, ours = [0.0] * steps, [0.0] * steps
    width = len(cpu[0]["nodes"]) if cpu else 0
    delay = [[0.0] * steps for _ in range(width)]
    runs = [[0.0] * steps for _ in range(width)]
    used = [[0.0] * steps for _ in range(width)]
    for e0, e1 in itertools.pairwise(cpu):
        a, b = float(e0["t"]), float(e1["t"])
        bound = max(0.0, b - a) * cores
        label |= {pid: int(g) for pid, g in e1.get("gid", {}).items()}
        for pid, ticks in e1["cpu"].items():
            share = [0.0] * steps
            _spread(share, a, b, min(bound, ticks * TICK), step)
            for k, v in enumerate(share):
                if v > 0:
                    per[k][pid] = per[k].get(pid, 0.0) + v
        _spread(machine, a, b, min(bound, (e1["machine"] - e0["machine"]) * TICK), step)
        for i, (n0, n1) in enumerate(zip(e0["nodes"], e1["nodes"], strict=True)):
            if n1[0] < n0[0] or n1[3] < n0[3]:  # (a node gone or not read: no delta)
                continue
            _spread(ours, a, b, (n1[0] - n0[0]) * TICK, step)
            _spread(used[i], a, b, (n1[0] - n0[0]) * TICK, step)
            _spread(delay[i], a, b, (n1[2] - n0[2]) / 1e9, step)
            _spread(runs[i], a, b, float(n1[3] - n0[3]), step)
    kept: list[list[float]] = []
    kept_groups: list[list[int]] = []
    rest: list[float] = []
    for k in range(steps):
        top = sorted(per[k].items(), key=lambda kv: -kv[1])[:MAX_BURSTS]
        ran = sorted(per[k].values(), reverse=True)
        kept.append([round(v, 5) for _, v in top])
        kept_groups.append([label.get(pid, -1) for pid, _ in top])
        rest.append(round(max(sum(ran[MAX_BURSTS:]), machine[k] - ours[k] - sum(ran)), 5))
    return {
        "burst_step": step,
        "bursts": kept,
        "burst_groups": kept_groups,
        "rest": rest,
        "node_delay": [[round(v, 6) for v in d] for d in delay],
        "node_runs": [[round(v, 2) for v in r] for r in runs],
        "node_cpu": [[round(v, 5) for v in u] for u in used],
        "sampler_cpu_s": round(sum(float(e.get("own_cpu", 0.0)) for e in cpu), 4),
        "skipped_max": max((int(e.get("skipped", 0)) for e in cpu), default=0),
    }


def main() -> None:
    """The sampler's process: ``runqueue.py T0 EVERY NODE_PID...``; samples until SIGTERM,
    then writes ``{"samples": [...], "spans": [...]}`` to stdout. ``runqueue.py --probe``:
    the wake-up probe, its lateness a JSON list."""
    stop = [False]

    def ended(*_: Any) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, ended)
    signal.signal(signal.SIGINT, ended)

    def ready() -> None:
        sys.stdout.write(READY)
        sys.stdout.flush()

    if sys.argv[1] == "--probe":
        late = probe(stop, ready=ready)
        sys.stdout.write(json.dumps([round(x, 6) for x in late]))
        sys.stdout.flush()
        return
    t0, every = float(sys.argv[1]), float(sys.argv[2])
    sampler = Sampler([int(p) for p in sys.argv[3:]], t0, every)
    sampler.run(stop, ready)
    got = {"samples": sampler.samples, "spans": sampler.spans, "cpu": sampler.cpu}
    sys.stdout.write(json.dumps(got))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
