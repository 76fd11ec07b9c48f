"""review85: a held start (doubt83) on a chain whose blocks come faster than its read of the
held orders by hash.

Out of the doubt, ``_held_states`` read the held orders at the mirror's head named by its hash
and took the answer only if the mirror had not moved meanwhile; else nothing, read again
later, the same way. A provider slower at a read than the chain at a block (many stored
orders, a busy endpoint) never gave one the mirror had not moved past: the hold never ended
(nothing matched, the settler never ran). Now a read the mirror moved past, out of the doubt,
is read again at "latest" (as when the read by hash fails). Real chain of the suite's engine
mined every few tenths of a second, a real node on its SQLite store restarted behind real
loopback proxies: two ``flapping_proxy`` (a doubt at the start) and one refusing reads by
block hash at the start, answering them 1.5 s late after."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.heldstart import by_hash, first_run, header_not_found, in_doubt
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, E6, E18, ask

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)

LATE = 1.5
"""Seconds a read by block hash is answered late once the start holds."""


@contextmanager
def late_by_hash_proxy(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` refusing every ``eth_call`` named by a block hash
    till its event is set, then forwarding each ``LATE`` seconds late; the event."""
    slow = threading.Event()

    def intercept(req: object) -> Answer | None:
        if not by_hash(req):
            return None
        if slow.is_set():
            time.sleep(LATE)  # (the proxy's own thread)
            return None
        return header_not_found(req)

    with _proxy(upstream, intercept) as url:
        yield url, slow


async def test_a_held_start_on_a_chain_faster_than_its_read_ends_its_hold(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    head = await first_run(c, cfg, 8531)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=8532))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(maker, 1001, "open", "api")
    store.close()
    stop = threading.Event()

    def mine() -> None:  # (a block every 0.3 s till stopped: faster than the read)
        while not stop.is_set():  # (suite93: it waited 60 s for a set again once cleared)
            c.rpc.call("evm_mine")
            stop.wait(0.3)

    with (
        late_by_hash_proxy(c.rpc.url) as (surl, slow),
        in_doubt(surl, head) as (url, flapped, second),
    ):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert flapped == [1] and second == [1] and node.held_why()
            slow.set()
            miner = threading.Thread(target=mine, daemon=True)
            miner.start()
            try:
                await wait_for(lambda: not node.mirror.doubt.held, timeout=60)
                # (before: held for ever, each read by hash the mirror had moved past)
                await wait_for(lambda: not node.held_why(), timeout=60)
            finally:
                stop.set()
                await asyncio.to_thread(miner.join, 60)
            assert maker.hash in node.book and await api.status(maker) == "open"
