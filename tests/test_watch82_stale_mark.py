"""watch82 (review81): a reorg's mark is not cleared by one stale backend's two answers.

A poll that sees the chain replace our head N (a latest block on another parent) marks N
known and not applied (``Unapplied.replaced``): signing holds till the reorg is applied. A
poll that then finds our head unchanged reads N again to clear a flap's mark (watch80). Behind
a load balancer with a stale backend still on the old branch, that poll's latest block (our
old N) and its read of N can both come from it: one poll cleared the mark and the node
signed on the old branch's book one poll after the reorg was seen (a paid revert if the
replaced branch held a cancel). Now ``AGREE`` polls in a row must read it ours.

Real Hardhat (``evm_snapshot``/``evm_revert``); a real node in-process behind a real loopback
proxy (``tests.headsproxy``) answering the latest block and one read of N as the stale
backend does, the rest from the chain."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.startheads import replaced_unannounced
from tests.test_sign79_feed import WAIT, pay, proxied_node, until_applied
from tests.test_watch80_heads import child


async def test_a_stale_backends_two_answers_clear_no_reorg_mark(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        old, new, n = await replaced_unannounced(c, proxy, node)
        reads = proxy.latest_reads
        # the fresh backend's N' as latest once (the mark), then the stale one's N; the
        # stale one's N for the fork point's read of the kept blocks (nothing undone: the
        # mark stands) and for the next read of N alone (then the chain's: N')
        proxy.numbered[n] = [old, old]
        proxy.latest = [new] + [old] * 1_000
        await wait_for(lambda: proxy.latest_reads >= reads + 5 and not proxy.numbered[n],
                       timeout=WAIT)  # fmt: skip
        said = w.unapplied.to_json()
        # before: the mark cleared by the stale pair (appliedBlock N, nothing unapplied)
        assert (said["appliedBlock"], said["oldestUnapplied"]) == (n - 1, n), said
        assert said["replacedDisproven"] == 0, said
        proxy.latest.clear()
        proxy.passes = lambda note: True
        await until_applied(w, new)
        assert w.unapplied.to_json()["oldestUnapplied"] is None


async def test_a_flap_read_ours_twice_is_cleared_at_once(chain: Chain, tmp_path: Path) -> None:
    """A backend's one answer on a stale sibling parent, then our head N at every poll and N
    ours at every read: cleared by the second such poll, which comes at the poll interval
    (not the subscribed safety poll's second), with no let-go."""
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        old = pay(c, 1)
        n = int(old["number"], 16)
        await until_applied(w, old)
        let_go, disproven = w.unapplied.let_go, w.unapplied.disproven
        proxy.latest = [child(old, "0x" + secrets.token_hex(32))]
        await wait_for(lambda: w.unapplied.disproven > disproven, timeout=WAIT)
        said = w.unapplied.to_json()
        assert (said["appliedBlock"], said["oldestUnapplied"]) == (n, None), said
        assert w.unapplied.let_go == let_go, said
