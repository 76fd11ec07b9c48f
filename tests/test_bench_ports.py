"""``bench/gossip.py`` starts its nodes on ports picked free a moment before: on a shared
machine another process may bind one first, and the node then exits ("already in use").
The bench starts them all again on new ports, a bounded number of times, instead of failing
the run (it failed: "node 1 exited with 1")."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest

from tests.conftest import Chain

ROOT = Path(__file__).resolve().parents[1]


def bench_gossip(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # (its ``benchlib``, as a script has)
    spec = importlib.util.spec_from_file_location("bench_gossip", ROOT / "bench" / "gossip.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_node_whose_port_was_taken_is_started_again_on_a_new_one(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gossip = bench_gossip(monkeypatch)
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    nodes = gossip.NodeProcs(2, deployment, tmp_path, "bootstrap")
    taken = nodes.ports[0]
    with socket.socket() as thief:  # (another process's server, bound between pick and start)
        thief.bind(("127.0.0.1", taken))
        thief.listen()
        try:
            nodes.start(["0x" + chain.keys[19 - i].hex() for i in range(2)])
            meter = gossip.CpuMeter({"nodes": [p.pid for p in nodes.procs]})
            async with aiohttp.ClientSession() as s:
                ready = await gossip.wait_started(s, nodes, 120, meter)
            assert len(ready) == 2 and taken not in nodes.ports
            assert meter.groups["nodes"] == [p.pid for p in nodes.procs]
            assert all(p.poll() is None for p in nodes.procs)
            assert "already in use" in (tmp_path / "node-0.log").read_text()
        finally:
            nodes.stop()
