"""Why the lane signs nothing now (``BatchTx``: a read its signature needs failed or was not
believed, the chain replaced or in doubt), logged once a kind and state, not once a try.

settle89 (left41): while the chain's fee was refused (above ``--max-base-fee``, or past
EIP-1559's bounds of the last read) the settler logged "settlement of N matches not signed:
fees not read: ..." at every try, one each ``REFUSED_PAUSE`` (0.2 s): five lines a second
for as long as it lasted. Now the first refusal of a kind is logged, the tries after it are
counted, and the end of the state is logged with their count by kind; /health's
``settlementsNotSigned`` says the state while it stands. A kind is logged once a state even
when kinds alternate (small92)."""

from __future__ import annotations

import logging
import re
import time

log = logging.getLogger("sdex.settlement")


def kind_of(e: BaseException) -> str:
    """``e``'s kind: its class and its message up to the first colon, numbers left out (one
    state whatever the fee or block it names)."""
    return f"{type(e).__name__}: {re.sub(r'[0-9]+', 'N', str(e).split(':', 1)[0])}"


MAX_KINDS = 16
"""Kinds one state of refusals counts apart (``UnsignedLog.counts``); the ones past it are
counted together as ``OTHER`` (a kind's words are the chain's: bounded)."""

OTHER = "other kinds"


class UnsignedLog:
    """The lane's refusals to sign, by state (``refused``, ``signed``): a state lasts from a
    refusal after a signature (or the start) to the next signature. Each kind is logged once
    a state, whatever the order they come in: small92, a chain whose refusals alternated
    between two kinds (A, B, A, ...) had a warning at each change, one each
    ``REFUSED_PAUSE``."""

    def __init__(self) -> None:
        self.total = 0
        """Signatures refused since the start."""
        self.why: str | None = None
        """Why the last was refused, while no signature came since (None: signing)."""
        self.tries = 0
        """Refused in the state of now."""
        self.counts: dict[str, int] = {}
        """Refused in the state of now, by kind (at most ``MAX_KINDS`` and ``OTHER``)."""
        self._since = 0.0  # (time.monotonic: the state's first refusal)

    def refused(self, matches: int, e: BaseException) -> None:
        """A signature of ``matches`` matches refused for ``e``: logged when its kind is the
        state's first of it (the first since a signature, or the first of its kind since),
        else counted."""
        self.total += 1
        self.why = str(e)
        if not self.counts:
            self._since = time.monotonic()
        self.tries += 1
        kind = kind_of(e)
        if kind not in self.counts and len(self.counts) >= MAX_KINDS:
            kind = OTHER
        seen = self.counts.get(kind, 0)
        self.counts[kind] = seen + 1
        if seen:
            log.debug("settlement of %d matches not signed (%d in a row): %s", matches,
                      self.tries, e)  # fmt: skip
            return
        log.warning("settlement of %d matches not signed: %s (tried again, logged once this "
                    "lasts: /health's settlementsNotSigned)", matches, e)  # fmt: skip

    def signed(self) -> None:
        """A signature went through: the state of refusals, if any, ends (logged, counted
        by kind)."""
        if self.counts:
            kinds = "; ".join(f"{k}: {n}" for k, n in self.counts.items())
            log.warning("settlements not signed %d times over %.1f s (%s): signing again",
                        self.tries, time.monotonic() - self._since, kinds)  # fmt: skip
            self.counts, self.why, self.tries = {}, None, 0

    def to_json(self) -> dict[str, object]:
        """/health's ``settlementsNotSigned``: refused since the start, why now (None:
        signing) and how many times in a row."""
        return {"total": self.total, "now": self.why, "inARow": self.tries}
