"""store95: the store's writer waits before a commit while a blocking WAL checkpoint runs, or
for an overdue one (``Checkpointer.gate``, wal91), ``HOLD_WAIT`` (2 s) at most a commit; those
waits were counted nowhere: a checkpoint thread stuck cost each commit up to 2 s, unseen. Now
``/metrics`` has ``sdex_store_gate_waits_total`` and ``sdex_store_gate_wait_seconds_total``.

A real node on a real Hardhat and its SQLite store: its real checkpointer held inside a
blocking checkpoint (its connection's ``RESTART`` statement held), an order posted. And the
gate raising (only a checkpointer built with a target of 0 frames can) ended the writer's
thread: now it is logged once and the writer commits on (a real store)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import sdex.storecheckpoint as sc
from sdex.store import Store
from sdex.storecheckpoint import Checkpointer
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, E6, E18, ask
from tests.test_wal24_checkpoint import DOMAIN, IDENTITY, answered_rows, count


class HeldBlocking:
    """The checkpointer's connection, its blocking checkpoint (``RESTART``/``TRUNCATE``) held
    until ``release`` (60 s at most): the writer waits at ``gate`` meanwhile."""

    def __init__(self, cp: Checkpointer) -> None:
        self.cp, self.db = cp, cp.db
        self.entered, self.gate = threading.Event(), threading.Event()

    def execute(self, sql: str) -> sqlite3.Cursor:
        if "RESTART" in sql or "TRUNCATE" in sql:
            self.entered.set()
            self.gate.wait(60)
        return self.db.execute(sql)

    def release(self) -> None:
        self.gate.set()

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


async def gate_figures(api: Api) -> tuple[float, float]:
    """``/metrics``' ``sdex_store_gate_waits_total`` and ``..._wait_seconds_total``."""
    async with api.session.get(api.base + "/metrics") as r:
        assert r.status == 200
        text = await r.text()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    return samples["sdex_store_gate_waits_total"], samples["sdex_store_gate_wait_seconds_total"]


async def test_commits_held_by_a_blocking_checkpoint_are_counted(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(sc, "HOLD_WAIT", 0.5)  # (each commit held half a second at most)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        cp = node.store._writer.checkpointer
        assert cp is not None
        assert await gate_figures(api) == (0.0, 0.0)
        hook = HeldBlocking(cp)
        cp.db = hook  # type: ignore[assignment]
        cp.restart_frames = 0  # (the next round's checkpoint is a blocking one)
        try:
            assert (await api.post_taken(c.sign(ask(c, ALICE, E18, 3000 * E6))))[0] == 201
            cp.request()
            await wait_for(hook.entered.is_set, 30)
            assert (await api.post_taken(c.sign(ask(c, ALICE, E18, 3100 * E6))))[0] == 201

            async def counted() -> bool:
                waits, seconds = await gate_figures(api)
                return waits >= 1 and seconds >= 0.4  # (a commit held HOLD_WAIT)

            await wait_for(counted, 30)
        finally:
            cp.restart_frames = sc.RESTART_FRAMES
            hook.release()
        assert cp.failures == 0


def test_a_gate_that_raises_leaves_the_writer_committing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer's gate raising (a checkpointer whose target is 0 frames divides by it):
    logged once, every commit goes on (before: the writer thread ended, the job's future
    never resolved)."""
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        cp = store._writer.checkpointer
        assert cp is not None
        cp.target_frames = 0
        with caplog.at_level(logging.ERROR, logger="sdex.store"):
            for seq in (1, 21, 41):
                answered_rows(store, seq)  # (before: TimeoutError, the thread gone)
        failed = [r for r in caplog.records if "gate failed" in r.getMessage()]
        assert len(failed) == 1, [r.getMessage() for r in caplog.records]
        assert store._writer._thread.is_alive()
    finally:
        store.close()
    assert count(tmp_path / "s.db") == 60
