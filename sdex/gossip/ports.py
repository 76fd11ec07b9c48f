"""What gossip needs from the node it serves, as small structural interfaces.

The node (``sdex.node.core.Node``) satisfies them without importing anything from here, and
so does the simulator's node (``sdex.sim``): gossip imports nothing from ``sdex.node``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Protocol


class OrderView(Protocol):
    """The node's open, gossiped orders, read by the gossip core (local state, no I/O)."""

    def knows(self, hash_hex: str) -> bool: ...

    def refused(self, peer: str, hash_hex: str) -> bool:
        """Whether ``peer``'s copy of ``hash_hex`` was rejected for good (not fetched from
        it again for a while: the node's intake would reject it again)."""
        ...

    def digest(self) -> list[str]:
        """256 buckets (by the hash's first byte), each the XOR of its open order hashes."""
        ...

    def hashes_in(self, buckets: Iterable[int]) -> list[str]:
        """The open gossiped orders' hashes (0x, lower-case hex) in ``buckets``, in bucket
        order, each bucket's sorted (a listing's run of an over-full bucket is a slice of
        it, not sorted again: ``sdex.gossip.listing``)."""
        ...

    def open_orders_by_hash(self, hashes: Iterable[str], max_bytes: int) -> list[dict[str, str]]:
        """The open orders among ``hashes``, in their order, as many as a JSON list of at
        most ``max_bytes`` holds (``sdex.gossip.payload.fits``)."""
        ...

    async def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        """For those of ``hashes`` soft-cancelled here, the maker's cancel as gossiped:
        ``{"orderHash", "signature"}`` (an asker takes one only for a hash it asked why of,
        named under ``orderHash``: ``sdex.gossip.flows.asked_cancels``)."""
        ...

    def snapshot_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        """Open orders with arrival sequence > ``after``, oldest first, at most ``limit`` and
        as many as a JSON list of at most ``max_bytes`` holds; and the next cursor (the last
        one's sequence: the rest come on the next page)."""
        ...


class NoticeResult(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def body(self) -> dict[str, object]: ...

    @property
    def stored(self) -> asyncio.Future[None] | None:
        """Resolves once what the answer rests on is committed (``StoreError`` if not)."""
        ...


class NodePort(OrderView, Protocol):
    """The node behind the aiohttp transport: its order view and its intake."""

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        """``accepted``, ``known``, ``rejected`` or ``forged`` (bad faith: the peer pays)."""
        ...

    def submit_each_from_peer(
        self, objs: list[object], peer: str | list[str], reading: Callable[[], object] | None
    ) -> AsyncGenerator[tuple[int, str], None]:
        """``submit_from_peer`` of each of ``objs`` (index, verdict), each as it is known:
        ``peer`` sent them all, or (a list) each one's sender (several peers' pushes checked
        together); ``reading`` called once if the orders with no verdict yet then wait only
        on chain reads. Raises what the intake raised (the verdicts yielded before stand)."""
        ...

    def known_copy(self, obj: object) -> bool:
        """Is ``obj`` exactly the JSON of an order the node holds? (no parse, no hash: what
        ``submit_from_peer`` would answer ``known`` at once)"""
        ...

    def signatures_on_loop(self) -> int:
        """How many signatures of peers' orders the node recovered on its loop so far (no
        core spare): their time is in the intake's steps (``metered.SIGNATURE_UNMEASURED``)."""
        ...

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> NoticeResult:
        """A peer's soft cancel; ``address``: the client address it came from ("": not
        known), what a stranger's kept cancels count against."""
        ...

    async def cancelled_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        """Soft-cancelled, unexpired orders with arrival sequence > ``after``, each its JSON
        and ``cancelSignature`` (the maker's signed cancel), paged as ``snapshot_page``."""
        ...

    async def take_cancelled_many(self, entries: list[object], peer: str) -> list[str]:
        """A page of a peer's ``cancelled_page`` entries: each held as cancelled if this node
        would hold the order and both signatures are its maker's (a forged one costs the
        peer); its verdicts (``accepted``, ``known``, ``rejected``, ``forged``)."""
        ...

    async def settlement_notice(self, tx_hash: str) -> bool: ...
