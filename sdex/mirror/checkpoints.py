"""Sparse checkpoints of the chain below the mirror's kept headers: block number -> hash,
dense near the head and thinning out with depth (every 2^k back), a bounded number.

The kept headers (``Mirror.depth``) let a reorg be undone; these only let the watcher tell,
of a chain head far below ours (``sdex.watch.fork.rewound``), a backend that lags (it has
our block at the checkpoint at or below its head) from a chain rewound or replaced
(another block there). Level ``k`` keeps the last ``PER_LEVEL`` numbers seen that are
multiples of ``2**k``: below a number at distance ``d`` from the newest, a checkpoint lies
within ``2 * (d + 1) / (PER_LEVEL - 1)`` (``tests/test_reorg30_checkpoints.py``). Only
headers the mirror applied are recorded (a block leaving the kept window, the last block
of a run applied without headers, the saved head the chain still has at a start).

Saved with the mirror's head (one transaction, ``Store.save_mirror``) when a level of
``SAVED_FROM`` or sparser moved (every ``2**SAVED_FROM`` blocks, a reorg's drop, a reset),
and read back at a start (``sdex.watch.saved``): a far rewind after a restart is provable at
once, not once new checkpoints accumulate (mirror31)."""

from __future__ import annotations

from collections import deque

LEVELS = 64
"""Levels kept: multiples of 1, 2, 4, ... 2**63 (every block number fits)."""
PER_LEVEL = 8
"""Numbers kept per level: at most ``LEVELS * PER_LEVEL`` checkpoints in all."""
SAVED_FROM = 3
"""A new multiple of ``2**SAVED_FROM`` marks the checkpoints to be saved (``take_dirty``)."""


class Checkpoints:
    """Block number -> hash for a bounded, thinning set of blocks applied (oldest deepest)."""

    def __init__(self, per_level: int = PER_LEVEL, levels: int = LEVELS) -> None:
        self._levels: list[deque[int]] = [deque() for _ in range(max(1, levels))]
        self._per_level = max(2, per_level)
        self._hashes: dict[int, str] = {}
        self.dirty = False
        """Moved at a level of ``SAVED_FROM`` or sparser (or dropped) since last taken."""

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, number: int, block_hash: str) -> None:
        """Record block ``number``; one not above every one recorded is left out (a kept
        block leaving the window below a run applied without headers: a reorg's undone
        blocks are dropped first, ``drop_above``)."""
        if number < 0 or number <= self.newest():
            return
        self._hashes[number] = block_hash
        top = len(self._levels) - 1
        zeros = top if number == 0 else min(top, (number & -number).bit_length() - 1)
        self.dirty |= zeros >= SAVED_FROM
        for k in range(zeros + 1):
            level = self._levels[k]
            level.append(number)
            if len(level) > self._per_level:
                gone = level.popleft()
                # levels below k held it no longer (denser, they drop a number sooner); a
                # level above holds it if k + 1 does (sparser ones keep it longer)
                if k == top or gone not in self._levels[k + 1]:
                    self._hashes.pop(gone, None)

    def wanted(self, start: int, end: int) -> list[int]:
        """The numbers in ``start``..``end - 1`` that would be checkpoints once block ``end``
        is (as if each block were recorded): the headers worth reading of a run applied
        without them (the watcher's catch-up), at most ``LEVELS * PER_LEVEL``, ascending."""
        out: set[int] = set()
        for k in range(len(self._levels)):
            step = 1 << k
            top = end - end % step
            if top < start:
                break
            for i in range(self._per_level):
                n = top - i * step
                if n < start:
                    break
                if n < end:
                    out.add(n)
        return sorted(out)

    def newest(self) -> int:
        """The newest checkpoint's number (-1: none); every number enters level 0."""
        return self._levels[0][-1] if self._levels[0] else -1

    def at_or_below(self, number: int) -> tuple[int, str] | None:
        """The highest checkpoint at or below ``number``, with its hash."""
        best = max((n for n in self._hashes if n <= number), default=None)
        return None if best is None else (best, self._hashes[best])

    def drop_above(self, number: int) -> None:
        """Forget every checkpoint above ``number`` (a reorg undid those blocks)."""
        for level in self._levels:
            while level and level[-1] > number:
                level.pop()
        for n in [n for n in self._hashes if n > number]:
            del self._hashes[n]
            self.dirty = True

    def clear(self) -> None:
        for level in self._levels:
            level.clear()
        self._hashes.clear()
        self.dirty = True

    def items(self) -> list[tuple[int, str]]:
        """Every checkpoint, ascending: what ``load`` takes back."""
        return sorted(self._hashes.items())

    def take_dirty(self) -> list[tuple[int, str]] | None:
        """``items`` if to be saved (``dirty``, cleared), else None."""
        if not self.dirty:
            return None
        self.dirty = False
        return self.items()

    def load(self, items: list[tuple[int, str]]) -> None:
        """Checkpoints saved by ``items`` back (ascending): the levels as they were."""
        self.clear()
        for number, block_hash in sorted(items):
            self.add(number, block_hash)
        self.dirty = False
