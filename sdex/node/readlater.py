"""Reads of evicted orders a block's application makes (``NodeChainState._apply_block``: the
block's re-judged orders, ``_remined``'s, ``_closed_follow_chain``'s, the rechecks') that the
store refuses (a lasting disk error, a locked or damaged file): the order due a recheck, judged
by the chain's word once the store reads it, its row written before the watcher's head is saved
past the block (a kill keeps it due); logged once an order. store95 put off
``_closed_follow_chain``'s alone (memory only: a kill lost it, the record kept its stored
filled amount for good); store96: each of the others raised out of the block's application,
tried again and failing at each try while the store refused, the watcher stuck on that block."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping

from sdex.node.readpast import NodeReadPast
from sdex.node.registry import Record
from sdex.store import StoreError

log = logging.getLogger("sdex.node")
READ_LATER_SAID = 1024
"""Orders remembered as logged unread by ``_read_later`` (each logged once while it waits)."""
NAMED = 3
"""Orders a log line names at most (the others counted)."""
REFUSALS = (sqlite3.Error, StoreError)
"""What a store's read raises when it refuses (``Store.order_now``, ``orders_of``)."""


def why(e: BaseException) -> str:
    """A refusal's words, for the log."""
    return f"{type(e).__name__}: {e}"


class NodeReadLater(NodeReadPast):
    """Evicted orders a block could not read back, due a recheck till the store reads them."""

    _read_said: dict[bytes, None] | None = None
    """Orders whose refused rows ``_read_later`` logged, the last ``READ_LATER_SAID``."""

    def _load_or_later(self, h: bytes) -> Record | None:
        """``registry.load``, a store refusal (a lasting disk error, a locked or damaged
        file) put off: the order due a recheck (``_read_later``), None now. store96: a
        refusal raised out of the block's application, tried again and failing at each try
        while the store refused, the watcher stuck on that block (its head never saved)."""
        try:
            rec = self.registry.load(h)
        except REFUSALS as e:
            self._read_later({h: why(e)})
            return None
        if (said := self._read_said) is not None:
            said.pop(h, None)  # (read: a later refusal of it is said again)
        return rec

    def _read_later(self, refused: Mapping[bytes, str]) -> None:
        """Orders a block's application could not read back (the store refused their rows):
        due a recheck (``_recheck_settled``: judged by the chain's word, loaded back once
        the store reads; its row written before the watcher saves its head past the block,
        so a kill keeps them due: ``_recheck_stored``), logged once an order while it waits.
        The one path of every read ``_apply_block`` makes of an evicted order (the block's
        re-judged ones, ``_remined``'s, ``_closed_follow_chain``'s, the rechecks')."""
        self._recheck.add_all(h for h in refused if h not in self._recheck)
        said = self._read_said
        if said is None:
            said = self._read_said = {}
        new = [h for h in refused if h not in said]
        for h in new:
            said[h] = None
        while len(said) > READ_LATER_SAID:
            del said[next(iter(said))]
        if new:
            log.warning(
                "%d stored orders not read back (the store refused their rows): due a "
                "recheck, judged by the chain's word once it reads them: %s (%s)",
                len(new), ", ".join("0x" + h.hex() for h in new[:NAMED]),
                refused[new[0]][:200],
            )  # fmt: skip
