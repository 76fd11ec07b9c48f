"""Helpers for asyncio futures shared by packages that may not import each other."""

from __future__ import annotations

import asyncio
from typing import Any


def retrieved(fut: asyncio.Future[Any]) -> None:
    """A done callback: the future's failure is someone else's to see (or nobody's: a read
    left behind when the chain hung), never logged as "exception was never retrieved"."""
    if not fut.cancelled():
        fut.exception()
