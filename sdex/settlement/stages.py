"""Where a settled match's time goes, stage by stage, summed over every match settled.

Stages, each from the end of the one before (seconds on ``time.perf_counter``):

- ``queued``: from ``Settler.submit`` (the match was just made) until a batch took it;
- ``signed``: nonce, signature and the database record, until the broadcast was queued
  (its record durable, seen on the event loop);
- ``chain_wait``: until the broadcast started (the lane sends one at a time);
- ``send``: the broadcast itself (Hardhat's automine answers once it has mined);
- ``receipt``: until the receipt was in hand (read at once after a mined send, else
  polled or taken from a new head);
- ``applied``: until the node had applied the results (fills stored, events published).

Debug: with ``SDEX_SETTLE_TIMELINE`` set to a file path, each settled batch appends one
JSON line there (``timeline``): its incoming orders' hashes, when each match was
submitted, and the batch's timestamps on ``time.perf_counter`` (CLOCK_MONOTONIC on Linux:
the same clock in every process of the machine, so ``bench/node.py --timeline`` sets them
beside its own POST and websocket times). Unset (the default), it costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ("queued", "signed", "chain_wait", "send", "receipt", "applied")
TIMELINE_ENV = "SDEX_SETTLE_TIMELINE"
"""A file path: every settled batch's timeline appended there as one JSON line (debug)."""
TIMELINE_MAX_BYTES = 64 << 20
"""The most a node appends to that file (~90 B a match): then the timeline is off (logged)."""

LANDINGS_KEPT = 16
"""Settlements whose landing time ``StageTimes.landing`` is the slowest of."""
MAX_LANDING = 60
"""The most seconds ``StageTimes.landing`` says (a settlement that waited out a stalled
chain moves the node's clock, ``NodeState.now``, this far at most)."""
LANDING_MEMORY = 600.0
"""Seconds a settlement's landing time counts in ``StageTimes.landing`` (review49: one that
waited out a stalled chain or a slow receipt kept the node's clock up to a minute ahead
until 16 more settlements landed: on a quiet node for hours, every order with that long
left refused or closed as expired, for good, on a chain settling at once)."""

log = logging.getLogger("sdex.settlement")


@dataclass(slots=True)
class FlightTimes:
    """Timestamps of one settlement transaction's way (0.0: not reached); ``started`` is
    resolved (on ``loop``) once its broadcast starts, ``ended`` (if given) once it ended."""

    started: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop
    formed: float = 0.0
    ended: asyncio.Future[None] | None = None
    signed: float = 0.0
    queued: float = 0.0
    send_start: float = 0.0
    send_end: float = 0.0
    receipt: float = 0.0

    def start_now(self) -> None:
        """On the event loop: the broadcast starts now."""
        self.send_start = time.perf_counter()
        _done(self.started)

    def end_now(self) -> None:
        """On the event loop: the broadcast ended now."""
        self.send_end = time.perf_counter()
        if self.ended is not None:
            _done(self.ended)

    def resolve(self) -> None:
        """(On the event loop) the next batch need not wait for this one any more."""
        _done(self.started)
        if self.ended is not None:
            _done(self.ended)


