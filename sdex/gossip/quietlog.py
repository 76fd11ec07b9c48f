"""A debug line said at most once every few seconds, however often its event happens: a
gossip call skipped because the operator cut the link, or an outbox held while its peer
waits out a backoff (tests63: a cancel that never reached a peer left no trace in the log;
said once per call, a cut link under load would fill it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

SAY_EVERY = 5.0
"""Seconds between two lines of one ``Quiet``."""


class Quiet:
    """``say``: a debug line, unless one was said less than ``every`` seconds ago (by
    ``clock``); the line counts the events since the last one said (``skipped``: all of them)."""

    def __init__(
        self,
        log: logging.Logger,
        every: float = SAY_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.every, self.clock = log, every, clock
        self.skipped = 0
        self._since = 0
        self._next = float("-inf")

    def say(self, msg: str, *args: object) -> None:
        self.skipped += 1
        self._since += 1
        if not self.log.isEnabledFor(logging.DEBUG):
            return
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every
        self.log.debug(msg + " (%d since the last such line)", *args, self._since)
        self._since = 0
