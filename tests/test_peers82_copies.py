"""A copy that turned new is its pusher's to pay for (peers82, review81).

``PeerChecks`` judges, as a group forms, which of each push's orders are copies held here
(``known``): a copy costs its pusher none of the group's intake (flood80). A copy whose held
order is evicted or cancelled after the group formed, before the intake reaches it, is
checked as new: before, its pusher paid nothing for that (its share counted no new order),
the other pushers of its group paid for it, and the node's ``intake.orders`` did not count
it; and the ``known`` check itself (a deep compare an order, on the loop outside the group's
task) was nobody's. Now each order the intake checked as new is charged to its pusher once,
and the check is its pusher's too.

A real gossip driver on loopback (``tests.pushrace``'s ``Held`` node: ``DEAR``
seconds of the loop's wall clock each new order). X's push of ``BATCH`` orders is held in
the intake while A pushes ``BATCH`` new orders and B copies of X's; A's and B's go in one
group once X's are held, and A's first order evicts X's (the node's book full, or their
maker's cancel applied), so B's copies are checked as new."""

from __future__ import annotations

import time
from typing import Any

from sdex.gossip.metered import INTAKE_SHARE
from tests.pushrace import BATCH, DEAR, RATE, Held, race


class Evicting(Held):
    """``Held``, whose intake evicts the orders ``evicted`` as it takes ``trigger``."""

    def __init__(self) -> None:
        super().__init__()
        self.trigger = ""
        self.evicted: list[str] = []
        self.new = 0
        """Orders its intake checked as new (``DEAR`` each)."""

    def racing(self, firsts: list[dict[str, Any]], own: list[dict[str, Any]]) -> None:
        self.trigger, self.evicted = own[0]["hash"], [o["hash"] for o in firsts]

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        if isinstance(obj, dict) and obj.get("hash") == self.trigger:
            for h in self.evicted:
                self.orders.pop(h, None)
        if isinstance(obj, dict) and obj.get("hash") not in self.orders:
            self.new += 1
        return await super().submit_from_peer(obj, peer)


class Looking(Held):
    """``Held``, whose ``known`` check of an order it holds (a deep compare of the two)
    takes ``LOOK`` seconds of the loop (of one it does not hold, none: a lookup)."""

    def known_copy(self, obj: object) -> bool:
        if isinstance(obj, dict) and obj.get("hash") in self.orders:
            end = time.thread_time() + LOOK  # (the loop thread's CPU: as it is read)
            while time.thread_time() < end:
                pass
        return super().known_copy(obj)


LOOK = 0.004
"""Seconds a ``Looking`` node's ``known`` check takes an order (~5 tokens at ``RATE``)."""


async def test_a_copy_turned_new_is_charged_to_its_pusher() -> None:
    r = await race(Evicting, "ab")  # (A's new orders queued before B's copies)
    node, spent, got, charged = r.node, r.spent, r.got, r.charged
    assert isinstance(node, Evicting)
    assert [g["accepted"] for g in got] == [BATCH, BATCH, BATCH], got  # (B's: new again)
    assert node.new == 3 * BATCH
    # before: B none (its 10 checked as new charged to nobody as orders)
    assert charged["a"] == charged["b"] == BATCH, charged
    new_orders = BATCH * DEAR * RATE / INTAKE_SHARE  # (a batch's intake at its wall price)
    # before: B a token (its push's handling), A all of the group's (B's 10 and its own);
    # after, half each (each share's orders at least ``DEAR`` of the wall clock each)
    assert spent["b"] >= 0.8 * new_orders, spent


async def test_the_copy_check_as_a_group_forms_is_its_pushers() -> None:
    """B's copies stay copies: the ``known`` check of them as the group formed is B's."""
    r = await race(Looking, "ab")
    spent, got, charged = r.spent, r.got, r.charged
    assert [g["accepted"] for g in got] == [BATCH, BATCH, 0], got
    assert got[2]["known"] == BATCH
    assert charged["a"] == BATCH and charged["b"] == 0, charged
    looked = BATCH * LOOK * RATE / INTAKE_SHARE  # (its check as the group formed)
    # before: B paid its push's handling only (its arrival's check within it, at most
    # ``MOST_SECONDS``); the group's check of its copies was nobody's
    assert spent["b"] >= looked, spent
