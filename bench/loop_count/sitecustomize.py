"""Counts a node's event-loop turns, tasks started and callbacks run (``bench/gossip.py
--node-site bench/loop_count`` with ``SDEX_TURNS_OUT=DIR``): every 0.25 s a line
``unix_time turns tasks callbacks`` is appended to ``DIR/<pid>``; the window's counts are
read against ``cpu_cores_used.window_start_unix`` / ``window_end_unix``. Measuring only:
nothing in the node imports it, and without ``SDEX_TURNS_OUT`` it does nothing."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

OUT = os.environ.get("SDEX_TURNS_OUT")

if OUT:
    import asyncio.base_events as base_events
    import asyncio.events as events

    counts = [0, 0, 0]
    run_once = base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]
    create_task = base_events.BaseEventLoop.create_task
    handle_run = events.Handle._run  # type: ignore[attr-defined]

    def _run_once(self: Any) -> Any:
        counts[0] += 1
        return run_once(self)

    def _create_task(self: Any, *a: Any, **kw: Any) -> Any:
        counts[1] += 1
        return create_task(self, *a, **kw)

    def _handle_run(self: Any) -> Any:
        counts[2] += 1
        return handle_run(self)

    base_events.BaseEventLoop._run_once = _run_once  # type: ignore[attr-defined]
    base_events.BaseEventLoop.create_task = _create_task  # type: ignore[method-assign]
    events.Handle._run = _handle_run  # type: ignore[attr-defined]
    path = f"{OUT}/{os.getpid()}"

    def _dump() -> None:
        while True:
            with open(path, "a") as f:
                f.write(f"{time.time():.3f} {counts[0]} {counts[1]} {counts[2]}\n")
            time.sleep(0.25)

    threading.Thread(target=_dump, name="loop-count", daemon=True).start()
