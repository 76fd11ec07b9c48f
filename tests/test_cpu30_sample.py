"""``forwardTiming`` times one intake call in ``every`` per source (cpu30, issue 11: the
clocks were 4-6% of a node at load): the first call, then every ``every``-th; an untimed
call reads no clock (a peer's chunk none at all, a wallet's order none at its hand-over);
``orders`` counts the timed calls' orders, ``calls`` and ``timedCalls`` say how many."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.node import forwarding
from sdex.node.forwarding import EVERY, ForwardTiming, every_from_env
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_cpu29_forward import Counted
from tests.test_node import CAROL, E6, E18, ask


def test_one_call_in_every_is_timed_per_source_the_first_among_them() -> None:
    cpu = Counted(lambda: 1.0)
    fw = ForwardTiming(lambda: 2.0, cpu, lambda: 0.0, every=3)
    got = [fw.begin("peer") is not None for _ in range(7)]
    assert got == [True, False, False, True, False, False, True]
    assert cpu.reads == 3  # (the untimed ones read nothing)
    assert fw.begin("wallet") is not None  # (counted apart: its first is timed)
    out = fw.to_json()
    assert (out["peer"]["calls"], out["peer"]["timedCalls"], out["peer"]["every"]) == (7, 3, 3)
    assert (out["wallet"]["calls"], out["wallet"]["timedCalls"]) == (1, 1)


def test_an_untimed_wallets_hand_over_reads_no_clock() -> None:
    cpu = Counted(lambda: 1.0)
    fw = ForwardTiming(lambda: 2.0, cpu, lambda: 0.0, every=2)
    fw.clocked = False
    fw.handed_over()
    assert fw.handed == 1 and cpu.reads == 0 and fw.last() == (0.0, 0.0, 0)
    fw.clocked = True
    fw.handed_over()
    assert fw.handed == 2 and cpu.reads == 1 and fw.last() == (1.0, 2.0, 2)


@pytest.mark.parametrize(
    ("raw", "every"),
    [
        (None, EVERY),
        ("", EVERY),
        ("1", 1),
        ("16", 16),
        ("0", EVERY),
        ("-3", EVERY),
        ("+3", EVERY),
        (" 3", EVERY),
        ("3.0", EVERY),
        ("1e3", EVERY),
        ("abc", EVERY),
        ("٣", EVERY),  # (a digit to ``int``, not ASCII)
        ("99999999", EVERY),
        ("1000000", 1_000_000),
    ],
)
def test_every_comes_from_the_environment_when_it_is_a_sane_integer(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, every: int
) -> None:
    if raw is None:
        monkeypatch.delenv(forwarding.EVERY_ENV, raising=False)
    else:
        monkeypatch.setenv(forwarding.EVERY_ENV, raw)
    assert every_from_env() == every
    assert ForwardTiming().every == every


async def test_a_real_nodes_untimed_peer_chunks_read_no_clock(chain: Chain, tmp_path: Path) -> None:
    """A real node, one chunk in 4 timed: 8 single-order chunks read the CPU clock for 2 of
    them; all 8 are handed over, ``orders`` counts the 2 timed chunks' orders."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        fw = node.forwarding
        fw.every = 4
        cpu = Counted(time.thread_time)
        fw.cpu_clock = cpu
        for i in range(8):
            signed = c.sign(ask(c, CAROL, E18 // 100, (500 + i) * E6))
            assert await node.submit_many_from_peer([signed.to_json()], "ab" * 32) == ["accepted"]
        assert fw.handed == 8
        # two timed chunks: ``start``, the signatures' hand-over's (sim48), ``mark`` and their
        # pushes' turn's ``start`` each (the six others read none; every chunk timed: 32)
        assert 2 * 3 <= cpu.reads <= 2 * 4
        _, health = await api.get("/health")
        peer = health["forwardTiming"]["peer"]
        assert (peer["calls"], peer["timedCalls"], peer["orders"]) == (8, 2, 2)
        assert peer["cpuS"] > 0 and peer["wallS"] > 0
