"""watch84: a doubt of the chain's identity is not lifted by a backend a sticky balancer pins
the watcher's kept-alive connections to.

doubt78 has a doubt (an answer said another hash at block N, a second read said ours) lifted
by ``AGREE`` polls in a row with evidence of our chain; a poll that finds our head unchanged
counts when it reads N again as ours (``sdex.watch.fork.ours_again``). That read went on the
watcher's kept-alive connections, the polls' own: a balancer that pins each connection to a
backend (sticky sessions) and had them on a stale one, still on our replaced branch,
answered both polls' reads from it (the latest block: our head; N: ours), the doubt lifted
and the node matched and signed on the replaced branch's book while the chain had another
block at N. Now the read of N again goes on a connection of its own, opened for it, as
watch83's read of a reorg mark does (``Watcher._apart``): a balancer places it anew.

Real Hardhat (``evm_snapshot``/``evm_revert``); a real node in-process stopped and started
again on its SQLite store, the second time behind a real loopback proxy
(``tests.headsproxy``): its start's two reads of N answer N' then ours (the doubt), and the
connections open at the first read of the latest block are pinned to a stale backend whose
head is our old N; connections opened since reach the chain."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.headsproxy import heads_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.startheads import replaced_while_down
from tests.test_sign79_feed import WAIT


async def test_a_sticky_stale_backend_lifts_no_doubt(chain: Chain, tmp_path: Path) -> None:
    c = chain
    db = tmp_path / "n.db"
    old, new, n = await replaced_while_down(c, db)
    async with heads_proxy(c.rpc.url) as proxy:
        proxy.passes = lambda note: False  # (nothing announced: polled)
        proxy.numbered = {n: [new, old]}  # (the start's check: N', then ours: in doubt)
        proxy.stale_blocks = {n: old}  # (the stale backend: the old N its head)

        def pin() -> None:  # (the connections open at the first read of the latest block)
            proxy.pinned = set(proxy.ports)
            proxy.on_latest = lambda: None

        proxy.on_latest = pin
        async with running_node(node_config(c, db, rpc=proxy.url)) as (node, _):
            w = node.watcher
            doubt = node.mirror.doubt
            assert doubt.held and doubt.at == (n, old["hash"]), doubt.to_json()
            reads = proxy.latest_reads
            # (polls that find our head unchanged on the pinned connections, each reading N
            # again)
            await wait_for(lambda: proxy.latest_reads >= reads + 6 and proxy.pinned_reads >= 6,
                           timeout=WAIT)  # fmt: skip
            assert w.mirror.head is not None and w.mirror.head.hash == old["hash"]
            # before: lifted by the pinned pair's answers (proven, matching and signing free
            # on the replaced branch's book)
            assert doubt.held, doubt.to_json()
            assert node.engine.held
            proxy.pinned.clear()  # (the balancer's stale backend out: the chain's N')
            await wait_for(lambda: w.applied is not None and w.applied.hash == new["hash"],
                           timeout=WAIT)  # fmt: skip
            # (polls that find our head N' unchanged: N read again, apart, ours now)
            said = doubt.doubts
            await wait_for(lambda: not doubt.held, timeout=WAIT)  # (before: said again each)
            assert not node.engine.held
            assert doubt.doubts == said, doubt.to_json()
