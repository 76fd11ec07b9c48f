"""Whether the chain behind the RPC is still the one the mirror follows: in doubt from an
answer that said another (another hash at a block of ours, another deployment block, another
chain id) that a second read did not repeat (the two-read rules of ``sdex.watch.fork``:
nothing reset on one answer), until it is proven either way: a reset made, or ``AGREE``
polls that got through with evidence of our chain (``through``'s ``proof``) and no answer of
another between.

gate77: an endpoint that flaps between a replaced chain and the one replacing it (one
backend still on the old chain) keeps the reset unproven for as long as it flaps, the
watcher saying ``behind`` and ``ok`` in turn; meanwhile the node matched its book, which
kept the gone chain's fills, and signed settlements against a chain that may be gone (paid
reverts, or settlements landing on the other chain). The node holds matching and signing
while ``held`` says why (``sdex.node.gate``); intake goes on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger("sdex.watch")

AGREE = 2
"""Polls with evidence of our chain (blocks applied on top of ours, or the block the doubt
was said of read again with our hash: ``through``) and no answer of another between, that
prove the chain ours again after an answer said another: as a reset needs two agreeing
reads, so does its end. doubt78: a poll that read the chain's head as ours and nothing else
counted too, and a backend stuck at our head (a replaced chain's, behind a balancer) lifted
the doubt while the other still answered another hash at the block in question."""

LONG = 60.0
"""Seconds a doubt stands before it is said to be stuck (kept77: an endpoint that flaps for
good held matching for good, the log silent after its first line and ``/health`` alternating
``unproven`` and ``behind``): logged again every ``LONG`` while it stands, with what an
operator does (``ADVICE``), and ``/health``'s ``chainMirror.identity`` says so. Matching
stays held: nothing proves the chain either way, and a node that guessed could settle on a
chain that is gone."""
ADVICE = (
    "the RPC endpoint answers for two chains (a backend still on a replaced chain, or a "
    "replica on another branch): point --rpc at one backend, or take the stale one out of its "
    "balancer; matching resumes by itself once two polls agree, or a reset is proven"
)
"""What an operator does about a doubt that stands for ``LONG`` or more."""
WRONG_ADVICE = (
    "the RPC endpoint answers for a chain without this node's Exchange (another chain id, or "
    "no code at the Exchange's address: a devnet restarted and not deployed to yet, or a "
    "backend below the deployment block): point --rpc at the chain the deployment is on, or "
    "take that backend out of its balancer; matching resumes by itself once two polls in a "
    "row get through on our blocks"
)
"""What an operator does about a ``wrong-chain`` hold that stands for ``LONG`` or more
(signer78: ``/health`` said ``proven`` with ``held`` set and ``heldFor`` 0, and nothing was
logged after it began)."""


class ChainDoubt:
    """The chain's identity in doubt, why and since when; ``changed`` is called (no
    argument) each time ``held`` turns from "" to a reason or back."""

    def __init__(self) -> None:
        self.why = ""
        """Why the chain's identity is in doubt ("" when it is not)."""
        self.since = 0.0
        """``time.time()`` the doubt began (0.0 when none)."""
        self.wrong = ""
        """The watcher's ``wrong-chain`` problem while it says so (no Exchange, another chain
        id): nothing may be matched against that chain either."""
        self.wrong_since = 0.0
        """``time.time()`` the ``wrong-chain`` hold began (0.0 when none)."""
        self.ended = 0.0
        """``time.time()`` the last doubt or ``wrong-chain`` hold ended (0.0: none did)."""
        self.doubts = 0
        """Answers that raised (or renewed) a doubt, since the start."""
        self.wrongs = 0
        """Polls that said ``wrong-chain`` (``wrong_chain``), since the start."""
        self.at: tuple[int, str] | None = None
        """The block the last such answer was of and our hash there (None: no block, e.g. a
        chain id; the deployment block is read instead): read again at each poll that finds
        our head unchanged while in doubt (``sdex.watch.fork.ours_again``, on a connection of
        its own: ``Watcher._apart``)."""
        self.changed: Callable[[], None] = lambda: None
        self.wake = asyncio.Event()
        """Set each time ``held`` turns from "" to a reason or back (as ``changed`` is
        called): one waiting for a doubt to end clears it, looks at ``held``, then waits on
        it, bounded (``sdex.settlement.reconcile.mark_unread``)."""
        self._agreed = 0
        self._reset = False
        self._told = 0.0  # (``time.time()`` the doubt was last said stuck: ``tick``)
        self._statuses = 0
        """Statuses the watcher set since the last poll that got through (``wrong_chain``:
        one each poll with a verdict, the one that got through too; more, a poll between
        failed: a row broken). A poll deferred for our receipt sets none (no verdict)."""

    def _moved(self) -> None:
        """``held`` turned from "" to a reason or back."""
        self.wake.set()
        self.changed()

    @property
    def said_count(self) -> int:
        """Answers of another chain so far: doubts said and ``wrong-chain`` polls (an answer
        asked for before one is not taken: ``Mirror.doubts_said``). review81: a
        ``wrong-chain`` hold begun and ended within one receipt ask counted nothing, and
        the other chain's "reverted" answer failed a sound pooled settlement."""
        return self.doubts + self.wrongs

    @property
    def held(self) -> str:
        """Why matching and signing are held ("" when they are not)."""
        return self.why or self.wrong

    def said(self, what: str, at: tuple[int, str] | None = None) -> None:
        """One answer said another chain, not proven: in doubt (again) from now on; ``at``:
        the block it was of, and our hash there (``at``)."""
        self.doubts += 1
        self.at = at
        self._agreed = 0
        self._reset = False
        if self.why:
            self.why = what
            return
        log.warning("the chain's identity is in doubt (%s): matching held", what)
        self.why, self.since = what, time.time()
        self._told = self.since
        self._moved()

    @property
    def held_since(self) -> float:
        """``time.time()`` matching has been held since, by a doubt or a ``wrong-chain``
        (the earlier of those standing; 0.0 when not held)."""
        starts = [t for t, on in ((self.since, self.why), (self.wrong_since, self.wrong)) if on]
        return min(starts, default=0.0)

    @property
    def advice(self) -> str:
        """What an operator does about the hold (a doubt's, else a ``wrong-chain``'s)."""
        return ADVICE if self.why else WRONG_ADVICE

    def held_for(self, now: float | None = None) -> float:
        """Seconds matching has been held, by a doubt or a ``wrong-chain`` (0.0 when not)."""
        since = self.held_since
        return max(0.0, (now or time.time()) - since) if since else 0.0

    def tick(self, now: float | None = None) -> None:
        """(Each poll of the watcher's, however it ended) A hold that has stood ``LONG``
        logged again, with what to do (``advice``), once every ``LONG``."""
        now = now or time.time()
        if not self.held or now - self._told < LONG:
            return
        self._told = now
        if self.why:
            log.error(
                "the chain's identity in doubt for %.0f s (%d answers of another chain, the "
                "last: %s): matching and settlement held; %s",
                self.held_for(now), self.doubts, self.why, ADVICE,
            )  # fmt: skip
            return
        log.error(
            "the RPC endpoint's chain is not this node's (wrong-chain: %s) for %.0f s: "
            "matching and settlement held; %s",
            self.wrong, self.held_for(now), WRONG_ADVICE,
        )  # fmt: skip

    def reset_made(self) -> None:
        """The reset was proven and begun (``Mirror.clear``): the doubt ends with the poll
        that applies it (``through``)."""
        self._reset = True

    def through(self, proof: bool = True) -> None:
        """A poll got through (the chain's answers chained onto our blocks, or a reset of
        them applied); ``proof``: with evidence of our chain, blocks applied on top of ours
        or the doubt's block (``at``) read again as ours, a request of its own. ``AGREE``
        of them in a row with no answer of another between (``said``), or one that applied
        a reset, end a doubt and a ``wrong-chain`` alike. One that read our head alone
        (unchanged) is no evidence of a doubt's end: neither counted nor held against
        (doubt78). In a row: a poll that failed between two (unreachable, behind, failing:
        review78, a third backend's errors between ours and a stale one's answers let two
        of ours apart end it) counts them from none again."""
        row = self._statuses <= 1
        if self.why and not proof:  # (a failure before it still breaks the row)
            self._statuses = 0 if row else 1
            return
        self._statuses = 0
        self._agreed = self._agreed + 1 if row else 1
        if not self.held or (self._agreed < AGREE and not self._reset):
            return
        if self.why:
            why = "the chain reset" if self._reset else f"{self._agreed} polls on our chain"
            log.warning("the chain's identity is proven (%s): matching resumes", why)
        self.why, self.since, self._agreed, self._reset, self.at = "", 0.0, 0, False, None
        self.wrong, self.wrong_since, self.ended = "", 0.0, time.time()
        self._moved()

    def failed(self) -> None:
        """A poll failed and set no status (``Inconsistent``: answers that disagree within
        the poll, a head from one backend and its block from another): a row of ``through``
        broken, as a failed poll's status breaks it (review78b: one backend's polls of our
        head, the other's between failing so, lifted a doubt with the second of ours)."""
        self._statuses += 1

    def wrong_chain(self, problem: str) -> None:
        """The watcher's ``wrong-chain`` status with ``problem``, or ("") another status. A
        ``wrong-chain`` holds till ``through`` ends it, as a doubt does (review78: it ended
        with the next poll that said anything else, so an endpoint one of whose backends
        has no Exchange, a devnet restarted and not deployed to yet, said ``wrong-chain``
        and ``ok`` in turn, and each ``ok`` let the node match and sign); another status
        says nothing of it (an ``unreachable`` poll proves no chain ours), but that a poll
        failed unless ``through`` follows (``ok``)."""
        self._statuses += 1
        if not problem:
            return
        self.wrongs += 1  # (an answer of another chain: ``said`` counts it, review81)
        was = bool(self.held)
        if not self.wrong:
            self.wrong_since = time.time()
            if not was:
                self._told = self.wrong_since  # (its ``LONG`` from now: ``tick``)
        self.wrong, self._agreed, self._reset = problem, 0, False
        if bool(self.held) != was:
            self._moved()

    def to_json(self) -> dict[str, object]:
        """``/health``'s ``chainMirror.identity``: a ``wrong-chain`` hold as a doubt
        (signer78: it said ``proven``, ``heldFor`` 0, and never ``stuck``)."""
        held_for = self.held_for()
        return {
            "proven": not self.held,
            "held": self.held,
            "since": self.held_since or None,
            "heldFor": round(held_for, 1),
            "doubts": self.doubts,
            **({"stuck": True, "advice": self.advice} if held_for >= LONG else {}),
        }
