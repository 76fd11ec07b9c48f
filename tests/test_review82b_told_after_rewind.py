"""review82b: ``Unapplied.told`` (watch82) is a maximum never taken back: after the chain
went back below it (a reorg to a shorter branch, a devnet's rewind or reset, answered by a
poll), every on-time announcement of the new branch up to the old height counts late, and
none makes the head fresh for ``LATE`` seconds after the last of them."""

from __future__ import annotations

from sdex.watch.unapplied import Unapplied


def test_announcements_after_a_rewind_are_not_late() -> None:
    u = Unapplied()
    u.caught_up(1_000)
    u.saw(1_000, polled=True)  # (the chain's own word: block 1,000)
    u.saw(100, polled=True)  # (a poll: the chain's head is 100 now, rewound)
    u.caught_up(100)
    for n in range(101, 111):  # (the new branch, each block announced on time)
        u.announced(n)
        u.caught_up(n)
    assert u.late == 0, f"{u.late} on-time announcements counted late after the rewind"
    assert u.on_time()
