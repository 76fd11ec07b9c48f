"""watch83 (review82b): a reorg's mark is not cleared by a backend a sticky balancer pins the
watcher's kept-alive connections to.

watch82 has a mark (a poll's answer said the chain replaced our head N) cleared only by
``AGREE`` polls in a row that find our head unchanged and read N again as ours. Those reads
went on the watcher's kept-alive connections, the polls' own: a balancer that pins a
connection to a backend (sticky sessions) and had them on a stale one still on the old
branch answered both reads of both polls from it, the mark cleared two polls after the
reorg was seen and the node signed on the replaced branch's book. Now the read of N again
goes on a connection of its own, opened for it (``Watcher._unreplaced``): a balancer places
it anew.

Real Hardhat (``evm_snapshot``/``evm_revert``); a real node in-process behind a real
loopback proxy (``tests.headsproxy``) that answers, on the connections open when the reorg
came (``pinned``), as a stale backend on the old branch (the latest block and N: the old
N), and on any connection opened since as the chain does."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.startheads import replaced_unannounced
from tests.test_sign79_feed import WAIT, proxied_node


async def test_a_sticky_stale_backend_clears_no_reorg_mark(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        old, new, n = await replaced_unannounced(c, proxy, node)
        disproven = w.unapplied.disproven
        proxy.stale_blocks = {n: old}  # (the stale backend: the old N its head)
        proxy.pinned = set(proxy.ports)  # (every connection open now: pinned to it)
        reads = proxy.latest_reads
        proxy.latest = [new]  # (one answer from the chain: the mark)
        await wait_for(lambda: w.unapplied.replacing == n, timeout=WAIT)
        # (polls that find our head unchanged on the pinned connections, each reading N again)
        await wait_for(lambda: proxy.latest_reads >= reads + 6 and proxy.pinned_reads >= 6,
                       timeout=WAIT)  # fmt: skip
        said = w.unapplied.to_json()
        # before: the mark cleared by the pinned pair's answers (replacedDisproven 1,
        # appliedBlock N, nothing unapplied: the book the old branch's, signing free)
        assert said["replacedDisproven"] == disproven, said
        assert said["oldestUnapplied"] == n, said  # (the mark stands: signing held)
        proxy.pinned.clear()
        proxy.passes = lambda note: True
        await wait_for(lambda: w.applied is not None and w.applied.hash == new["hash"],
                       timeout=WAIT)  # fmt: skip
        assert w.unapplied.to_json()["oldestUnapplied"] is None
