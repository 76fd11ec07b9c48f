"""Which failures of a step tried again with no bound are logged (``Retries``): the first,
then at each doubling of the tries, and at once a failure that says something new. watch89:
a held start's step (``sdex.node.reload``'s ``_held_step``) refused for as long as another
connection held the store's write lock logged a line at every try, about every 4 s for
hours; now the lines grow as the log of the tries."""

from __future__ import annotations

NEW_SAID = 16
"""Distinct failures a row of tries logs at once when first seen (past them, only at the
doublings: an error whose words change at every try logs no more than that)."""


class Retries:
    """The failures of one row of tries: ``failed`` counts one and says whether to log it."""

    def __init__(self) -> None:
        self.tries = 0
        self._said: set[str] = set()

    def failed(self, said: str) -> bool:
        """One more failure, ``said`` its words: whether it is logged (the first, each
        doubling of the tries, or words not seen in this row, ``NEW_SAID`` at most)."""
        self.tries += 1
        new = said not in self._said and len(self._said) < NEW_SAID
        if new:
            self._said.add(said)
        return new or self.tries & (self.tries - 1) == 0
