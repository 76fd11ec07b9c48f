"""The collector's young generation while a node serves (http23): its generation-0 threshold
is ``YOUNG_THRESHOLD`` (a young collection walks the requests in flight each time: at
CPython's 700 it ran every ~28 ms of HTTP intake), the older generations' are left alone,
and the process's own thresholds come back when the last node of the process stops."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdex.node.gcfreeze import YOUNG_THRESHOLD, GcFreezer
from sdex.node.main import serve
from tests.conftest import Chain
from tests.nodeutil import node_config


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    """The process's thresholds, set to values of this test's own (so that putting back is
    seen to put back these, not CPython's defaults), and restored after."""
    before = gc.get_threshold()
    own = (321, 7, 9)
    gc.set_threshold(*own)
    try:
        yield own
    finally:
        gc.set_threshold(*before)


def test_a_settled_policy_sets_the_young_threshold_and_the_last_close_puts_it_back(
    thresholds: tuple[int, int, int],
) -> None:
    first = GcFreezer(budget=3600.0)
    first.settle()
    try:
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
        second = GcFreezer(budget=3600.0)
        second.settle()
        try:
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
        finally:
            second.close()  # (not the last out: the first still serves)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
    finally:
        first.close()
    assert gc.get_threshold() == thresholds
    assert GcFreezer.active == 0 and gc.get_freeze_count() == 0


def test_a_policy_settled_again_after_every_node_stopped_starts_from_the_process_thresholds(
    thresholds: tuple[int, int, int],
) -> None:
    for _ in range(2):
        f = GcFreezer(budget=3600.0)
        f.settle()
        f.close()
        assert gc.get_threshold() == thresholds
    later = (555, 11, 12)  # the process changed its own meanwhile: that is what comes back
    gc.set_threshold(*later)
    f = GcFreezer(budget=3600.0)
    f.settle()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *later[1:])
    f.close()
    assert gc.get_threshold() == later


async def test_a_serving_node_collects_its_young_generation_less_often(
    chain: Chain, tmp_path: Path, thresholds: tuple[int, int, int]
) -> None:
    cfg = node_config(chain, tmp_path / "n.db")
    async with serve(cfg) as node:
        assert node.started.is_set()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
    assert gc.get_threshold() == thresholds
