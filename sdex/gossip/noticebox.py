"""A peer's box of cancel and settlement notices (``Outbox.notices``): sent oldest first, up to
``GossipConfig.notice_window`` in flight (one that failed goes again before any not sent
yet); no two identical notices in it, nor one identical to a notice the peer answered lately
(``DELIVERED``); bounded, a cancel kept over a settlement notice. A cancel dropped is lost to
the peer but for anti-entropy; a settlement notice only spares the peer a wait for its own
chain watcher (push92: a full box dropped new cancels, with settlement notices waiting in it).
Plain data, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from typing import Any

CANCELS = "cancels"
SETTLEMENTS = "settlements"
KINDS = (CANCELS, SETTLEMENTS)
"""The kinds of notice (a count by kind names one of these, else ``OTHER``: bounded labels)."""
OTHER = "other"
DELIVERED = 1024
"""Notices a box remembers its peer answered (taken, or refused for good), newest kept: an
identical one notified again is not queued (gossip93: a repeat went to the peer again, each
time, a round trip and the peer's store write for nothing). A 16-byte digest each, ~135 bytes
with the ordered dict's entry (review93c, tracemalloc): ~135 KiB a peer, ~9 MB for 64."""


def kind_label(kind: str) -> str:
    """``kind`` as a count's key: one of ``KINDS``, else ``OTHER``."""
    return kind if kind in KINDS else OTHER


def ident(kind: str, notice: dict[str, Any]) -> str:
    """What makes two notices the same (``NoticeBox.put`` keeps one): their kind and fields.
    (Notices are this node's, made after their checks: JSON, small.)"""
    return kind + json.dumps(notice, sort_keys=True, separators=(",", ":"))


class NoticeBox:
    """The notices waiting for one peer, oldest first; some of the first in flight."""

    def __init__(self) -> None:
        self._queue: deque[tuple[str, dict[str, Any], str]] = deque()
        self._idents: set[str] = set()
        self.settlements = 0
        """Settlement notices in the box (in step with every removal)."""
        self._flying: set[int] = set()
        """``id``s of the notices sent and not answered yet (each in the box: never dropped
        for room; held by its call meanwhile, so no other notice takes its id)."""
        self.dropped: dict[str, int] = {}
        """Notices dropped for want of room, by kind."""
        self._delivered: OrderedDict[bytes, None] = OrderedDict()
        """Digests of the idents of the notices the peer answered lately (``DELIVERED``)."""
        self.repeated: dict[str, int] = {}
        """Notices not queued, by kind: the same waited in the box, or was answered lately."""

    def __len__(self) -> int:
        return len(self._queue)

    def repeat(self, kind: str, key: str) -> bool:
        """Whether a notice ``key`` (``ident``) of ``kind`` waits in the box already, or was
        answered lately (``DELIVERED``): then counted (``repeated``), and not to be queued."""
        if key not in self._idents and _digest(key) not in self._delivered:
            return False
        label = kind_label(kind)
        self.repeated[label] = self.repeated.get(label, 0) + 1
        return True

    def put(self, kind: str, notice: dict[str, Any], key: str, most: int) -> str | None:
        """``notice`` (``ident``: ``key``) in, unless the box holds the same already. A full
        box (``most``) takes a cancel in the place of its oldest settlement notice not in
        flight; else the new notice is dropped. The kind dropped, if any (counted)."""
        if key in self._idents:
            return None
        gone: str | None = None
        if len(self._queue) >= most:
            if kind != CANCELS or not self._drop_settlement():
                gone = kind
                self.dropped[kind] = self.dropped.get(kind, 0) + 1
                return gone
            gone = SETTLEMENTS
            self.dropped[gone] = self.dropped.get(gone, 0) + 1
        self._queue.append((kind, notice, key))
        self._idents.add(key)
        self.settlements += kind == SETTLEMENTS
        return gone

    @property
    def flying(self) -> int:
        """Notices in flight."""
        return len(self._flying)

    def sendable(self) -> bool:
        """Whether a notice waits that is not in flight."""
        return len(self._flying) < len(self._queue)

    def send(self) -> tuple[str, dict[str, Any]]:
        """The oldest notice not in flight, now in flight (``sendable``: there is one; the
        look passes only those in flight)."""
        for kind, notice, _ in self._queue:
            if id(notice) not in self._flying:
                self._flying.add(id(notice))
                return kind, notice
        raise IndexError("no notice to send")

    def answered(self, notice: object, gone: bool) -> None:
        """``notice``'s answer came: it leaves if ``gone`` (taken, or refused for good) and
        still in the box (not cleared meanwhile), remembered (``DELIVERED``); else it waits
        to be sent again."""
        was = id(notice) in self._flying
        self._flying.discard(id(notice))
        if not (gone and was):  # (not in flight: cleared meanwhile, or answered already)
            return
        for i, (_, queued, key) in enumerate(self._queue):  # (among the first: sent first)
            if queued is notice:
                self._delivered[_digest(key)] = None
                if len(self._delivered) > DELIVERED:
                    self._delivered.popitem(last=False)
                self._remove(i)
                return

    def clear(self) -> None:
        """Empty (the peer banned or evicted): what it was answered forgotten too (a peer
        that comes back is sent a repeat again)."""
        self._delivered.clear()
        self._queue.clear()
        self._idents.clear()
        self.settlements = 0
        self._flying.clear()

    def _drop_settlement(self) -> bool:
        """Drop the oldest settlement notice not in flight; whether there was one."""
        if self.settlements == 0:
            return False
        for i, (kind, notice, _) in enumerate(self._queue):
            if kind == SETTLEMENTS and id(notice) not in self._flying:
                self._remove(i)
                return True
        return False

    def _remove(self, i: int) -> None:
        kind, _, key = self._queue[i]
        del self._queue[i]
        self._idents.discard(key)
        self.settlements -= kind == SETTLEMENTS


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()
