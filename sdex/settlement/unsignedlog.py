"""Why the lane signs nothing now (``BatchTx``: a read its signature needs failed or was not
believed, the chain replaced or in doubt), logged once a state, not once a try.

settle89 (left41): while the chain's fee was refused (above ``--max-base-fee``, or past
EIP-1559's bounds of the last read) the settler logged "settlement of N matches not signed:
fees not read: ..." at every try, one each ``REFUSED_PAUSE`` (0.2 s): five lines a second
for as long as it lasted. Now the first refusal of a kind is logged, the tries after it are
counted, and the end of the state is logged with their count; /health's
``settlementsNotSigned`` says the state while it stands."""

from __future__ import annotations

import logging
import re
import time

log = logging.getLogger("sdex.settlement")


def kind_of(e: BaseException) -> str:
    """``e``'s kind: its class and its message up to the first colon, numbers left out (one
    state whatever the fee or block it names)."""
    return f"{type(e).__name__}: {re.sub(r'[0-9]+', 'N', str(e).split(':', 1)[0])}"


class UnsignedLog:
    """The lane's refusals to sign, by state (``refused``, ``signed``)."""

    def __init__(self) -> None:
        self.total = 0
        """Signatures refused since the start."""
        self.why: str | None = None
        """Why the last was refused, while no signature came since (None: signing)."""
        self.tries = 0
        """Refused in the state of now."""
        self._kind: str | None = None
        self._since = 0.0  # (time.monotonic: the state's first refusal)

    def refused(self, matches: int, e: BaseException) -> None:
        """A signature of ``matches`` matches refused for ``e``: logged when it begins a state
        (another kind than the last, or the first since a signature), else counted."""
        self.total += 1
        self.why = str(e)
        kind = kind_of(e)
        if kind == self._kind:
            self.tries += 1
            log.debug("settlement of %d matches not signed (%d in a row): %s", matches,
                      self.tries, e)  # fmt: skip
            return
        if self._kind is not None:
            self._ended(f"now {kind}")
        self._kind, self.tries, self._since = kind, 1, time.monotonic()
        log.warning("settlement of %d matches not signed: %s (tried again, logged once this "
                    "lasts: /health's settlementsNotSigned)", matches, e)  # fmt: skip

    def signed(self) -> None:
        """A signature went through: the state of refusals, if any, ends (logged, counted)."""
        if self._kind is not None:
            self._ended("signing again")
            self._kind, self.why, self.tries = None, None, 0

    def _ended(self, now: str) -> None:
        log.warning("settlements not signed %d times over %.1f s (%s): %s", self.tries,
                    time.monotonic() - self._since, self._kind, now)  # fmt: skip

    def to_json(self) -> dict[str, object]:
        """/health's ``settlementsNotSigned``: refused since the start, why now (None:
        signing) and how many times in a row."""
        return {"total": self.total, "now": self.why, "inARow": self.tries}
