"""cancel45: what a bootstrapping node takes from a hostile seed's ``/p2p/cancelled`` pages.

review44 found that ``take_cancelled`` held any order its maker signed and cancelled: orders
of tokens the node does not list, below its minimums, never posted anywhere, each from a
fresh key (they cost the seed nothing). A seed wrote as many junk rows as its pages carried
at every boot; they were stored, listed in ``/v1/orders`` and served on to later joiners. And
every entry's two signature recoveries ran in one turn of the event loop (a page of 500: one
stall of the whole page).

A real node on the test's Hardhat; the seed a real aiohttp server on loopback that signs its
answers (``HostilePeer``); the node dials it as its only seed and walks its pages.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import sdex.ingest.verify
import sdex.node.intake
import sdex.node.peering
from sdex.node.core import Node
from sdex.order import address_of, sign_order
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for, with_minimums
from tests.test_hostile import HostilePeer, hello_answer
from tests.test_node import ALICE, E6, E18, ask

Entry = dict[str, str]


def fresh_entry(c: Chain, **kw: Any) -> tuple[str, Entry]:
    """A soft-cancelled ask of a maker nobody knows (a fresh key, never funded, the order
    never posted anywhere), both signatures its own: what a hostile seed makes for free."""
    key = os.urandom(32)
    order = replace(ask(c, ALICE, E18, 1000 * E6, **kw), maker=address_of(key))
    signed = sign_order(order, c.domain, key)
    sig = sign_cancel(c.domain, signed.hash, key)
    return signed.hash_hex, {**signed.to_json(), "cancelSignature": "0x" + sig.hex()}


def pages_of(entries: list[Entry]) -> Callable[[web.Request], object]:
    """``/p2p/cancelled`` as a node answers it: ``limit`` entries after the cursor."""

    def page(r: web.Request) -> object:
        after, limit = int(r.query.get("after", "0")), int(r.query.get("limit", "500"))
        return {"orders": entries[after : after + limit], "next": after + limit}

    return page


@pytest.fixture
def seed() -> HostilePeer:
    return HostilePeer({})


def serve_pages(seed: HostilePeer, entries: list[Entry]) -> None:
    seed.answers = {
        "/p2p/hello": hello_answer(seed),
        "/p2p/cancelled": pages_of(entries),
        "/p2p/snapshot": lambda _r: {"orders": [], "next": 0},
    }


async def walked(seed: HostilePeer) -> None:
    """The node walked the seed's cancelled pages: it went on to its open orders."""
    await wait_for(lambda: seed.calls.get("/p2p/snapshot", 0) >= 1, timeout=60)


async def status(api: Api, h: str) -> str | None:
    code, rec = await api.get(f"/v1/orders/{h}")
    return str(rec["metaData"]["status"]) if code == 200 else None


async def served_on(node: Node, want: int) -> list[Entry]:
    """The node's own ``/p2p/cancelled`` entries, once ``want`` rows are written (lazily)."""

    async def stored() -> bool:
        return len((await node.cancelled_page(0, 500, 1 << 22))[0]) >= want

    await wait_for(stored, timeout=20)
    return (await node.cancelled_page(0, 500, 1 << 22))[0]


async def test_a_hostile_seeds_junk_cancels_are_not_held(
    chain: Chain, tmp_path: Path, seed: HostilePeer
) -> None:
    c = chain
    good, good_entry = fresh_entry(c)
    unlisted, unlisted_entry = fresh_entry(c, maker_token="0x" + "5e" * 20)  # no such pair here
    dust, dust_entry = fresh_entry(c, maker_amount=1, taker_amount=1)  # below the minimums
    never, never_entry = fresh_entry(c, taker_amount=0)  # can never be filled: bad faith
    serve_pages(seed, [unlisted_entry, dust_entry, never_entry, good_entry])
    cfg = with_minimums(node_config(c, tmp_path / "n.db", peers=(seed.url,)), c, E18 // 100, E6)
    async with seed.serving(), running_node(cfg) as (node, api):
        await walked(seed)
        assert await status(api, good) == "cancelled"  # (the protection attack38 needs)
        for h in (unlisted, dust, never):  # before: unlisted and dust held as cancelled
            assert await status(api, h) is None, h
        assert [e["signature"] for e in await served_on(node, 1)] == [good_entry["signature"]]
        assert node.gossip is not None
        assert node.gossip.peers.standing(seed.key.node_id).invalid > 0  # (the bad-faith one)


async def test_one_peer_makes_a_node_store_at_most_its_bound_of_cancels(
    chain: Chain, tmp_path: Path, seed: HostilePeer
) -> None:
    """``Limits.max_cancelled_per_peer`` (10,000 by default; 5 here): fresh keys' orders for
    listed pairs pass every rule, so only a count bounds what one seed writes."""
    c = chain
    made = [fresh_entry(c) for _ in range(12)]
    serve_pages(seed, [e for _, e in made])
    cfg = node_config(c, tmp_path / "n.db", peers=(seed.url,))
    cfg = replace(cfg, limits=replace(cfg.limits, max_cancelled_per_peer=5))
    async with seed.serving(), running_node(cfg) as (node, api):
        await walked(seed)
        held = [h for h, _ in made if await status(api, h) == "cancelled"]
        assert held == [h for h, _ in made[:5]]  # before: all 12 (no bound)
        assert len(await served_on(node, 5)) == 5


class LoopRecoveries:
    """Signature recoveries made on the event loop's thread, counted per turn of the loop: a
    task that steps once a turn (``sleep(0)``) takes the count and keeps the largest. The
    real recoveries run; each call is only counted on its way through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.loop_thread = threading.get_ident()
        self.now = 0
        self.most = 0
        self.total = 0
        for module, name in (
            (sdex.node.peering, "recover_signer"),
            (sdex.node.intake, "recover_signer"),
            (sdex.ingest.verify, "signer_of"),
        ):
            real = getattr(module, name, None)
            if real is not None:
                monkeypatch.setattr(module, name, self._counted(real))

    def _counted(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            if threading.get_ident() == self.loop_thread:
                self.now += 1
                self.total += 1
            return real(*args)

        return counted

    async def watch(self, done: asyncio.Event) -> None:
        while not done.is_set():
            self.most, self.now = max(self.most, self.now), 0
            await asyncio.sleep(0)
        self.most = max(self.most, self.now)


PAGE = 200
"""Entries in the hostile page (a page may carry 500)."""


async def test_a_hostile_page_never_stalls_the_loop_for_all_its_recoveries(
    chain: Chain, tmp_path: Path, seed: HostilePeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: the most recoveries the loop makes in one turn while the node
    takes a page of ``PAGE`` valid entries (each two recoveries) stays at a slice's
    (``TAKE_SLICE`` entries, recovered on the loop only when no core is spare)."""
    c = chain
    serve_pages(seed, [fresh_entry(c)[1] for _ in range(PAGE)])
    cfg = node_config(c, tmp_path / "n.db", peers=(seed.url,))
    spy = LoopRecoveries(monkeypatch)
    done = asyncio.Event()
    watcher = asyncio.create_task(spy.watch(done))
    try:
        async with seed.serving(), running_node(cfg) as (node, _api):
            await walked(seed)
            await served_on(node, PAGE)
    finally:
        done.set()
        await watcher
    assert spy.most <= 2 * 16 + 4, (spy.most, spy.total)  # before: ~2 a entry, in one turn
