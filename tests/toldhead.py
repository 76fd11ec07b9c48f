"""A running node's send told a head far above the chain (watch87's phantom: ``before_send``'s
``eth_blockNumber`` answered once, ``PHANTOM`` blocks up), its proof's reads of the head apart
held or not (review88, watch87, watch88): the set-up they share.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sdex.node.core import Node
from tests.conftest import Chain
from tests.headsproxy import HeadsProxy
from tests.test_sign79_feed import head, proxied_node, until_applied

PHANTOM = 1_000
"""Blocks above the chain the send's one wrong ``eth_blockNumber`` answers."""


@asynccontextmanager
async def at_head(c: Chain, tmp: Path) -> AsyncIterator[tuple[HeadsProxy, Node, dict[str, Any]]]:
    """``proxied_node``'s proxy and node once the node applied the chain's head, and that
    head's block."""
    async with proxied_node(c, tmp) as (proxy, node):
        top = head(c)
        await until_applied(node.watcher, top)
        yield proxy, node, top


def wrong_head(proxy: HeadsProxy, node: Node, top: dict[str, Any], ahead: int = PHANTOM) -> int:
    """The send's next ask of the chain's head answered once ``ahead`` blocks past ``top`` (a
    wrong answer), the head heard long ago (the send asks it): the head it tells."""
    said = int(top["number"], 16) + ahead
    proxy.numbers = [hex(said)]
    node.watcher.unapplied.heard = 0.0
    return said


def proof_held(proxy: HeadsProxy, node: Node, top: dict[str, Any]) -> int:
    """``wrong_head``'s phantom, the proof's reads of the head apart held (``reads_apart``)
    while ``proxy.hold_ranges`` is set (set here): the head it tells."""
    proxy.holds, proxy.hold_ranges = reads_apart(proxy), True
    return wrong_head(proxy, node, top)


def reads_apart(proxy: HeadsProxy) -> Callable[[Any], bool]:
    """For ``proxy.holds``: whether a message is the head read again once the phantom is said
    (an ``eth_blockNumber`` after ``proxy.numbers``' answers are taken)."""

    def apart(msg: Any) -> bool:
        return (
            isinstance(msg, dict) and msg.get("method") == "eth_blockNumber" and not proxy.numbers
        )

    return apart
