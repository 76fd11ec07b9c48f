"""Wallet orders held while the chain mirror replays the chain (replay79).

While the mirror replays blocks (a start's replay, a reset's: ``replaying``; a reorg's begun
from ``behind``) it cannot judge an order: each order that needs a chain state was read
from the chain, one read and one token of its sender's budget (``sdex.node.readbudget``)
each, so a wallet posting more than its burst (100) during a replay met 429 ``THROTTLED``,
for as long as the replay ran (fix78c: 30 asks, 30 reads). An order that would be read so
(ECDSA-signed: a contract wallet's verdict is a read anyway) now waits here, after every
check that needs no chain (bad input is refused at once), for the mirror to follow the
chain; it is then judged as any order is: by the mirror, a first-seen account's one read
shared by its orders. Nothing is acknowledged before its verdict, so nothing held is lost
(a node stopped meanwhile answers nobody: the wallet posts it again).

Peers' copies too (replay80), in a hold of their own (``MAX_PEER_HELD``,
``MAX_PEER_HELD_PER_SENDER`` per peer, ``PEER_HOLD_SECONDS`` each): read at once, 8 peers'
pushes of 100 orders each during a 3,000-block replay cost 800 rows and 800 tokens of the
peers' lane (its burst is 1,000: a larger push met ``THROTTLED``, fetched again later), where
the mirror took them for 16 (one a maker). A held copy waits as a pending read in gossip's
checks (``sdex.gossip.checks``: its peer's next checks park at its bound, others go on).

Bounded: at most ``MAX_HELD`` orders in all and ``MAX_HELD_PER_SENDER`` per wallet client
(its ``client_group``) at once, each for at most ``HOLD_SECONDS`` from its POST's arrival
(a wallet client gives up after 10 s: ``sdex.client.DEFAULT_TIMEOUT``, which counts the
time its order waited before the hold, a slow body's, a busy loop's). An order past a bound
is read at once, as before: its sender's budget bounds it; one held that long is read with
the sender's other held orders of its account (``sdex.ingest.holds.SharedReads``: a token
for them all). A chain that stops being followed meanwhile (``unreachable``, ``behind``)
ends every hold: those orders are answered as the status says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sdex.httpkit import client_group
from sdex.ingest.holds import Held, Hold

MAX_HELD = 2_000
"""Wallet orders held at once in all: past it an order is read at once (as before)."""
MAX_HELD_PER_SENDER = 200
"""Held at once per wallet client (``client_group``): twice the default burst of reads."""
HOLD_SECONDS = 5.0
"""The longest an order waits for the mirror: then it is read (a shared read). A replay
of ~3,400 Hardhat blocks (300 of them with transfers) takes ~1.6 s here (BENCHMARKS,
replay79); a wallet client gives up after 10 s (``sdex.client.DEFAULT_TIMEOUT``)."""
MAX_PEER_HELD = 2_000
"""Peers' orders held at once in all (a hold of their own: ``Node.peer_replay_hold``)."""
MAX_PEER_HELD_PER_SENDER = 500
"""Held at once per peer (its node id): gossip bounds a peer's orders pending on reads
(``reads_pending_per_peer`` past its group, held ones among them), so this is seldom reached."""
PEER_HOLD_SECONDS = 1.0
"""The longest a peer's copy waits for the mirror: a held copy is a pending read in gossip's
checks, its peer's next checks parked behind it (``reads_pending_per_peer``), so a replay
longer than this paces a peer's new orders at a group (``intake_chunk`` + 4) a hold. A
restart's catch-up of a few hundred blocks ends within it; then the copies are read, shared
per peer and account."""
POLL = 0.05
"""Seconds between looks at whether the mirror follows (one task for every held order)."""


class ReplayHold:
    """Orders waiting for the watcher to replay the chain to its head (``ready``: then the
    mirror judges them if it follows), while the chain is followed (``following``: else the
    wait ends, its order answered as the status says)."""

    def __init__(
        self,
        ready: Callable[[], bool],
        following: Callable[[], bool],
        most: int = MAX_HELD,
        per_sender: int = MAX_HELD_PER_SENDER,
        seconds: float = HOLD_SECONDS,
    ) -> None:
        self.ready = ready
        self.following = following
        self.most = most
        self.per_sender = per_sender
        self.seconds = seconds
        self.by_sender: dict[str, int] = {}
        self.now = 0
        """Orders held now."""
        self.held = 0
        """Orders held in all (each waited for the mirror)."""
        self.timed_out = 0
        """Of those, orders whose wait ended at ``seconds`` (read then, as before)."""
        self.past_bound = 0
        """Orders not held, read at once: past ``most`` or their sender's ``per_sender``."""
        self.longest = 0.0
        """The longest wait, seconds."""
        self._done: asyncio.Future[None] | None = None

    def hold(self, client: str | None, arrived: float | None = None) -> Hold:
        """The ``sdex.ingest.holds.Hold`` of a wallet post from ``client`` (its address) that
        arrived at ``arrived`` (``time.monotonic()``; None: when it reaches the hold)."""
        sender = client_group(client) if client is not None else ""
        return lambda _i: self.wait(sender, arrived)

    def peers(self, peer_of: Callable[[int], str]) -> Hold:
        """The ``Hold`` of a peer's push (replay80): the order at index ``i`` is
        ``peer_of(i)``'s (its node id: its orders' reads shared per account, never with a
        wallet's, ``sdex.ingest.holds.SharedReads``)."""
        return lambda i: self.wait("peer:" + peer_of(i))

    async def wait(self, sender: str, arrived: float | None = None) -> Held | None:
        """Until the mirror follows the chain, the chain stops being followed, or ``seconds``
        from ``arrived`` pass (its order's arrival, ``time.monotonic()``; None: now): ``sender``
        and that arrival; None at once past a bound (or if nothing replays)."""
        began = time.monotonic()
        since = began if arrived is None else min(arrived, began)
        if self.ready() or not self.following():
            return None
        mine = self.by_sender.get(sender, 0)
        if self.now >= self.most or mine >= self.per_sender:
            self.past_bound += 1
            return None
        self.by_sender[sender] = mine + 1
        self.now += 1
        self.held += 1
        try:  # (what it waited before the hold counts: user81, its client's 10 s do)
            async with asyncio.timeout(max(0.0, since + self.seconds - began)):
                await asyncio.shield(self._until_done())
        except TimeoutError:
            self.timed_out += 1
        finally:
            self.now -= 1
            if (left := self.by_sender[sender] - 1) > 0:
                self.by_sender[sender] = left
            else:
                del self.by_sender[sender]
            self.longest = max(self.longest, time.monotonic() - began)
        return Held(sender, since)

    def _until_done(self) -> asyncio.Future[None]:
        """One task for every held order: done once the mirror follows or the chain is not
        followed any more."""
        if self._done is None or self._done.done():
            self._done = asyncio.ensure_future(self._look())
        return self._done

    async def _look(self) -> None:
        while not self.ready() and self.following():
            if self.now == 0:  # (every wait ended: nobody to wake)
                return
            await asyncio.sleep(POLL)

    def to_json(self) -> dict[str, object]:
        """``/health``'s ``chainMirror.replayHold``."""
        return {
            "now": self.now,
            "held": self.held,
            "timedOut": self.timed_out,
            "pastBound": self.past_bound,
            "longestSeconds": round(self.longest, 3),
        }
