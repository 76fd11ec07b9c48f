"""What changed since a reader last looked: a log of records (a side's price levels, in
``sdex.book.levels``) for readers that follow them (the node's book events), so that a
reader reads only what moved since its last read, O(records changed), not every record.

Each record keeps its last place in the log (``Logged.logged``); the log keeps the end it
had at its latest read (``taken``). A record is noted again only if some reader read past
its last place, so a record that moves a thousand times between two reads is read once.
A log no reader keeps up with is dropped (``_trim``), and a reader behind its new start is
told to compare every record instead. Imports nothing of ``sdex``."""

from __future__ import annotations

from typing import Generic, TypeVar


class Logged:
    """A record a ``ChangeLog`` notes: ``logged`` is its last place there (-1: never)."""

    __slots__ = ("logged",)

    def __init__(self) -> None:
        self.logged = -1


T = TypeVar("T", bound=Logged)


class ChangeLog(Generic[T]):
    """The records that moved, in the order they were noted (``note``), read with cursors
    (``changes``). ``base`` is the place of ``log[0]`` since the log began (older places
    dropped); ``taken`` the end of the log at its latest read."""

    __slots__ = ("base", "log", "taken")

    def __init__(self) -> None:
        self.log: list[T] = []
        self.base = 0
        self.taken = 0

    def note(self, item: T, bound: int) -> None:
        """``item`` moved since a reader last read the log: log it (the caller checked
        ``item.logged < taken``). A log longer than ``bound`` is trimmed."""
        log = self.log
        item.logged = self.base + len(log)
        log.append(item)
        if len(log) > bound:
            self._trim()

    def _trim(self) -> None:
        """The log outgrew its bound (records made and forgotten while no reader read): drop
        what the latest reader read, or all of it. A reader behind the new start compares
        every record at its next read (``changes`` tells it)."""
        log = self.log
        read = self.taken - self.base
        if read > len(log) // 2:
            del log[:read]
            self.base = self.taken
        else:
            self.base += len(log)
            self.log = []

    def changes(self, cursor: int) -> tuple[list[T] | None, int]:
        """The records that moved since a reader's ``cursor`` (its last read's end; -1 at
        first), perhaps some twice or more; ``None`` if the log no longer reaches back there
        (compare every record). Returns the cursor of the next read too."""
        end = self.base + len(self.log)
        self.taken = end
        if cursor < self.base:
            return None, end
        return self.log[cursor - self.base :], end
