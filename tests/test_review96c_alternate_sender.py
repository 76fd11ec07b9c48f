"""review96c: a watched fetched cancel's own sender is no alternate to itself.

``FetchedCancels`` keeps other senders' cancels of a watched order (``ALTERNATES``), taken in
turn if the watched one is refused when taken again. The same sender's cancel of the order,
fetched again while its first was watched, was kept as an alternate too: a slot spent, and
once its sender's retry was refused (e.g. over its quota of kept cancels) the same sender's
cancel was taken again, refused again, before another sender's.

A node's real ``Gossip`` driver (``tests.p2putil.serve_gossip``, on loopback), its node in
memory: the first commit fails (``StoreError``), the first sender's cancels are refused after."""

from __future__ import annotations

import pytest

from sdex.gossip import fetchedcancels
from tests.nodeutil import wait_for
from tests.test_gossip94_fetched_alternates import HASH, PerSender, fetching

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


async def test_the_watched_senders_own_cancel_is_not_kept_as_its_alternate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetchedcancels, "RETRY_FIRST", 0.05)
    async with fetching(PerSender) as (node, fetched):
        notice = {"orderHash": HASH, "signature": "0x" + "22" * 65}
        fetched.take("first", notice)
        fetched.take("first", dict(notice))  # (its sender's again, while it is watched)
        fetched.take("second", dict(notice))
        node.fail.set_exception(fetchedcancels.StoreError("disk I/O error"))

        async def settled() -> bool:
            return fetched.retried >= 1 and HASH not in fetched._pending

        await wait_for(settled, timeout=BOUND)
        assert node.tries == ["first", "first", "second"]  # before: first's refused twice
        assert node.stored == ["second"]
