"""bench/node.py's split of the chain's CPU and page faults (hardhat29, issue 12): by thread
name (``thread_split``: EDR's work is in its ``tokio-runtime-w`` threads, Node's in ``node``)
and by the JSON-RPC method in service (``_faults_by_method``: bench/rpcproxy.py's timeline
against the 10 ms samples)."""

from __future__ import annotations

import importlib.util
import mmap
import os
import threading
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench_node(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # (its ``benchlib``, as a script has)
    spec = importlib.util.spec_from_file_location("bench_node_split", ROOT / "bench" / "node.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_thread_split_names_threads_without_digits_and_counts_their_faults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bn = bench_node(monkeypatch)
    done = threading.Event()
    touched = threading.Event()

    def touch() -> None:  # (a thread that faults fresh pages in: 8 MB written)
        # (an anonymous mapping: always fresh pages; a ``bytearray`` could reuse heap pages
        # an earlier test had already faulted in, once glibc's mmap threshold has grown)
        buf = mmap.mmap(-1, 8 << 20)
        for i in range(0, len(buf), 4096):
            buf[i] = 1
        touched.set()
        done.wait(10)
        buf.close()

    before = bn.thread_split(os.getpid())
    t = threading.Thread(target=touch, name="toucher-42")
    t.start()
    try:
        assert touched.wait(10)
        # (the thread's name in /proc: Python sets it from ``name``, up to 15 bytes)
        rows = bn.thread_split_per_match(before, os.getpid(), 1)
    finally:
        done.set()
        t.join()
    assert all(not any(c.isdigit() for c in name) for name in rows)
    assert sum(row[2] for row in rows.values()) >= 1000  # (2,048 pages written)
    for row in rows.values():
        assert len(row) == 4 and all(v >= 0 for v in row)


def test_faults_are_shared_out_among_the_methods_in_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bn = bench_node(monkeypatch)
    trace = bn.CpuTrace(os.getpid())
    # samples at 100.00, 100.01, 100.02, 100.03: 10, 30 and 5 faults in the three intervals
    trace.samples = [(100.0, 0.0), (100.01, 0.0), (100.02, 0.0), (100.03, 0.0)]
    trace.split = [(0.0, 0.0, 0), (0.0, 0.0, 10), (0.0, 0.0, 40), (0.0, 0.0, 45)]
    calls = {
        "t0": 100.0,
        "timeline": [
            [0.001, 0.019, "eth_sendRawTransaction", 103],  # the first two intervals
            [0.011, 0.015, "eth_getTransactionReceipt", 200_000],  # the second
            [0.012, 0.0, "ws", 0],  # (a notification: no span)
        ],
    }
    got = bn._faults_by_method(calls, trace)
    assert got == {
        "eth_sendRawTransaction": [25, 1, 25],  # 10 + 30 / 2
        "eth_getTransactionReceipt": [15, 1, 15],
        "idle": [5, 0, 5],
    }
