"""review69b: a kept cancel that two senders passed on counted in the first one's count
only. The second was answered 202 "kept" (one copy is enough), so a hostile sender that
passed the maker's cancel on first (it had it from the gossip, as every peer does) then
evicted it with its own made-up cancels (its count full: its own oldest goes): the honest
sender's promise was lost, and the order, when it came, was booked open and traded. Now a
cancel is kept while any count that sent it holds it. Real Hardhat, a real node on loopback;
the peers' entry for cancels called in process with the addresses they come from (loopback
has one host group)."""

from __future__ import annotations

import os
from pathlib import Path

from sdex.node.core import Node
from sdex.node.orphans import OrphanCancels
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack38_soft_cancel_sync import taken_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_node import ALICE, E6, E18, ask

HOSTILE, HONEST = "0x" + "11" * 20, "0x" + "22" * 20
"""Two strangers' ids (not in the peer table: counted by their host groups)."""


async def test_a_cancel_kept_for_two_senders_outlives_the_first_ones_flood(
    chain: Chain, tmp_path: Path
) -> None:
    withdrawn = chain.sign(ask(chain, ALICE, E18, 1000 * E6))
    notice = notice_of(chain, withdrawn, chain.keys[ALICE])
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=1000)  # (the defaults: 1k, 20k)
        first = node.cancel_notice(notice, HOSTILE, "203.0.113.9")
        assert first.status == 202 and first.stored is not None
        await first.stored
        second = node.cancel_notice(notice, HONEST, "198.51.100.7")
        assert (second.status, second.body["status"]) == (202, "kept")
        if second.stored is not None:
            await second.stored
        for _ in range(50):  # the hostile count's own made-up cancels: its bound is 50
            fake = {"orderHash": "0x" + os.urandom(32).hex(), "signature": notice["signature"]}
            assert node.cancel_notice(fake, HOSTILE, "203.0.113.9").status == 202
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: open
        await taken_at(api, chain, withdrawn)


async def kept_by_both(node: Node, notice: dict[str, str]) -> None:
    """``notice`` (a cancel) passed on by the hostile sender, then the honest one: each 202
    "kept", its row committed."""
    for peer, address in ((HOSTILE, "203.0.113.9"), (HONEST, "198.51.100.7")):
        kept = node.cancel_notice(notice, peer, address)
        assert (kept.status, kept.body["status"]) == (202, "kept")
        assert kept.stored is not None
        await kept.stored


async def hostile_flood(node: Node, notice: dict[str, str]) -> None:
    """The hostile count's own made-up cancels, 50 (the bound these tests give), committed."""
    for _ in range(50):
        fake = {"orderHash": "0x" + os.urandom(32).hex(), "signature": notice["signature"]}
        last = node.cancel_notice(fake, HOSTILE, "203.0.113.9")
        assert last.status == 202 and last.stored is not None
    await last.stored  # (the writes are committed in order: every one before it too)


def test_each_sender_counts_its_copy_and_the_last_to_drop_it_forgets_it() -> None:
    """The same cancel from two counts: one slot in each; evicted from one, still kept (its
    row not deleted); gone once neither holds it, its row deleted once."""
    h, sig, other = os.urandom(32), os.urandom(65), os.urandom(65)
    oc = OrphanCancels(per_sender=2, total=100)
    assert oc.keep(h, sig, "a", "a", 1.0) and oc.keep(h, sig, "b", "b", 2.0)
    assert oc.keep(h, sig, "b", "b", 2.5)  # (again from b: nothing more)
    assert len(oc) == 2
    for i in range(2):  # a's count full twice over: its copy evicted
        assert oc.keep(os.urandom(32), other, "a", "a", 3.0 + i)
    assert (h, sig) not in oc.gone and len(oc) == 3
    for i in range(2):
        assert oc.keep(os.urandom(32), other, "b", "b", 5.0 + i)
    assert oc.gone.count((h, sig)) == 1 and len(oc) == 4
    assert oc.take(h, 10.0) == []


def test_a_cancel_taken_with_its_order_is_forgotten_from_every_count() -> None:
    h, sig = os.urandom(32), os.urandom(65)
    oc = OrphanCancels(per_sender=5, total=100)
    assert oc.keep(h, sig, "a", "a", 1.0) and oc.keep(h, sig, "b", "strangers:x", 2.0)
    kept = oc.take(h, 3.0)
    assert [(o.signature, o.sender) for o in kept] == [(sig, "a")]
    assert len(oc) == 0 and oc.gone == [(h, sig)]
    assert oc.keep(h, sig, "b", "strangers:x", 4.0) and len(oc) == 1  # (nothing left behind)
