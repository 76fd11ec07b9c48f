"""tests63: the time a test takes is not left on the chain's clock for the tests after it.

``evm_revert`` moves the chain's clock by the time since its snapshot (Hardhat ahead, anvil
back), so a session's tests added up their times on it: on a loaded machine, ten minutes of
tests put Hardhat's next block ten minutes ahead, and verify28's order expiring 600 s out
was refused as expired. The ``chain`` fixture now puts the clock back first when it strayed
(``tests.conftest.on_time``); on anvil, ``reverted`` puts it back at once. Real chain
(the session's devnet)."""

from __future__ import annotations

import time

import pytest

from sdex.chain import Rpc
from sdex.devnet import Devnet
from tests import conftest
from tests.conftest import Engine, reverted

HELD = 4
"""Seconds the test holds its snapshot (more than the ``CLOCK_DRIFT`` it is given)."""


def drift(rpc: Rpc) -> int:
    """Seconds between the chain's next block's stamp and the one the wall clock gives it."""
    latest = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    pending = int(rpc.call("eth_getBlockByNumber", "pending", False)["timestamp"], 16)
    return abs(pending - max(latest + 1, int(time.time())))


def test_a_tests_time_is_not_left_on_the_chains_clock(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conftest, "CLOCK_DRIFT", 1)
    assert devnet.rpc is not None
    conftest.on_time(devnet)
    with reverted(devnet):
        held = time.monotonic()
        while time.monotonic() < held + HELD:  # (a test that takes HELD s)
            time.sleep(0.05)
    if engine == "anvil":  # ``reverted`` put anvil's clock back itself (anvil64)
        assert drift(devnet.rpc) <= 1
    else:
        assert drift(devnet.rpc) >= HELD - 1  # the revert moved the clock by the test's time
    conftest.on_time(devnet)
    assert drift(devnet.rpc) <= 1
