"""Whose turns an EIP-1271 verdict read takes on the verdicts' few connections
(``sdex.chain.arpcturns.Turns``'s keys and their bounds: ``ReadKeys``).

reads77 bounded one maker's reads (``MAKER_READS``, 2 of the 4 ``CONTRACT_CONNECTIONS``):
two hostile wallets, a deployment each, still held all 4, and an honest contract maker's
order waited for one until its read deadline (reads78). A deployment is cheap; what is not:
an order of the maker's accepted here and still open (its signature found valid, its funds
at least the token's minimum: ``recorded``). So a read takes the turns of

- each maker it reads: ``MAKER_READS`` for a maker with such a record, ``NEW_MAKER_READS``
  (1) for one without;
- the pool of makers without one (``UNPROVEN``): ``UNPROVEN_READS`` (3) in all, so one
  connection stays for makers with a record whatever fresh deployments do;
- its submitter (``SUBMITTER``: the wallet's client network, the peer whose copy it is, all
  strangers and peers of little standing as one: ``sdex.node.readbudget``):
  ``SUBMITTER_READS`` (2), whatever makers it names; a read of a shared submitter's (the
  peers of little standing: ``sdex.node.readbudget.turns_of``) the turn of the group it came
  from too (``one_of``): ``ONE_READS`` (1), so one free key with two slow deployments no
  longer holds both of the shared turns and every other such peer's contract makers' copies
  out (share78). The group is a newcomer's host group, or all strangers as one (peers79: a
  key, and two free keys held both).

Fresh deployments hold at most 3 of the 4 connections in all, one each, 2 through one
submitter: starving makers without a record takes 3 deployments from 2 submitters, and the
last connection a deployment with an open order here. A maker whose read was given up (every
order's wait for it ended: its read deadline) or failed loses its record for
``LAPSE_SECONDS``: a funded wallet that turns hostile holds its 2 for one deadline, then
waits in the pool with the fresh ones. Only a read of that maker alone: a window's shared
read (``REST``) may be held by any of its makers, and review78b found an honest maker with
a record pushed into it behind a tracked wallet's orders from ``MAX_PARTS - 1`` submitters
lapsed with the hostile wallet that held it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar

CONTRACT_CONNECTIONS = 4
"""Connections the EIP-1271 verdicts' client opens to the chain at most: contract makers'
reads past them wait for one of these, never for the node's others (reads76). Half the
read client's 8: a slow path to the chain still serves honest contract makers' windows a
few at once, and a hostile wallet's held reads hold at most these."""

MAKER_READS = CONTRACT_CONNECTIONS // 2
"""One maker's verdict reads in flight at once, at most, once it has a record (its others
wait their turn, holding no connection: ``sdex.chain.arpcturns``; reads77)."""
NEW_MAKER_READS = 1
"""The same, of a maker without a record (no open order here: a fresh deployment)."""
UNPROVEN_READS = CONTRACT_CONNECTIONS - 1
"""Verdict reads of makers without a record in flight at once, all of them together."""
SUBMITTER_READS = 2
"""Verdict reads one submitter's orders have in flight at once, whatever their makers."""
ONE_READS = 1
"""Verdict reads of one sender within a shared submitter (``one_of``) in flight at once."""
LAPSE_SECONDS = 60.0
"""How long a maker whose read was given up or failed counts as one without a record."""
MAX_LAPSED = 4096
"""Lapsed makers remembered at most (the oldest forgotten first)."""

REST = "(rest)"
"""The turns' key of a window's read shared by its makers past ``MAX_PARTS``; the read takes
each of those makers' turns too (review77c: a maker's rows there counted against this key
only, and a hostile wallet, its own turns taken, posted behind decoys in names nobody uses
and held this key's turns too, all four connections)."""
UNPROVEN = "(unproven)"
"""The turns' key every read of a maker without a record takes (``UNPROVEN_READS``)."""

ONE_OF = "@"
"""Between a shared submitter's name (in brackets: ``(strangers)``) and its sender's key."""


def one_of(shared: str, sender: str) -> str:
    """The ``SUBMITTER`` of ``sender``'s orders charged to the shared submitter ``shared``
    (its reads take the turns of both: ``ReadKeys.keys``; ``sender``: a group of senders,
    ``sdex.node.readbudget.turns_of``)."""
    return f"{shared}{ONE_OF}{sender}"


SUBMITTER: ContextVar[str] = ContextVar("sdex_submitter", default="")
"""Whose order the chain read run in this context is for ("": not known, no bound of its
own): set by the intake from the sender its budget of reads charged."""


class ReadKeys:
    """The keys a verdict read takes and each one's bound; ``recorded(maker)``: whether it
    has an open order here (None: every maker counts as having one, no pool)."""

    def __init__(
        self,
        recorded: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recorded_by = recorded
        self.clock = clock
        self._lapsed: OrderedDict[str, float] = OrderedDict()
        """Makers whose read was given up or failed, until when (oldest first)."""

    def recorded(self, maker: str) -> bool:
        """Whether ``maker``'s reads are bounded as a maker's with a record."""
        if self.recorded_by is None:
            return True
        until = self._lapsed.get(maker)
        if until is not None:
            if until > self.clock():
                return False
            del self._lapsed[maker]
        return self.recorded_by(maker)

    def lapse(self, makers: Iterable[str]) -> None:
        """``makers``' read was given up or failed: no record for ``LAPSE_SECONDS``."""
        until = self.clock() + LAPSE_SECONDS
        for m in makers:
            self._lapsed.pop(m, None)
            self._lapsed[m] = until
        while len(self._lapsed) > MAX_LAPSED:
            self._lapsed.popitem(last=False)

    def keys(self, makers: Iterable[str], submitter: str, rest: bool = False) -> list[str]:
        """The keys of a read of ``makers``' orders from ``submitter`` (``rest``: a window's
        read shared past ``MAX_PARTS``, ``REST``'s too)."""
        makers = list(makers)
        keys = [f"maker:{m}" for m in makers]
        if rest:
            keys.append(REST)
        shared, at, one = submitter.partition(ONE_OF)
        if at and shared.startswith("("):  # (a shared submitter's sender: ``one_of``)
            keys += [f"from:{shared}", f"one:{one}"]
        elif submitter:
            keys.append(f"from:{submitter}")
        if any(not self.recorded(m) for m in makers):
            keys.append(UNPROVEN)
        return keys

    def limit(self, key: str) -> int:
        """The most turns ``key`` may have at once."""
        kind, _, name = key.partition(":")
        if kind == "maker":
            return MAKER_READS if self.recorded(name) else NEW_MAKER_READS
        if kind == "from":
            return SUBMITTER_READS
        if kind == "one":
            return ONE_READS
        return UNPROVEN_READS if key == UNPROVEN else MAKER_READS

    def ceiling(self, key: str) -> int:
        """The most ``limit(key)`` may ever be (a maker's rises to ``MAKER_READS`` when its
        record is made or its lapse ends, unseen: ``Turns`` asks only such keys' bounds at
        every pass, peers81)."""
        return MAKER_READS if key.startswith("maker:") else self.limit(key)
