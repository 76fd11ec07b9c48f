"""Chain events back into the book: fills, cancels, funds and expiry."""

from __future__ import annotations

from sdex.watch.changes import BlockChanges, ChainReset
from sdex.watch.funds import FundsRead, read_funds
from sdex.watch.watcher import Watcher

__all__ = ["BlockChanges", "ChainReset", "FundsRead", "Watcher", "read_funds"]
