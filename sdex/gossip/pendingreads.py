"""The peers' orders pending on chain reads in the check queue (``sdex.gossip.checks``) once
their group's turn ended, bounded: a peer with ``reads_per_peer`` of its orders pending (all
strangers' keys and all peers of little standing as one peer: ``owner``, ``reads_owner``)
has its next checks set aside (*parked*, in their order, taken again after the others once
one of its reads ends; a group takes at most ``chunk`` orders, so a peer has fewer than
``reads_per_peer + chunk`` pending); with ``reads`` pending in all, each owner's counted up
to ``reads_per_peer`` (``at_bound``), the next group waits for one to end."""

from __future__ import annotations

import asyncio

from sdex.gossip.checkparts import CheckHooks, Entry
from sdex.gossip.readowners import NEWCOMERS


class PendingReads:
    """Orders pending on chain reads, per owner and in all; the checks parked at their owner's
    bound; the leaders waiting for a read to end."""

    def __init__(self, hooks: CheckHooks) -> None:
        self._hooks = hooks
        self.owners: dict[str, int] = {}
        """Orders pending on chain reads, per owner (``CheckHooks.owner``)."""
        self.parked_checks: dict[str, list[Entry]] = {}
        """Checks of owners at their bound of pending reads, each owner's in its order."""
        self._freed: list[asyncio.Future[None]] = []
        """A leader waiting for a read to end (the reads pending at their bound)."""
        self.total = 0
        """Orders pending on chain reads in all."""
        self.parked = 0
        """Checks parked now (their owner at its bound of pending reads)."""
        self.bounded = 0
        """Times the next group waited for a read to end (the reads pending at their bound)."""

    def add(self, owner: str) -> None:
        """One of ``owner``'s orders is pending on a read (its group's turn ended)."""
        self.owners[owner] = self.owners.get(owner, 0) + 1
        self.total += 1

    def remove(self, owner: str) -> list[Entry]:
        """One of ``owner``'s orders is no longer pending on a read: at its bound no more,
        its parked checks, unparked, to go back to the queue (after the others)."""
        left = self.owners[owner] - 1
        self.total -= 1
        if left:
            self.owners[owner] = left
        else:
            del self.owners[owner]
        if owner in self.parked_checks and left < max(1, self._hooks.reads_per_peer()):
            back = self.parked_checks.pop(owner)
            for entry in back:
                entry.parked = False
                self.parked -= 1
            return back
        return []

    def park(self, entry: Entry) -> None:
        entry.parked = True
        self.parked += 1
        self.parked_checks.setdefault(entry.owner, []).append(entry)

    def unpark(self, entry: Entry) -> None:
        parked = self.parked_checks.get(entry.owner, [])
        if entry in parked:
            parked.remove(entry)
            entry.parked = False
            self.parked -= 1
            if not parked:
                del self.parked_checks[entry.owner]

    def at_bound(self) -> bool:
        """``reads`` pending in all, each owner's counted up to ``reads_per_peer`` only: a group
        takes up to ``chunk`` of an owner's orders while it is below its bound, all of which
        may be left pending, and reads78 found two owners (the strangers and one sybil in the
        top ``reads_own_peers``) holding 64 so, every other peer's next group waiting."""
        most, cap = max(1, self._hooks.reads_per_peer()), max(1, self._hooks.reads())
        if self.total < cap:
            return False
        new = sum(min(n, most) for o, n in self.owners.items() if o.startswith(NEWCOMERS))
        own = sum(min(n, most) for o, n in self.owners.items() if not o.startswith(NEWCOMERS))
        return own + min(new, cap // 2) >= cap  # (newcomers' host groups: half at most)

    async def wait(self) -> None:
        """Until a read ends (the reads pending at their bound)."""
        self.bounded += 1
        waiter = asyncio.get_running_loop().create_future()
        self._freed.append(waiter)
        await waiter

    def free(self) -> None:
        """A read ended: a leader waiting for one goes on."""
        freed, self._freed = self._freed, []
        for waiter in freed:
            if not waiter.done():
                waiter.set_result(None)
