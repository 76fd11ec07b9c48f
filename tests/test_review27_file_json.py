"""review27: JSON a node reads from its own files is bounded as a peer's is.

py_ecc (imported by eth-account) raises the recursion limit to 100,000, so Python's C JSON
scanner, given a document nested ~100,000 deep, overflows the C stack: the process dies of
SIGSEGV, no exception. ``sdex.jsonio.loads`` bounds what comes from peers, wallets and the
chain; the deployment file and the SQLite store (the saved mirror's head, an order's JSON, a
pending settlement's pairs) went through ``json.loads`` unbounded: a damaged file (a disk
error, an edit) killed ``sdex node`` at its start. Each must be a file refused with one line
(the deployment) or a row set aside (the store), the node running. Real processes, a real
Hardhat, a real SQLite store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_started, running_node
from tests.portpick import PortTaken
from tests.test_cli_node import key, run_node
from tests.test_node import E18
from tests.test_restart_mirror import one_part_filled_saved, status
from tests.test_review25_json import run_bounded

DEEP = "[" * 200_000
"""Nested far past what the C scanner survives under a 100,000 recursion limit."""

OPERATOR = 19
"""``one_part_filled_saved``'s node's key (``tests.nodeutil.node_config``'s default)."""


def test_a_deployment_file_nested_deep_is_one_line_naming_it(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(DEEP)
    done = run_node("--deployment", str(path), "--key", key(chain, 17))
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and f"the deployment file {path} is not JSON" in line


LOAD = """
import eth_account  # (py_ecc: the recursion limit raised to 100,000, as sdex.devnet has it)
from sdex.deployment import Deployment, DeploymentError
try:
    Deployment.load({path!r})
except DeploymentError as e:
    print("refused:", e)
"""


def test_a_deployment_file_nested_deep_is_refused_under_py_ecc(tmp_path: Path) -> None:
    """The same file read where py_ecc is imported (``sdex devnet``, ``sdex demo``): it
    died of SIGSEGV (exit -11)."""
    path = tmp_path / "d.json"
    path.write_text(DEEP)
    done = run_bounded("deep deployment file", LOAD.format(path=str(path)))
    assert done.stdout.startswith(f"refused: the deployment file {path} is not JSON"), done.stdout


DAMAGE = {
    "the saved head": "UPDATE meta SET value=? WHERE key='mirror_head'",
    "an open order's JSON": "UPDATE orders SET order_json=?",
    "a pending settlement's pairs": (
        "INSERT INTO settlements VALUES ('0x' || lower(hex(randomblob(32))), 0, '0x00', ?,"
        " 'pending', 0, 0)"
    ),
}
"""Rows of a node's store given ``DEEP`` (the statement's one parameter)."""


@pytest.mark.parametrize("damage", sorted(DAMAGE))
async def test_a_store_row_nested_deep_leaves_the_node_running(
    chain: Chain, tmp_path: Path, damage: str
) -> None:
    cfg, _ = await one_part_filled_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        assert db.execute(DAMAGE[damage], (DEEP,)).rowcount >= 1
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    log = tmp_path / "node.log"
    try:
        async with node_started(chain, deployment, Path(cfg.db), OPERATOR, log, timeout=120):
            pass
    except PortTaken:
        raise  # (three picks taken: not the damage's doing)
    except AssertionError as e:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        pytest.fail(f"{damage}: the node did not serve ({e}): {tail}")


HEADS = {
    "a number in text": '["{n}", "{h}", {t}]',
    "a float number": '[{n}.0, "{h}", {t}]',
    "a bool time": '[{n}, "{h}", true]',
    "a time in text": '[{n}, "{h}", "{t}"]',
    "four values": '[{n}, "{h}", {t}, 0]',
    "an object": '{{"number": {n}, "hash": "{h}", "timestamp": {t}}}',
    "a float past 2**1024": '[1e400, "{h}", {t}]',
}
"""Saved heads not as ``save_mirror`` writes them (``[number, hash, timestamp]``, integers)."""


@pytest.mark.parametrize("damage", sorted(HEADS))
async def test_a_saved_head_not_as_written_is_not_believed(
    chain: Chain, tmp_path: Path, damage: str
) -> None:
    """Each was read with ``int()`` (``"5"`` and ``5.0`` as 5, ``true`` as 1) and believed,
    or raised a ``TypeError`` the read did not expect."""
    cfg, s = await one_part_filled_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        (raw,) = db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
        n, h, t = json.loads(raw)
        bad = HEADS[damage].format(n=n, h=h, t=t)
        db.execute("UPDATE meta SET value=? WHERE key='mirror_head'", (bad,))
    async with running_node(cfg) as (node, api):
        assert not node.watcher.resumed  # (unreadable: the orders read from the chain)
        assert node.records[s.hash].filled == E18 // 10
        assert await status(api, s) == "partially_filled"


FUNDS = {
    "a plus sign": "+5",
    "an underscore": "1_000",
    "spaces": " 5 ",
    "other digits": "\u0665",
    "bytes": b"5",
}
"""Saved balances not as ``save_mirror`` writes them (decimal digits): each was read with
``int()``, which takes them all (as 5, 1000, 5, 5 and 5), and believed."""


@pytest.mark.parametrize("damage", sorted(FUNDS))
async def test_a_saved_balance_not_as_written_is_not_believed(
    chain: Chain, tmp_path: Path, damage: str
) -> None:
    cfg, s = await one_part_filled_saved(chain, tmp_path)
    with sqlite3.connect(cfg.db) as db:
        assert db.execute("UPDATE mirror_funds SET balance=?", (FUNDS[damage],)).rowcount >= 1
    async with running_node(cfg) as (node, api):
        assert not node.watcher.resumed  # (unreadable: the orders read from the chain)
        assert await status(api, s) == "partially_filled"
