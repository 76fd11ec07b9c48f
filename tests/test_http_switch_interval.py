"""The GIL switch interval a node serves with, set by ``$SDEX_SWITCH_INTERVAL`` (seconds):
a node over HTTP takes it while it serves and puts the old one back; a bad value is a
configuration error that names the variable (``sdex node`` exits 2, no traceback)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sdex.node import main
from sdex.node.main import SWITCH_INTERVAL, SWITCH_INTERVAL_ENV
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_cli_node import run_node
from tests.test_node import ALICE, E6, E18, ask
from tests.test_settle_timeline import switch_interval  # noqa: F401 (the fixture)


@pytest.mark.parametrize("chosen", [0.002, 0.01])  # (below and above Python's default)
async def test_a_node_serves_with_the_interval_the_variable_sets(
    chain: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    switch_interval: None,  # noqa: F811
    chosen: float,
) -> None:
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, str(chosen))
    sys.setswitchinterval(0.005)  # (Python's default)
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_, api):
        assert sys.getswitchinterval() == pytest.approx(chosen)
        assert (await api.post_taken(chain.sign(ask(chain, ALICE, E18, 3000 * E6))))[0] == 201
    assert sys.getswitchinterval() == pytest.approx(0.005)


async def test_serve_takes_the_interval_read_before_it_started(
    chain: Chain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    switch_interval: None,  # noqa: F811
) -> None:
    """``sdex node`` reads the variable once, before anything starts, and passes the value
    down: ``serve`` given it reads no environment (here the variable has changed since, to
    a value it would refuse)."""
    sys.setswitchinterval(0.005)
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, "2ms")
    async with main.serve(node_config(chain, tmp_path / "n.db"), 0.002):
        assert sys.getswitchinterval() == pytest.approx(0.002)
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_unset_or_blank_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset or blank: ``SWITCH_INTERVAL``, or the process's interval if that is lower."""
    monkeypatch.delenv(SWITCH_INTERVAL_ENV, raising=False)
    assert main.switch_interval(0.005) == SWITCH_INTERVAL
    assert main.switch_interval(SWITCH_INTERVAL / 2) == SWITCH_INTERVAL / 2
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, " ")
    assert main.switch_interval(0.005) == SWITCH_INTERVAL
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, " 0.001 ")
    assert main.switch_interval() == 0.001


@pytest.mark.parametrize("bad", ["2ms", "0", "-0.001", "nan", "inf", "5"])
def test_a_bad_value_is_refused_naming_the_variable(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, bad)
    with pytest.raises(ValueError, match=r"\$SDEX_SWITCH_INTERVAL must be seconds"):
        main.switch_interval()


def test_sdex_node_with_a_bad_value_exits_2_in_one_line(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    key = "0x" + chain.keys[16].hex()
    done = run_node(
        "--deployment", str(deployment), "--key", key, "--db", str(tmp_path / "n.db"),
        env={SWITCH_INTERVAL_ENV: "2ms"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "$SDEX_SWITCH_INTERVAL must be seconds" in done.stderr and "'2ms'" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "n.db").exists()  # (refused before anything started)
