"""watch89: what a held start (doubt83's hold, review86b's ``_held_step``) says of itself.

- ``/health``'s ``chainMirror.identity.proven`` said ``true`` once the start's doubt had ended,
  while the start still held matching and signing (its stored orders not read from the
  chain yet): only ``startHold`` and ``chain: "unproven"`` said otherwise, so an operator or
  a script reading ``identity.proven`` was misled. Now it is false while the start holds,
  ``held`` saying why.
- A step of the hold's end the store refused (another connection holding its write lock)
  was logged at every try (every ~4 s for as long as the lock stood: hours of lines). Now
  the first refusal is logged, then at the 2nd, 4th, 8th... try with the count, and at once
  when the refusal says something new; ``startHold`` keeps the count.

Real chain of the suite's engine, a real node on its SQLite store restarted behind
review85's loopback proxies (a doubt at the start, reads by block hash and the orders' reads
refused till the test opens them), another SQLite connection holding the write lock."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.node import reload
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from tests.conftest import Chain
from tests.heldstart import held_reads, states_selector
from tests.nodeutil import Api, running_node, wait_for
from tests.test_chaos69_refused_row import write_locked
from tests.test_review86b_held_mark_refused import _last_run

TRIES = 64
"""Refused tries of the hold's step the log test waits for."""


async def _mirror(api: Api) -> dict[str, Any]:
    """``/health``'s ``chainMirror`` (503 while held: the body says)."""
    code, body = await api.get("/health")
    return {"code": code, "chain": body["chain"], **body["chainMirror"]}


@asynccontextmanager
async def _held_start(
    c: Chain, tmp_path: Path, salt: int
) -> AsyncIterator[tuple[Node, Api, threading.Event, NodeConfig]]:
    """A node started on what ``_last_run`` left (no row) behind ``held_reads``' proxies: in
    doubt, its held orders' reads refused till the event is set (checked: the start held);
    the node, its API, the event and the config."""
    cfg, head, resting, _ = await _last_run(c, tmp_path, salt, row=False)
    with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, gate, doubts):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            flapped, second = doubts
            assert flapped == [1] and second == [1] and node.held_why()
            yield node, api, gate, cfg


def _fast_tries(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's log captured; the pause between the hold's tries cut to a hundredth of a
    second."""
    caplog.set_level(logging.INFO, logger="sdex.node")
    monkeypatch.setattr(reload, "DOUBT_READ_STEP", 0.01)
    monkeypatch.setattr(reload, "HELD_READ_MAX", 0.01)


def _logged(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    """The node's log lines with ``words``."""
    return [
        r.getMessage() for r in caplog.records if r.name == "sdex.node" and words in r.getMessage()
    ]


async def test_identity_is_not_said_proven_while_the_start_holds(
    chain: Chain, tmp_path: Path
) -> None:
    async with _held_start(chain, tmp_path, 8911) as (node, api, gate, _):
        # the doubt ends (polls on our blocks); the orders' reads still refused: held
        await wait_for(lambda: not node.mirror.doubt.held, timeout=60)
        assert node.held_why(), "the start's hold ended before the test looked"
        said = await _mirror(api)
        assert said["startHold"], said
        assert said["code"] == 503 and said["chain"] == "unproven", said
        identity = said["identity"]
        assert identity["proven"] is False, identity  # (before: true)
        assert identity["held"] == said["startHold"], identity
        gate.set()  # the orders read: the hold ends, the identity proven
        await wait_for(lambda: not node.held_why(), timeout=60)
        said = await _mirror(api)
        assert said["startHold"] is None, said
        assert said["identity"]["proven"] is True and not said["identity"]["held"], said


async def test_a_step_refused_many_times_is_logged_at_growing_intervals(
    chain: Chain,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hold's step (the read of a kill's rechecks, ``store.rechecks``) refused ``TRIES``
    times or more by a held write lock (the pause between tries cut to a hundredth of a
    second, the writer's busy wait to 50 ms, so that many tries fit the test): its log lines
    grow as the log of the tries, not as the tries (before: one a try)."""
    _fast_tries(caplog, monkeypatch)
    async with _held_start(chain, tmp_path, 8921) as (node, api, gate, cfg):
        await wait_for(node.replayed, timeout=60)
        async with write_locked(node, cfg.db, busy=0.05):
            gate.set()

            def tries() -> int:
                said = re.search(r"tried again \((\d+) so far\)", node.held_why())
                return int(said.group(1)) if said else 0

            await wait_for(lambda: tries() >= TRIES, timeout=120)
            said = (await _mirror(api))["startHold"]
            assert isinstance(said, str) and "so far" in said, said  # (the count kept)
        lines = _logged(caplog, "the start's hold: the rechecks")
        # 1, 2, 4, ..., 64 and maybe the 128th: a line for each doubling, not each try
        assert 1 <= len(lines) <= 9, f"{len(lines)} lines for {tries()}+ tries: {lines[:12]}"
        assert "64 tries" in "\n".join(lines), lines
        await wait_for(lambda: not node.held_why(), timeout=60)  # (the lock gone: ends)


async def test_the_held_orders_reads_refused_many_times_are_logged_at_growing_intervals(
    chain: Chain,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The held orders' reads (``_held_states``: by the head's hash, then at "latest")
    refused ``2 * TRIES`` times or more (the pause cut as above): their lines grow as the
    log of the tries, and with the words' kinds (before: one a refused read)."""
    _fast_tries(caplog, monkeypatch)
    async with _held_start(chain, tmp_path, 8931) as (node, _, gate, _):
        await wait_for(lambda: not node.mirror.doubt.held, timeout=60)
        first = node.rpc.calls["eth_call"]
        await wait_for(lambda: node.rpc.calls["eth_call"] >= first + 2 * TRIES, timeout=120)
        assert node.held_why(), "the start's hold ended: the reads were not refused"
        lines = _logged(caplog, "held stored orders not read")
        assert 1 <= len(lines) <= 24, f"{len(lines)} lines: {lines[:30]}"
        gate.set()
        await wait_for(lambda: not node.held_why(), timeout=60)
