"""watch87 (left40's question after start86): a start whose ``check_head`` reads no head
(its ``eth_blockNumber`` fails) is not resumed, holds no start gap, and the blocks its own
read of the latest showed are held only ``BOUND``, as a running watcher's. Checked: signing
past that bound is not on a stale book. Not resumed, the stored open orders are judged by
the chain's word at the latest block (``NodeReload._reload_orders``), read after the
node's own read of the latest: of a stored ask (known to the saved mirror) and a bid
crossing it, the ask its maker cancelled on chain while the node was down is closed at
the start, and once the catch-up
has failed past ``BOUND`` the bid is matched with nothing (judged from the saved mirror,
they would have been matched and settled: the cancel is in a block not applied).
Passes before and after: a guard of that reasoning.

Real Hardhat; a real node in-process stopped and started again on its SQLite store, the
second time behind a real loopback proxy (``tests.headsproxy``) whose ``eth_blockNumber``
answers no number and whose reads of the latest block answer null after the start's."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from sdex.store import ChainIdentity, Store
from sdex.watch import unapplied as watch_unapplied
from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sign79_feed import WAIT, head, pay

BOUND = 1.0
"""``BOUND`` for this test (the rule's the same, the wait shorter)."""


async def test_a_start_that_reads_no_head_signs_on_the_chains_word(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    db = tmp_path / "n.db"
    salt = secrets.randbelow(2**64) + 2**64
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=salt))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6, salt=salt + 1))  # (crossing it)
    async with running_node(node_config(c, db)) as (node, api):
        assert (await api.post_order(resting))[0] == 201  # (the saved mirror knows it)
        top = pay(c, 5)  # (a block applied after it: its maker's funds saved with the head)
        w = node.watcher
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"],
                       timeout=WAIT)  # fmt: skip
        await wait_for(lambda: node.mirror.state(resting) is not None, timeout=WAIT)
    cfg = node_config(c, db)
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    try:  # (the bid acknowledged before the stop too, say: stored open)
        store.add_order(taker, 2, "open", "api")
    finally:
        store.close()
    c.exchange.cancel_order(c.sender(ALICE), resting.order)  # (mined while the node is down)
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.passes = lambda note: False
        proxy.numbers = ["not a number"]  # (``check_head``'s read of the head: none)
        proxy.latest = [head(c)] + [None] * 100_000  # (the start's read, then no answer)
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, api):
            w, u = node.watcher, node.watcher.unapplied
            assert proxy.numbers == [] and not w.resumed
            assert u.start_gap is None
            assert await api.status(resting) == "cancelled"
            await wait_for(lambda: w.status != "ok", timeout=WAIT)
            await wait_for(lambda: u.behind_for() > BOUND + 0.5, timeout=WAIT)
            assert not u.holding()  # (past BOUND: signing goes on, on the chain's word)
            assert await api.status(taker) == "open"
            assert node.settler.sent == 0 and node.settler.most_in_flight == 0
