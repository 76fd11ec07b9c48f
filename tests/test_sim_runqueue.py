"""bench/runqueue.py: the run-queue sampler runs in a process of its own, not as a thread
of the process that measures (sim10: as a thread it slowed the bench's poster's posts)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import runqueue  # noqa: E402

SPIN = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 0.5:\n    pass\n"


def test_the_sampler_is_its_own_process_and_counts_our_runnable_tasks() -> None:
    threads = threading.active_count()
    queue = runqueue.RunQueue([])
    try:
        assert threading.active_count() == threads  # no thread of ours samples
        assert queue.pid != os.getpid()
        # a busy task of our group (our session) for half a second, waited for to its end
        subprocess.run([sys.executable, "-c", SPIN], check=True, timeout=30)
    finally:
        means = queue.stop()
    assert len(queue.samples) >= 3
    assert max(own for _, own, _ in queue.samples) >= 1  # the spinner, seen runnable
    assert len(queue.spans) == len(queue.samples)
    assert all(0 <= a <= b for a, b in queue.spans)
    assert means["own_group_others_runnable"] > 0
    trace = queue.trace()
    assert trace["step"] == queue.EVERY and len(trace["own"]) == len(trace["groups"]) >= 3
    # the wake-up probe (its own process too): how late each of its 1-10 ms sleeps woke
    assert len(trace["wakeup_late_s"]) >= 20 and min(trace["wakeup_late_s"]) >= 0
    assert 0 <= means["wakeup_late_p50_ms"] <= means["wakeup_late_p99_ms"]


def test_a_window_shorter_than_the_probes_start_still_gets_its_answer() -> None:
    """The wake-up probe says it runs before the window starts, as the sampler does: ended
    at once (a loaded machine's start-up longer than the window, seen in the suite on two
    workers), it still answers, not killed before its handler was set."""
    queue = runqueue.RunQueue([])
    queue.stop()
    assert len(queue.wakeups) >= 1 and min(queue.wakeups) >= 0


# /proc/PID/stat after the command's ")": state ppid pgrp session tty tpgid flags ...
STAT = "1234 (python3 (x) y) S 1 1234 {session} 0 -1 {flags} 121 0 0 0"


@pytest.mark.parametrize(
    ("session", "flags", "group"),
    [
        ("20494", 4194304, "session-20494"),  # a kernel without autogroups: its session
        ("0", 4194304, runqueue.SHARED),  # a sandbox's /proc (CI): one group for all
        ("0", 4194304 | runqueue.PF_KTHREAD, ""),  # a kernel thread: no group
        ("20494", 2097216, ""),  # a kernel thread, whatever its session says
    ],
)
def test_a_process_without_an_autogroup_is_grouped_by_its_stat(
    session: str, flags: int, group: str
) -> None:
    assert runqueue._group(STAT.format(session=session, flags=flags)) == group


@pytest.mark.parametrize("text", ["", "1234 (x", "1234 (x) S 1 2", "1 (x) S 1 1 a 0 -1 b 1"])
def test_a_stat_that_is_not_one_has_no_group(text: str) -> None:
    assert runqueue._group(text) == ""


def test_our_process_has_a_group_and_a_gone_one_none() -> None:
    assert runqueue._autogroup(str(os.getpid())) == runqueue._autogroup("self") != ""
    assert runqueue._autogroup("999999999") == ""  # gone
