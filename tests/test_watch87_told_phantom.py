"""watch87 (left40, review84): a running node's send asks the chain's head (``before_send``'s
``eth_blockNumber``); one answer far above the chain (a lying or broken backend) raised
``Unapplied.told`` (the highest block the chain's own word told of) for good: every
announcement up to it then counted late, and for ``LATE`` seconds after each every send
asked the chain's head again (one more request a send, for as long as the chain stayed
below the phantom). Now a told head more than ``TOLD_FAR`` blocks above a poll's answer is
read again ``AGREE`` times on connections of their own (``Watcher._proven_below``): all below
it, it is lowered to the highest head read. A feed that is really late (the chain told a
block first, its announcement after) is still seen: the reads apart find the head told.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.watch import unapplied as watch_unapplied
from sdex.watch.unapplied import Unapplied
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, pay, until_applied
from tests.toldhead import at_head, wrong_head

BOUND = 1.0
"""``BOUND`` for these tests (the rule's the same, the wait shorter)."""


async def test_a_sends_wrong_head_far_above_is_not_told_for_good(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with at_head(c, tmp_path) as (proxy, node, top):
        w, u = node.watcher, node.watcher.unapplied
        asked = proxy.number_reads
        phantom = wrong_head(proxy, node, top)  # (the send's ask: one wrong answer)
        await w.before_send()
        assert proxy.numbers == [] and proxy.number_reads > asked
        # main: told stayed at the phantom; each announcement up to it late, for good
        await wait_for(lambda: u.told < phantom, timeout=WAIT)
        assert u.told >= int(top["number"], 16), (u.told, top["number"])
        late = u.late
        blocks = [pay(c, 1 + i) for i in range(3)]
        await until_applied(w, blocks[-1])
        # (a safety poll asking the latest between a block's mining and its announcement
        # counts one late, rightly: borne, as watch83's test does)
        assert u.late - late <= 1, (u.late - late, u.told, phantom)
        assert u.to_json()["signing"] == "free"


async def test_a_head_told_within_reach_stands_and_a_late_feed_is_still_seen(
    chain: Chain, tmp_path: Path
) -> None:
    """The send's ask answered the chain's head plus ``TOLD_FAR`` (a backend a few blocks
    ahead of the polls': no proof asked, nothing lowered), then those blocks mined and
    announced: each announcement late (the chain told of it first)."""
    c = chain
    async with at_head(c, tmp_path) as (proxy, node, top):
        w, u = node.watcher, node.watcher.unapplied
        far = watch_unapplied.TOLD_FAR
        ahead = wrong_head(proxy, node, top, far)
        late = u.late
        await w.before_send()
        assert u.told == ahead
        blocks = [pay(c, 1 + i) for i in range(far)]
        await until_applied(w, blocks[-1])
        assert u.told >= ahead and u.late - late >= 1, (u.late, late, u.told)


TOLD: list[tuple[str, list[tuple[str, int]], int]] = [
    # (case, steps after a poll's answer at 50, told after)
    ("a lower head proven", [("saw", 1050), ("back", 52)], 52),
    ("a higher head 'proven'", [("saw", 60), ("back", 70)], 60),
    ("proven at the book", [("saw", 1050), ("back", 50)], 50),
]


def test_told_back_lowers_never_raises() -> None:
    for case, steps, told in TOLD:
        u = Unapplied()
        u.caught_up(50)
        u.saw(50, polled=True)
        for step, n in steps:
            if step == "saw":
                u.saw(n)
            else:
                u.told_back(n, time.monotonic())
        assert u.told == told, case


async def test_a_sends_wrong_head_does_not_unhold_the_blocks_announced_after_it(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send's wrong ask (far above) made every block up to it known (``Unapplied.saw``),
    and only a poll's own answer for the latest drops blocks known above it; the polls after
    it took announcements for the latest (here: the reads of the latest fail). Past
    ``BOUND`` the phantom blocks stopped holding, and the real blocks announced after them
    were never known on their own (below the highest known): a block announced and not
    applied held nothing, and the node signed on a book without it (behind77's case). Now
    the announced poll's latest far below ``told`` has the head read again, and the blocks
    known above the head proven, from before the reads, dropped."""
    monkeypatch.setattr(watch_unapplied, "BOUND", BOUND)
    c = chain
    async with at_head(c, tmp_path) as (proxy, node, top):
        w, u = node.watcher, node.watcher.unapplied
        proxy.latest = [None] * 100_000  # (no poll's own answer: announcements only)
        phantom = wrong_head(proxy, node, top)
        await w.before_send()
        assert proxy.numbers == []
        a = pay(c, 1)  # (announced: a poll takes it for the latest and applies it)
        await until_applied(w, a)
        await wait_for(lambda: u.told < phantom, timeout=WAIT)  # (its proof: a task, watch88)
        await wait_for(lambda: u.behind_for() == 0.0 or u.behind_for() > BOUND + 0.2,
                       timeout=WAIT)  # fmt: skip
        proxy.holds, proxy.hold_ranges = (lambda msg: True), True  # (B's reads wait)
        count = node.mirror.announced.count
        b = pay(c, 2)
        await wait_for(lambda: node.mirror.announced.count > count, timeout=WAIT)
        said = u.to_json()
        # main: the phantom's blocks past BOUND, B not known on its own: "not held"
        assert said["signing"] == "held", said
        assert said["oldestUnapplied"] == int(b["number"], 16), said
        proxy.latest.clear()
        await proxy.free()
        await until_applied(w, b)
        assert not u.holding()
