"""bench/runqueue.py: the run-queue sampler runs in a process of its own, not as a thread
of the process that measures (sim10: as a thread it slowed the bench's poster's posts)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

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


def test_a_process_without_an_autogroup_is_grouped_by_its_session() -> None:
    # a kernel built without autogroups, or a sandbox's /proc, has no /proc/PID/autogroup
    assert runqueue._session(str(os.getpid())) == f"session-{os.getsid(0)}"
    assert runqueue._session("999999999") == ""  # gone
