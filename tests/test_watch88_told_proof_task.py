"""watch88 (review88): the told head's proof (``Watcher._proven_below``) runs as a task of
its own, the poll going on; the poll took the blocks announced during its reads, so once
it lowers ``told`` (dropping the blocks known above the head proven from before the reads)
the chain's head as the polls last had it is known again (``Unapplied.saw``): a block
announced during the reads and not applied holds signing on its own. Without that, the
block stayed known only as one of the phantom's (below the highest known, not known on its
own), was dropped with them, and held nothing.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``):
the proof's reads of the head held, then answered one block behind (a lagging backend);
the announced block's reads answered null and the reads of the latest block too (no poll's
own answer: the announcement is all the watcher has of it)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_sign79_feed import WAIT, head, pay, until_applied
from tests.toldhead import at_head, proof_held


async def test_a_block_announced_during_the_told_proof_stays_known(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with at_head(c, tmp_path) as (proxy, node, top):
        w, u = node.watcher, node.watcher.unapplied
        proxy.latest = [None] * 100_000  # (no poll's own read of the latest: it drops all)
        phantom = proof_held(proxy, node, top)  # (the send's ask: one wrong answer)
        held = proxy.held
        try:
            await w.before_send()
            assert proxy.numbers == [] and u.told == phantom, (proxy.numbers, u.told)
            b = pay(c, 1)  # (announced: its poll begins the proof, applies it meanwhile)
            await wait_for(lambda: proxy.held > held, timeout=WAIT)
            await until_applied(w, b)
            d = int(b["number"], 16) + 1
            proxy.numbered[d] = [None] * 100_000  # (its reads: no answer worth having)
            pay(c, 2)
            await wait_for(lambda: w.chain_head == d, timeout=WAIT)  # (taken by a poll)
            assert u.told == phantom and w.applied is not None
            assert w.applied.hash == b["hash"]
            proxy.numbers = [b["number"]] * 2  # (the proof's reads: a block behind)
        finally:
            await proxy.free()
        await wait_for(lambda: u.told < phantom, timeout=WAIT)
        assert u.told == int(b["number"], 16), (u.told, b["number"])
        # without the head known again: nothing known, signing free on a book without d
        assert [n for n, _ in u.known] == [d], u.known
        assert u.holding()
        proxy.numbered.clear()
        proxy.latest.clear()


async def test_the_watchers_stop_ends_a_proof_under_way(chain: Chain, tmp_path: Path) -> None:
    """The node stopped while the proof's read of the head is held (``stall`` raised: it
    would wait as long as the proxy holds it): the stop ends it (``Watcher.run``)."""
    c = chain
    async with heads_proxy(c.rpc.url) as proxy:
        try:
            async with running_node(node_config(c, tmp_path / "n.db", rpc=proxy.url)) as (
                node,
                _,
            ):
                w = node.watcher
                await wait_for(lambda: w.subscribed and w.caught_up.is_set(), timeout=WAIT)
                top = head(c)
                await until_applied(w, top)
                w.stall = 600.0
                proof_held(proxy, node, top)
                held = proxy.held
                await w.before_send()
                assert proxy.numbers == []
                pay(c, 1)
                await wait_for(lambda: proxy.held > held and w._proof is not None, timeout=WAIT)
                proof = w._proof
                assert proof is not None and not proof.done()
            assert proof.done() and w._proof is None  # (main: no such task; the poll awaited)
        finally:
            await proxy.free()
