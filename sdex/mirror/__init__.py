"""The chain mirror: this node's own reading of the Exchange and the listed tokens."""

from __future__ import annotations

from sdex.mirror.state import Account, Effects, Header, Mirror, OwnReceipt

__all__ = ["Account", "Effects", "Header", "Mirror", "OwnReceipt"]
