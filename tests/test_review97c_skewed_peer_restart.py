"""review97c: a peer whose clock runs behind a restarted node's pushes to it again at once.

http97 refused a peer request signed before the node's start (``sdex.gossip.replay``: the
seen-signature cache is the process's). An honest peer whose clock runs behind the node's by
d (up to ``MAX_SKEW_MS``, 30 s, which the node takes) signs every request before that start
for d after it: each was refused 401, each a failure of the node toward its eviction, its
orders and cancels held in its outbox the while. Now the 401 says when the node started
(``X-SDEX-Started``) and the peer signs its next requests to it at that time or later.

Live: two real ``sdex node`` processes on loopback, B's clock 25 s behind (its interpreter's
``time.time``, by a ``sitecustomize`` on its ``PYTHONPATH`` alone); A killed and started again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from sdex.gossip import NodeKey
from sdex.gossip.identity import HEADER_TIME, MAX_SKEW_MS
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster, wait_for
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_node import ALICE, E6, E18, ask

SKEW = 27.0
"""Seconds B's clock runs behind (A takes up to 30)."""

SITE = f"""
import time
with open("/proc/self/cmdline", "rb") as f:
    if b"node-1.db" in f.read():  # (node B alone)
        _real, _real_ns = time.time, time.time_ns
        time.time = lambda: _real() - {SKEW}
        time.time_ns = lambda: _real_ns() - {int(SKEW * 1e9)}
"""


async def test_a_peer_whose_clock_is_behind_pushes_again_at_once_after_a_restart(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    site = tmp_path / "skew"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ["PYTHONPATH"]]))
    async with Cluster(c, tmp_path, [[], [0]], gossip_scale=GOSSIP_SCALE) as cl:
        a, a_id = cl.api(0), cl.node_key(0).node_id

        async def failures_of_a() -> int:
            """B's calls to A failed in a row (B's peer record of A; -1: none)."""
            code, health = await cl.api(1).get("/health")
            assert code == 200, health
            return next(
                (int(p["failures"]) for p in health["gossip"]["peers"] if p["key"] == a_id), -1
            )

        first = c.sign(ask(c, ALICE, E18, 2000 * E6))
        assert (await cl.api(1).post_order(first))[0] == 201
        await wait_for(lambda: status_at(a, first), timeout=SKEW + 60)  # (linked)
        cl.kill(0)
        await wait_for(lambda: _is(failures_of_a(), lambda n: n > 0), timeout=60)  # (A is down)
        cl.spawn(0)
        await cl.wait_healthy(0)
        up = time.monotonic()
        second = c.sign(ask(c, ALICE, E18, 2100 * E6))
        assert (await cl.api(1).post_order(second))[0] == 201
        # before: B's every call to A was refused 401 (signed before A started), a failure
        # each, till B's clock passed A's start, SKEW s after it; now the first 401 tells B
        # when A started, and B sends it again signed at that time: it passes
        await wait_for(lambda: _is(failures_of_a(), lambda n: n == 0), timeout=SKEW + 30)
        took = time.monotonic() - up
        assert took < SKEW - 8, f"B's calls to A failed till {took:.1f} s after A's restart"
        await wait_for(lambda: status_at(a, second), timeout=30)


async def _is(value: Awaitable[int], test: Callable[[int], bool]) -> bool:
    return test(await value)


def test_a_start_time_is_taken_only_within_the_skew_and_each_request_signs_its_own_ms() -> None:
    key = NodeKey.generate()
    now = int(time.time() * 1000)
    assert not key.sign_after("0xab", now + MAX_SKEW_MS + 5_000)  # (past it: ours refused anyway)
    assert not key.sign_after("0xab", now - 1_000)  # (our clock is past it already)
    assert key.sign_after("0xab", now + 20_000)
    times = [int(key.request_headers("GET", "/p2p/x", b"", "u", "0xAB")[HEADER_TIME]) for _ in "ab"]
    assert times == [now + 20_000, now + 20_001]
    other = int(key.request_headers("GET", "/p2p/x", b"", "u", "0xcd")[HEADER_TIME])
    assert other < now + 10_000  # (another node's requests: our clock's time)
