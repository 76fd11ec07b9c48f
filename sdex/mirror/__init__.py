"""The chain mirror: this node's own reading of the Exchange and the listed tokens."""

from __future__ import annotations

from sdex.mirror.blocks import Effects, Header
from sdex.mirror.own import Account, OwnReceipt
from sdex.mirror.state import Mirror

__all__ = ["Account", "Effects", "Header", "Mirror", "OwnReceipt"]
