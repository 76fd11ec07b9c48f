"""An over-full bucket's listing and the spans a walk of it names (gossip77).

- review74b: a run of an over-full bucket sorted the bucket's hashes again, which the view
  hands over sorted (``OrderView.hashes_in``; 4.9 ms against 1.7 at 50,000 hashes): now cut
  from them as they are. Counted, not timed: the hash comparisons one listing makes.
- review76: a peer's ``range`` (and ``from``) took upper-case hex after the bucket's two
  digits; the asker compares spans as strings with its own lower-case hashes, and an
  upper-case digit sorts below every lower-case one (a span from ``0x07AA...`` took
  ``0x07a0...`` for inside it). A ``range`` not in lower-case hex is refused as a lie (no
  honest node writes one), a ``from`` is lower-cased or refused, each with its reason."""

from __future__ import annotations

import random
from typing import Any

import aiohttp
import pytest

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.client import PeerClient
from sdex.gossip.listing import MAX_LISTED, ceiling, floor, in_range, listing, starts_of
from sdex.sim.orders import OrderSet
from tests.p2putil import MemoryNode, serve_gossip

COMPARED = [0]


class Counted(str):
    """A hash that counts how often it is compared (sorting and bisecting compare by ``<``)."""

    def __lt__(self, other: object) -> bool:
        COMPARED[0] += 1
        return str.__lt__(self, other)  # type: ignore[operator]


OVER = MAX_LISTED + 4_000
"""Hashes in the over-full bucket 7."""


def test_an_over_full_buckets_run_is_cut_from_the_sorted_hashes_not_sorted_again() -> None:
    view = OrderSet(
        {"hash": Counted(f"0x07{i * 7_919:062x}")} for i in range(OVER)
    )  # (kept sorted as they come: ``OrderSet.add``)
    start = f"0x07{(OVER // 2) * 7_919:062x}"
    for starts in ({7: start}, None):
        COMPARED[0] = 0
        answer = listing(view, [7], MAX_LISTED, random.Random(1), starts)
        assert COMPARED[0] <= 64, COMPARED[0]  # before: ~OVER (a sort of the bucket)
        assert 0 < len(answer["hashes"]) <= MAX_LISTED and answer["range"][0] == 7
        assert answer["hashes"] == sorted(map(str, answer["hashes"]))


A = "0x07" + "a0" * 31
Z = "0x07" + "ff" * 31


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ([7, "0x07" + "AA" * 31, Z], "lower-case hex"),  # (review76: took A for inside)
        ([7, A, "0x07" + "FF" * 31], "lower-case hex"),
        ([7, "0x07" + "aA" * 31, Z], "lower-case hex"),
        ([7, "0X07" + "a0" * 31, Z], "lower-case hex"),
        ([7, "0x07" + "zz" * 31, Z], "lower-case hex"),
        ([7, "0x08" + "a0" * 31, Z], "lower-case hex"),
        ([7, A[:-1], Z], "lower-case hex"),
        ([7, 5, Z], "lower-case hex"),
        ([7, Z, A], "not be above"),
        ([8, A, Z], "a bucket asked"),
        ([7, A], r"\[bucket, first hash, last hash\]"),
        ("7", r"\[bucket, first hash, last hash\]"),
    ],
)
def test_a_range_not_in_lower_case_hex_of_its_bucket_is_refused(span: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        in_range({"range": span}, {7}, [])


def test_a_well_formed_range_is_taken() -> None:
    assert in_range({"range": [7, floor(7), ceiling(7)]}, {7}, []) == (7, floor(7), ceiling(7))
    assert in_range({"range": [7, A, Z]}, {7, 8}, [8]) == (7, A, Z)
    assert in_range({}, {7}, []) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([[7, "0x07" + "zz" * 31]], "64 hex digits"),  # (before: taken, and cut by)
        ([[7, "0x07" + "a0" * 30 + "g0"]], "64 hex digits"),
        ([[7, "0x07" + " 0" * 31]], "64 hex digits"),
        ([[7, "0y07" + "a0" * 31]], "64 hex digits"),
        ([[8, A]], "64 hex digits"),
        ([[7, A[:-1]]], "64 hex digits"),
        ([[7, 7]], "64 hex digits"),
        ([[256, A]], "0..255"),
        ([[True, A]], "0..255"),
        ([[7]], "pairs"),
        ("x", "at most 256"),
    ],
)
def test_a_malformed_from_is_refused_with_its_reason(raw: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        starts_of(raw)


@pytest.mark.parametrize("spelt", ["0x07" + "AA" * 31, "0X07" + "Aa" * 31, "0x07" + "aa" * 31])
def test_a_from_in_any_case_is_lower_cased(spelt: str) -> None:
    assert starts_of([[7, spelt]]) == {7: "0x07" + "aa" * 31}
    assert starts_of([[10, "0x0A" + "bb" * 31]]) == {10: "0x0a" + "bb" * 31}


async def test_a_peer_is_told_why_its_from_is_refused() -> None:
    """A real gossip driver on loopback answers a ``from`` of non-hex digits 400 with the
    reason (before: taken, and the run cut by it as a string)."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=MemoryNode)
    key = NodeKey.generate()
    assert member.gossip.peers.admit(key.node_id, "http://127.0.0.1:9") is not None
    body = {"buckets": [7], "from": [[7, "0x07" + "zz" * 31]]}
    try:
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, key, "http://127.0.0.1:9")
            to = member.gossip.node_id
            got = await client.call("POST", member.url, "/p2p/hashes", body, to=to)
    finally:
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    assert got.status == 400, got.body
    assert "64 hex digits" in got.body["reason"]
