"""gossip27: an outbox timer whose work went first wakes nobody.

A push held by Nagle's rule (a push in flight to that peer) gets a ``push_hold`` timer; when
the answer comes first the held orders leave with it and the timer has nothing left to do.
So does a ``hint_hold`` timer whose held forwards rode with a push. On main both stayed the
core's next timer, and the driver, which arms one ``call_at`` at ``next_timer``, woke the
node for nothing at each (8 nodes at 100/s: ~0.5 such wake-ups per order and node)."""

from __future__ import annotations

import asyncio

from sdex.gossip import Gossip, GossipConfig
from sdex.gossip.actions import Call
from sdex.gossip.outbox import SHORT_ID
from tests.p2putil import Book
from tests.test_gossip_core import hinted_core, make, ok, only, order


def test_a_held_push_released_by_its_answer_leaves_no_timer_to_wake_for() -> None:
    cfg = GossipConfig()
    core, clock = make(peers=1, mesh=1, flush_delay=cfg.flush_delay)
    first = only(core.accepted(order(1)), "push")
    assert [a for a in core.accepted(order(2)) if isinstance(a, Call)] == []  # held
    assert core.next_timer() == clock.t + cfg.push_hold  # (a slow answer: it leaves then)
    only(ok(core, first, {"accepted": 1, "known": 0, "rejected": 0}), "push")  # released
    assert core.next_timer() == float("inf")  # nothing left to do at the hold's time
    assert core.stats()["voidTimers"] == 1
    clock.t += cfg.push_hold
    assert core.tick() == []


def test_held_forwards_that_rode_with_a_push_leave_no_timer_to_wake_for() -> None:
    core, clock, ids = hinted_core()
    theirs = {**order(2), "signature": "0x" + "33" * 65}
    core.checked(core.receive(ids[0], [theirs], [k[-SHORT_ID:] for k in ids[1:]]).id)
    core.accepted(theirs, exclude=ids[0])  # held for the next push to those peers
    assert core.next_timer() == clock.t + core.config.hint_hold
    core.accepted({**order(3), "signature": "0x" + "44" * 65})  # they ride with it
    assert core.next_timer() == float("inf")


def test_the_driver_moves_its_timer_when_the_work_it_was_armed_for_went() -> None:
    """``Gossip._arm``: armed for the core's next timer; when that one goes void, the loop
    handle is cancelled and re-armed at the next real one (none here), not left to fire."""

    async def run() -> None:
        gossip = Gossip(Book(), "http://me.test", [], GossipConfig())
        core = gossip.core
        core.next_dial = core.next_px = core.next_ae = float("inf")
        gossip._running = True
        box = core._box("0x" + "01" * 20)
        box.due = asyncio.get_running_loop().time() + 60.0
        core._timers.append((box.due, 1, box.key))
        gossip._arm()
        handle = gossip._timer
        assert handle is not None and gossip._timer_due == box.due
        box.due = None  # (its push left with an answer)
        gossip._arm()
        assert handle.cancelled() and gossip._timer is None
        box.due = asyncio.get_running_loop().time() + 30.0  # an earlier one: re-armed
        core._timers.append((box.due, 2, box.key))
        gossip._arm()
        assert gossip._timer is not None and gossip._timer_due == box.due
        gossip._running = False
        gossip._timer.cancel()

    asyncio.run(run())