def _done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class StageTimes:
    """Per-match sums of each stage's seconds, over the matches settled or failed."""

    matches: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    timeline: str | None = field(default_factory=lambda: os.environ.get(TIMELINE_ENV) or None)
    """Where each batch's timestamps go, one JSON line (debug; None: nowhere)."""
    timeline_bytes: int = 0
    landed: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=LANDINGS_KEPT))
    """When (``time.monotonic``) the last settlements' receipts came, and the seconds each
    took from its batch's formation (left50: not from its first match's submission, so
    the queue wait of matches settled alone ahead of others is not remembered)."""
    waiting: Callable[[], list[float]] = field(default=lambda: [])
    """When (``time.perf_counter``) each match still queued was submitted, oldest first (the
    settler's queue): its wait counts in ``landing`` while it lasts."""
    memory: float = LANDING_MEMORY
    """Seconds a landing counts (``LANDING_MEMORY``)."""
    _landing: int = 0
    _slowest: float = 0.0  # (``_landing``'s seconds before rounding)
    _until: float = 0.0  # (when the oldest landing counted in ``_landing`` is forgotten)

    @property
    def landing(self) -> int:
        """Whole seconds (rounded up, left53) the slowest of ``landed`` in the last
        ``memory`` seconds took, and the oldest queued match's wait so far (at most
        ``MAX_LANDING`` together): how far
        past a match the chain may judge its settlement (``NodeState.now``; attack48).
        review49: the wait was remembered with the landing, so a stream of "suspect"
        matches settled alone, honest ones waiting behind them, kept it up to a minute for
        ``memory`` seconds; now only the live queue's wait counts, while it lasts."""
        if self._landing and time.monotonic() >= self._until:
            self._recount()
        queued = self.waiting()
        if not queued:
            return self._landing
        return min(MAX_LANDING, math.ceil(self._slowest + time.perf_counter() - queued[0]))

    def _recount(self) -> None:
        now = time.monotonic()
        landed = self.landed
        while landed and landed[0][0] + self.memory <= now:
            landed.popleft()
        slowest = max(landed, key=lambda e: e[1], default=(0.0, 0.0))
        # (rounded up, left53: a 3.9 s landing counted as 3 let an order expiring 3.5 s out
        # be matched, its settlement landing past its expiry, the operator paying the gas)
        self._slowest = min(float(MAX_LANDING), slowest[1])
        self._landing = math.ceil(self._slowest)
        self._until = slowest[0] + self.memory

    def add(
        self, submitted: list[float], t: FlightTimes, applied: float, incoming: list[str]
    ) -> None:
        """One batch whose matches were submitted at ``submitted`` (one time each), of the
        incoming orders ``incoming`` (their hashes: only the timeline uses them)."""
        n = len(submitted)
        if n == 0 or not (t.formed and t.queued and t.send_start and t.send_end and t.receipt):
            return  # (a batch that never went out: not a settlement's way)
        self.landed.append((time.monotonic(), t.receipt - t.formed))
        self._recount()
        if self.timeline is not None:
            self._write_timeline(submitted, t, applied, incoming)
        self.matches += n
        s = self.seconds
        s["queued"] += n * t.formed - sum(submitted)
        s["signed"] += n * (t.queued - t.formed)
        s["chain_wait"] += n * max(0.0, t.send_start - t.queued)
        s["send"] += n * (t.send_end - t.send_start)
        s["receipt"] += n * max(0.0, t.receipt - t.send_end)
        s["applied"] += n * (applied - t.receipt)

    def _write_timeline(
        self, submitted: list[float], t: FlightTimes, applied: float, incoming: list[str]
    ) -> None:
        signed = t.signed or t.formed
        stamps = (t.formed, signed, t.queued, t.send_start, t.send_end, t.receipt, applied)
        line = json.dumps({"incoming": incoming, "submitted": submitted, "batch": stamps})
        if self.timeline_bytes + len(line) + 1 > TIMELINE_MAX_BYTES:
            log.warning(
                "%s: %d bytes written, the timeline is off", TIMELINE_ENV, TIMELINE_MAX_BYTES
            )
            self.timeline = None
            return
        try:
            with open(self.timeline or "", "a", encoding="utf-8") as f:  # (debug only)
                f.write(line + "\n")
            self.timeline_bytes += len(line) + 1
        except OSError as e:  # not writable: debug output off, settlement goes on
            log.warning("%s: %s; the timeline is off", TIMELINE_ENV, e)
            self.timeline = None

    def mean_ms(self) -> dict[str, object]:
        """Each stage's mean milliseconds per match, and how many matches they average."""
        k = max(1, self.matches)
        return {
            "matches": self.matches,
            **{name: round(1000 * v / k, 3) for name, v in self.seconds.items()},
        }
