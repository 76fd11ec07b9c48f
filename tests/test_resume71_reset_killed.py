"""resume71: a chain reset interrupted by a kill is finished at the next start.

chaos52's seed 10 (node 2): a start found its saved head off the chain and began a reset
("the chain is read anew from block 1"); ``Store.reset_chain`` committed (the old chain's
fills, the mirror and its head dropped) and the node was SIGKILLed 1.3 s later, before it had
judged its stored orders again. The next start found no head, read the chain from the
deployment block as a fresh store would, and did no reset: the closed orders kept the fills
the reset had undone (a ``filled`` order the chain holds fillable) for 95 s, until a later
restart's reset.

Fixed by reset70's mark (``Store.rejudge_due``, set in the reset's transaction, cleared once
its walk is done; a start that finds it due walks the stored orders). This test kills a real
process inside the reset, between ``reset_chain``'s commit and the re-read of the chain.

Real Hardhat (``evm_snapshot``/``evm_revert`` while the node is down), real node processes
(the one killed by its PID inside the reset, its chain reads held by a proxy once the reset's
transaction is in the database), a real SQLite store."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, node_process, own, running_node, wait_for
from tests.portpick import on_picked_port
from tests.reorgutil import no_kept_blocks, reorg, settled
from tests.rpcfault import _proxy
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR


@contextmanager
def held_after_reset(upstream: str, db: Path) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that holds every request once ``db`` has no saved
    head (a reset's transaction committed), and the event it sets when it holds one: a node
    on it stops right inside its reset, after ``reset_chain``. Released at exit."""
    held, release = threading.Event(), threading.Event()
    uri = f"file:{db}?mode=ro"

    def intercept(req: object) -> None:
        with sqlite3.connect(uri, uri=True) as conn:
            head = conn.execute("SELECT 1 FROM meta WHERE key='mirror_head'").fetchone()
        if head is None:
            held.set()
            release.wait(60)

    with _proxy(upstream, intercept) as url:
        try:
            yield url, held
        finally:
            release.set()


async def test_a_reset_killed_after_its_store_transaction_is_finished_at_the_next_start(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    cfg = node_config(c, db)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(resting))[0] == 201
        snap = str(c.rpc.call("evm_snapshot"))
        code, posted = await api.post_order(taker, "ioc")
        assert code == 201 and posted["matches"], posted
        await settled(c, node, api, taker)
        assert (await meta(api, resting))["status"] == "filled"
    reorg(c, snap)  # (while down: the saved head off the chain, the fill undone)
    assert c.exchange.order_info(resting.order).filled == 0
    no_kept_blocks(db)  # (the start resets, its subject: watch81's undoes the kept blocks)

    with held_after_reset(c.deployment.rpc, db) as (url, held):
        deployment = tmp_path / "proxied.json"
        replace(c.deployment, rpc=url).save(deployment)
        log = tmp_path / "killed.log"

        @asynccontextmanager
        async def start(port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
            with node_process(c, deployment, db, port, OPERATOR, log) as proc:
                await wait_for(lambda: held.is_set() or proc.poll() is not None, timeout=120)
                own(proc, f"http://127.0.0.1:{port}")  # (PortTaken: it exited for its port)
                yield proc

        async with on_picked_port(start) as proc:
            assert held.is_set(), log.read_text()[-2000:]
            proc.kill()  # (SIGKILL, by its PID: inside the reset, its transaction committed)
            proc.wait(timeout=10)
    assert "the chain is read anew from block" in log.read_text()

    async with running_node(cfg) as (node, api):
        await synced(node, c)

        async def judged_again() -> bool:  # before: ``filled``, E18, for good
            m = await meta(api, resting)
            return (m["status"], m["filledMakerAmount"]) == ("open", "0")

        await wait_for(judged_again, timeout=20)
        m = await meta(api, taker)  # (kept: an acknowledged order is never lost)
        assert (m["status"], m["filledMakerAmount"]) == ("removed", "0"), m
    with sqlite3.connect(db) as conn:  # (done: the next start does not do it again)
        assert conn.execute("SELECT 1 FROM meta WHERE key='rejudge_due'").fetchone() is None
