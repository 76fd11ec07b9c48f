"""A node's threads, sampled once a second (``bench/gossip.py --node-site
bench/thread_sampler``): each line of ``$SDEX_THREAD_SAMPLES/<pid>.jsonl`` (default
``/tmp/thread_samples``) holds the time, the store writers' commits and jobs so far, and per
thread name [voluntary context switches, involuntary ones, runs (``schedstat``), ns on a
CPU]. A voluntary switch is a wait (the GIL, a queue, a timer, I/O); an involuntary one a
preemption. wake60 read the busiest 8 s of each node: its waits a commit, by thread."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any


def _counts(tid: int) -> list[int]:
    status = Path(f"/proc/self/task/{tid}/status").read_text()
    f = dict(line.split(":\t") for line in status.splitlines() if ":\t" in line)
    sched = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
    vol, invol = f["voluntary_ctxt_switches"], f["nonvoluntary_ctxt_switches"]
    return [int(vol), int(invol), int(sched[2]), int(sched[0])]


def _start() -> None:
    writers: list[Any] = []
    try:
        import sdex.sqlwriter as w

        init = w.Writer.__init__

        def counted(self: Any, *a: Any, **k: Any) -> None:
            init(self, *a, **k)
            writers.append(self)

        w.Writer.__init__ = counted  # type: ignore[method-assign]
    except ImportError:
        return
    folder = os.environ.get("SDEX_THREAD_SAMPLES", "/tmp/thread_samples")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{os.getpid()}.jsonl")

    def sample() -> None:
        with open(path, "a") as out:
            while True:
                time.sleep(1.0)
                row: dict[str, Any] = {
                    "t": time.time(),
                    "commits": sum(x.commits for x in writers),
                    "jobs": sum(x.jobs for x in writers),
                }
                for t in threading.enumerate():
                    if t.native_id is not None:
                        with contextlib.suppress(OSError):  # (a thread that just ended)
                            row[t.name] = _counts(t.native_id)
                out.write(json.dumps(row) + "\n")
                out.flush()

    threading.Thread(target=sample, daemon=True, name="thread-sampler").start()


_start()
