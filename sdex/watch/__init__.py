"""Chain events back into the book: fills, cancels, funds and expiry."""

from __future__ import annotations

from sdex.watch.watcher import BlockChanges, Watcher

__all__ = ["BlockChanges", "Watcher"]
