"""watch84: the first announcement of a reorg's new branch, at or below the old head's
height, is not counted late.

watch82 counts an announcement late when the chain's own word told of its block first
(``Unapplied.told``), and for ``LATE`` (60 s) after one every send asks the chain's head.
watch83 lowers ``told`` once a reorg is applied; the announcement of the new branch's first
block, which comes before the watcher has read the reorg, still found ``told`` at the old
head and counted late: a minute of extra head checks for every reorg to a branch no longer
than the old. Now an announcement of another block than the one the node keeps at that
height (and than the chain's last answer for its latest) is news of a new branch: on time.

Real Hardhat (``evm_snapshot``/``evm_revert``: three blocks replaced by one); a real node
in-process behind a real loopback proxy (``tests.headsproxy``) that holds the watcher's
reads of the latest block while the new branch's block is mined and announced (the
announcement is the first word of it, as it is when the chain's feed is on time)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.headsproxy import latest_read
from tests.nodeutil import wait_for
from tests.test_mirror import revert
from tests.test_sign79_feed import WAIT, pay, proxied_node


async def test_a_new_branch_announced_first_is_on_time(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w, u = node.watcher, node.watcher.unapplied
        snap = c.rpc.call("evm_snapshot")
        old = [pay(c, 1 + i) for i in range(3)]
        top = int(old[-1]["number"], 16)
        # (the chain's own word of the old top: a safety poll's answer, within a second)
        await wait_for(lambda: w.applied is not None and w.applied.hash == old[-1]["hash"]
                       and u.told >= top, timeout=WAIT)  # fmt: skip
        late = u.late
        proxy.holds = lambda msg: isinstance(msg, dict) and latest_read(msg)
        proxy.hold_ranges = True  # (no poll reads the chain's latest till the announcement)
        revert(c, snap)
        first = pay(c, 7)  # (in the old first block's place)
        assert int(first["number"], 16) == top - 2 and first["hash"] != old[0]["hash"]
        await wait_for(lambda: any(h["hash"] == first["hash"] for h in proxy.sent),
                       timeout=WAIT)  # fmt: skip
        await wait_for(lambda: w.feed.tip is not None and w.feed.tip.hash == first["hash"],
                       timeout=WAIT)  # fmt: skip
        assert u.late == late, (u.late, late, u.told)  # before: 1 (the old top told first)
        assert u.on_time()
        await proxy.free()
        await wait_for(lambda: w.applied is not None and w.applied.hash == first["hash"],
                       timeout=WAIT)  # fmt: skip
        assert w.reorgs >= 1 and u.late == late and u.on_time()
