"""mirror31: the sparse checkpoints (``sdex.mirror.checkpoints``) are saved with the
mirror's head, in one transaction, and read back at a start. Before, a restarted node had
only its saved head: a chain rewound far below it (below every kept header) was not
provably another branch (``sdex.watch.fork.rewound``: no checkpoint that low) until new
checkpoints accumulated; the node said ``behind`` and kept the old branch's fill. Real
Hardhat, SQLite, a real node restarted on the same store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.mirror.checkpoints import LEVELS, PER_LEVEL, Checkpoints
from sdex.store import Store
from sdex.storechain import CHECKPOINTS_KEY
from sdex.watch.saved import Unreadable, read_saved
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import filled_far_below
from tests.test_listing_cursor import DOMAIN, IDENTITY
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_reorg30_far_below import DEPTH, Polls, not_a_devnet

H = "0x" + "ab" * 32


def test_checkpoints_read_back_are_the_levels_they_were() -> None:
    a = Checkpoints()
    for n in range(1, 5000):
        a.add(n, f"0x{n:064x}")
    b = Checkpoints()
    b.load(a.items())
    assert b.items() == a.items() and not b.dirty
    for n in range(5000, 7000):  # (and go on thinning alike)
        a.add(n, f"0x{n:064x}")
        b.add(n, f"0x{n:064x}")
    assert b.items() == a.items()
    assert a.take_dirty() is not None and a.take_dirty() is None


@pytest.mark.parametrize(
    "saved",
    [
        '{"a": 1}',
        "[[1]]",
        '[["1", "' + H + '"]]',
        "[[-1, " + f'"{H}"' + "]]",
        '[[1, "0xAB"]]',
        f'[[2, "{H}"], [1, "{H}"]]',  # not ascending
        f'[[1, "{H}"], [1, "{H}"]]',  # twice
        f'[[101, "{H}"]]',  # above the saved head
        "[" + ",".join(f'[{i}, "{H}"]' for i in range(LEVELS * PER_LEVEL + 1)) + "]",
        "[" * 50,
    ],
)
def test_saved_checkpoints_not_as_written_make_the_saved_mirror_unreadable(
    tmp_path: Path, saved: str
) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        with sqlite3.connect(tmp_path / "s.db") as db:
            db.execute("INSERT INTO meta VALUES ('mirror_head', ?)", (f'[100, "{H}", 5]',))
            db.execute("INSERT INTO meta VALUES (?, ?)", (CHECKPOINTS_KEY, saved))
        with pytest.raises(Unreadable):
            read_saved(store)
    finally:
        store.close()


async def test_a_far_rewind_after_a_restart_is_a_reset_within_two_polls(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALICE's order filled, 63 blocks on it (``reorg_depth`` 8); the node restarted on its
    store; the chain taken back to before the fill, another branch mined 31 blocks (far
    below our head): a reset within 2 polls, the order open again (before: ``behind``)."""
    not_a_devnet(monkeypatch)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=DEPTH)
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(whole))[0] == 201
        snap = await filled_far_below(c, node, api, whole)
        before = node.mirror.checkpoints.items()
    saved = {p for p in before if p[0] % 8 == 0}  # (the rest moved unsaved since: SAVED_FROM)
    async with running_node(cfg) as (node, api):
        w = node.watcher
        assert set(node.mirror.checkpoints.items()) >= saved  # read back at the start
        c.rpc.call("evm_mine")  # (a block applied since the start)
        await synced(node, c)
        assert len(node.mirror.checkpoints) > 1
        assert set(node.mirror.checkpoints.items()) >= thinned(c, saved, w.applied.number - DEPTH)
        polls = Polls(w)
        revert(c, snap)
        c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another block at its height)
        c.rpc.call("hardhat_mine", hex(30))
        polls.mark()
        await wait_for(lambda: polls.reset_in is not None, timeout=30)  # before: never
        assert polls.reset_in is not None and polls.reset_in <= 2, polls.reset_in
        await synced(node, c)
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")


def thinned(c: Chain, saved: set[tuple[int, str]], left: int) -> set[tuple[int, str]]:
    """``saved`` once block ``left`` (the chain's) left the kept window above them: thinned as
    ``Checkpoints`` thins (flake97: a multiple of 8 leaving it, the head one below such a
    multiple at the restart, drops the oldest of level 3 — 72 of 80..136 — as it should)."""
    cps = Checkpoints()
    cps.load(sorted(saved))
    cps.add(left, c.rpc.call("eth_getBlockByNumber", hex(left), False)["hash"])
    return set(cps.items()) & saved
