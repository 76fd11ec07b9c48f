"""The relayer node: HTTP API → intake → book/engine → settlement; watcher → book."""

from __future__ import annotations

from sdex.node.config import NodeConfig, RateLimit
from sdex.node.core import Node, SubmitResult

__all__ = ["Node", "NodeConfig", "RateLimit", "SubmitResult"]
