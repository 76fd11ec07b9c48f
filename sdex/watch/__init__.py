"""Chain events back into the book: fills, cancels, funds and expiry."""

from __future__ import annotations

from sdex.watch.changes import BlockChanges, ChainReset
from sdex.watch.watcher import Watcher, read_funds

__all__ = ["BlockChanges", "ChainReset", "Watcher", "read_funds"]
