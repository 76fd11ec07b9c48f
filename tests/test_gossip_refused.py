"""Copies of orders the intake rejected for good are not fetched again every anti-entropy
round (``sdex.node.refused``): a real node on loopback against peers that speak the signed
/p2p/ protocol (``HostilePeer``: here an older version's node, and another that holds a
valid copy of the same order), and the bounded memory itself (property tests)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

import sdex.node.peerintake as intake_module
from sdex.gossip import GossipConfig
from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.model import MAX_SIGNATURE_BYTES
from sdex.node.refused import ANYONE, BODY, COPY, KEPT, STRANGERS, Refused
from sdex.order import sign_order
from sdex.sim.orders import OrderSet
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_hostile import Answer, HostilePeer, hello_answer
from tests.test_node import ALICE, E6, E18, ask


class OfferingPeer:
    """A peer that holds ``orders`` open (hash -> the JSON it sends), offering them in its
    digest and hashes and sending them when fetched; counts each hash it sends."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.sent: dict[str, int] = {}
        self.peer = HostilePeer({})
        self.answered: dict[str, int] = {}
        """Bytes of the JSON answers each path sent (as ``HostilePeer`` encodes them)."""
        self.peer.answers = {
            "/p2p/hello": hello_answer(self.peer),
            "/p2p/snapshot": lambda _r: {"orders": [], "next": 0},
            "/p2p/digest": self._counted("/p2p/digest", self._digest),
            "/p2p/hashes": self._counted("/p2p/hashes", self._hashes),
            "/p2p/fetch": self._counted("/p2p/fetch", self._fetch),
        }

    def _counted(self, path: str, answer: Callable[[web.Request], Any]) -> Answer:
        async def counted(r: web.Request) -> object:
            got = answer(r)
            body = await got if asyncio.iscoroutine(got) else got
            self.answered[path] = self.answered.get(path, 0) + len(json.dumps(body))
            return body

        return counted

    def _digest(self, _r: web.Request) -> object:
        return {"buckets": self._book().digest()}

    async def _hashes(self, r: web.Request) -> object:
        wanted = set((await r.json())["buckets"])
        return {"hashes": [h for h in self.orders if int(h[2:4], 16) in wanted]}

    def _book(self) -> OrderSet:
        return OrderSet([{"hash": h} for h in self.orders])

    async def _fetch(self, r: web.Request) -> object:
        want = (await r.json())["hashes"]
        out = [self.orders[h] for h in want if h in self.orders]
        for h in want:
            if h in self.orders:
                self.sent[h] = self.sent.get(h, 0) + 1
        return {"orders": out, "cancels": []}

    def calls(self, path: str) -> int:
        return self.peer.calls.get(path, 0)


def padded(order: dict[str, Any], n: int) -> dict[str, Any]:
    """``order`` with its signature padded to ``n`` bytes (as an older version took it)."""
    sig = bytes.fromhex(order["signature"][2:])
    return {**order, "signature": "0x" + (sig + b"\x01" * (n - len(sig))).hex()}


GOSSIP = GossipConfig(ae_interval=0.1, dial_interval=0.1, streams=False)


async def test_an_older_peers_over_long_copy_is_fetched_once_and_a_valid_copy_still_taken(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: an older version's node holds an order whose signature is over
    ``MAX_SIGNATURE_BYTES``; an upgraded node fetched it in every anti-entropy round with
    it and rejected it again (``SIGNATURE_TOO_LONG``), forever. Now it is fetched once. The
    verdict is the copy's (its signature), kept for that peer only: another peer's valid
    copy of the same order (same hash, the maker's own signature) is fetched and booked."""
    c = chain
    signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
    h = signed.hash_hex.lower()
    older, other = OfferingPeer(), OfferingPeer()
    older.orders[h] = padded(signed.to_json(), MAX_SIGNATURE_BYTES + 1)
    async with older.peer.serving(), other.peer.serving():
        cfg = node_config(
            c, tmp_path / "n.db", peers=(older.peer.url, other.peer.url), gossip=GOSSIP
        )
        async with running_node(cfg) as (node, _api):
            await wait_for(lambda: older.sent.get(h, 0) >= 1, timeout=20)
            rounds = older.calls("/p2p/digest")
            # several more rounds with it (the bucket differs: quiet, not asked again)
            await wait_for(lambda: older.calls("/p2p/digest") >= rounds + 5, timeout=20)
            assert older.sent[h] <= 2, older.sent  # (one more may have been in flight)
            assert not node.knows(h)
            other.orders[h] = signed.to_json()  # a valid copy, on another peer
            await wait_for(lambda: node.knows(h), timeout=20)
            assert other.sent[h] >= 1
            rec = node.registry.get(signed.hash)
            assert rec is not None and rec.signed.signature == signed.signature


async def test_an_expired_order_is_fetched_from_no_peer_again(chain: Chain, tmp_path: Path) -> None:
    """A verdict on the order's body (expired here, still open on a peer whose view lags)
    holds for every copy of that hash: once one peer's copy was rejected, no peer is asked
    for it again (for ``REFUSED_SECONDS``)."""
    c = chain
    past = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=1_000_000))
    h = past.hash_hex.lower()
    first, second = OfferingPeer(), OfferingPeer()
    first.orders[h] = past.to_json()
    async with first.peer.serving(), second.peer.serving():
        cfg = node_config(
            c, tmp_path / "n.db", peers=(first.peer.url, second.peer.url), gossip=GOSSIP
        )
        async with running_node(cfg):
            await wait_for(lambda: first.sent.get(h, 0) >= 1, timeout=20)
            second.orders[h] = past.to_json()
            rounds = second.calls("/p2p/digest")
            await wait_for(lambda: second.calls("/p2p/digest") >= rounds + 5, timeout=20)
            rounds = first.calls("/p2p/digest")
            await wait_for(lambda: first.calls("/p2p/digest") >= rounds + 5, timeout=20)
            assert first.sent[h] <= 2 and second.sent.get(h, 0) <= 1, (first.sent, second.sent)


async def test_a_bucket_that_differs_only_by_rejected_orders_is_not_asked_again(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden12: once every order a peer offers in a bucket was rejected for good here, the
    bucket still differed, so every anti-entropy round with that peer asked its hashes
    (``/p2p/hashes``: a call, and every hash of those buckets in its answer) to fetch
    nothing. Now such a bucket is quiet while both digests and the verdicts stay: a round
    is the digest alone. A new order in a quiet bucket is still fetched."""
    c = chain
    peer = OfferingPeer()
    expired = [c.sign(ask(c, ALICE, E18, (3000 + i) * E6, expiry=1_000_000)) for i in range(200)]
    for s in expired:
        peer.orders[s.hash_hex.lower()] = s.to_json()
    async with peer.peer.serving():
        cfg = node_config(c, tmp_path / "n.db", peers=(peer.peer.url,), gossip=GOSSIP)
        async with running_node(cfg) as (node, _api):
            await wait_for(lambda: len(peer.sent) == len(expired), timeout=30)
            await wait_for(lambda: peer.calls("/p2p/digest") >= 2, timeout=20)
            paths = ("/p2p/digest", "/p2p/hashes", "/p2p/fetch")
            calls = {p: peer.calls(p) for p in paths}
            sent = dict(peer.answered)
            await wait_for(lambda: peer.calls("/p2p/digest") >= calls["/p2p/digest"] + 10)
            rounds = peer.calls("/p2p/digest") - calls["/p2p/digest"]
            per_round = {
                p: (
                    (peer.calls(p) - calls[p]) / rounds,
                    (peer.answered.get(p, 0) - sent.get(p, 0)) / rounds,
                )
                for p in paths
            }
            print(f"per anti-entropy round (calls, answer bytes), {len(expired)} rejected:")
            print(json.dumps(per_round))
            assert peer.calls("/p2p/hashes") <= calls["/p2p/hashes"] + 1, per_round
            assert peer.calls("/p2p/fetch") <= calls["/p2p/fetch"] + 1, per_round
            # a valid order in a quiet bucket: its digest moved, so it is asked and taken
            fresh = next(
                s
                for s in (c.sign(ask(c, ALICE, E18, (4000 + i) * E6)) for i in range(5000))
                if s.hash_hex[2:4].lower() == expired[0].hash_hex[2:4].lower()
            )
            peer.orders[fresh.hash_hex.lower()] = fresh.to_json()
            await wait_for(lambda: node.knows(fresh.hash_hex.lower()), timeout=20)


class _NoSecondParse:
    """``sdex.node.peerintake.Order`` while a rejected copy's verdict is kept: that copy was
    parsed and hashed by the intake already, so ``_refuse`` must not parse it again."""

    @staticmethod
    def from_json(_obj: object) -> None:
        raise AssertionError("the copy was parsed a second time to key its verdict")


async def test_a_copy_rejected_for_good_is_hashed_once_by_the_intake(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Harden12: a peer's copy the intake rejected (parsed and hashed there) was parsed and
    hashed again to key its verdict (``_refuse``). Now the rejection names the hash the
    intake computed, for every verdict kept on a copy that parsed, and that is the key."""
    c = chain
    base = c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6)
    cases = {
        RejectionCode.EXPIRED: c.sign(replace(base, expiry=1)),
        RejectionCode.INVALID_AMOUNTS: c.sign(replace(base, maker_amount=0)),
        RejectionCode.TOKEN_NOT_SUPPORTED: c.sign(replace(base, taker_token="0x" + "12" * 20)),
        RejectionCode.TAKER_NEVER_TRADES: c.sign(replace(base, taker=base.maker)),
        RejectionCode.INVALID_SIGNATURE: sign_order(base, c.domain, c.keys[2]),
    }
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        assert node.gossip is not None
        assert node.gossip.peers.admit("p", "http://127.0.0.1:9") is not None
        for code, signed in cases.items():
            result = await node.peer_intake.submit(signed.to_json(), check_fee=False)
            assert isinstance(result, Rejection) and result.code is code, (code, result)
            assert result.order_hash == c.domain.order_hash(signed.order), code
            with monkeypatch.context() as m:
                m.setattr(intake_module, "Order", _NoSecondParse)
                outcome = await node.submit_from_peer(signed.to_json(), "p")
            assert outcome in ("rejected", "forged")
            assert node.refused("p", signed.hash_hex), code


async def test_a_strangers_rejected_copies_are_charged_to_strangers_together(
    chain: Chain, tmp_path: Path
) -> None:
    """Review13: every key not in the peer table (free to make) was charged as its own
    peer, so a flood of one copy per new key pushed each real peer down to an "equal share"
    of about one verdict. Now strangers share one owner, and only their body verdicts are
    kept (anti-entropy asks no stranger: a verdict on a stranger's own copy spares nothing)."""
    c = chain
    base = c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6)
    expired = c.sign(replace(base, expiry=1))
    forged = sign_order(replace(base, salt=base.salt + 1), c.domain, c.keys[2])
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        assert await node.submit_from_peer(expired.to_json(), "stranger-1") == "rejected"
        # (its charge waits for a later block: signer78)
        assert await node.submit_from_peer(forged.to_json(), "stranger-2") == "rejected"
        refusals = node.refusals
        assert refusals.charged(STRANGERS) == 1 and len(refusals) == 1
        assert refusals.charged("stranger-1") == refusals.charged("stranger-2") == 0
        assert node.refused("anyone", expired.hash_hex)  # a body verdict: every copy
        assert not node.refused("stranger-2", forged.hash_hex)


# ---- the memory itself --------------------------------------------------------------------------

CODES = st.sampled_from(list(RejectionCode))
HASHES = st.integers(0, 30).map(lambda i: f"0x{i:064x}")
PEERS = st.sampled_from(["a", "b", "c"])


@given(st.lists(st.tuples(CODES, PEERS, HASHES, st.floats(0, 50)), max_size=60))
def test_refused_is_bounded_and_keys_each_verdict_by_what_decides_it(
    notes: list[tuple[RejectionCode, str, str, float]],
) -> None:
    r = Refused(capacity=8, seconds=10.0)
    now = 0.0
    for code, peer, h, dt in notes:
        now += dt
        kept = r.note(code, peer, h, now, since=r.chain_epoch)
        assert kept == (code in KEPT)
        assert len(r) <= 8
        if code in BODY:  # any peer's copy of that body
            assert all(r.holds(p, h, now) for p in ("a", "b", "c", "z"))
        elif code in COPY:  # that peer's copy only (unless its body was refused too)
            assert r.holds(peer, h, now)
            if not r.holds(ANYONE, h, now):
                assert not r.holds("z", h, now)
    for _, peer, h, _ in notes:  # each expired by then: judged again
        assert not r.holds(peer, h, now + 10.0)


def test_refused_forgets_the_least_recently_noted_first() -> None:
    r = Refused(capacity=2, seconds=10.0)
    r.note(RejectionCode.EXPIRED, "a", "0x1", 0.0, since=r.chain_epoch)
    r.note(RejectionCode.SIGNATURE_TOO_LONG, "a", "0x2", 0.0, since=r.chain_epoch)
    # noted again: the most recent
    r.note(RejectionCode.EXPIRED, "b", "0x1", 1.0, since=r.chain_epoch)
    r.note(RejectionCode.SIGNATURE_TOO_LONG, "a", "0x3", 1.0, since=r.chain_epoch)
    assert r.holds("a", "0x1", 2.0) and r.holds("a", "0x3", 2.0)
    assert not r.holds("a", "0x2", 2.0) and len(r) == 2
    # (the node's state: not kept)
    assert not r.note(RejectionCode.UNFUNDED, "a", "0x4", 2.0, since=r.chain_epoch)
    assert not r.note(RejectionCode.CHAIN_UNAVAILABLE, "a", "0x4", 2.0, since=r.chain_epoch)


def test_a_peers_flood_of_rejected_copies_evicts_no_other_peers_verdicts() -> None:
    """Harden12: the memory dropped the least recently noted verdict whoever it was
    charged to, so a hostile peer that sent over ``REFUSED_MAX`` junk copies (each a
    ``COPY`` verdict: a bad signature costs it nothing) evicted every verdict on the bodies
    an honest peer holds, and those were fetched and rejected again every round. Now the
    flood evicts its own."""
    r = Refused(seconds=1e9)
    honest = [f"0x{i:064x}" for i in range(1_000)]
    for h in honest:
        r.note(RejectionCode.TOKEN_NOT_SUPPORTED, "honest", h, 0.0, since=r.chain_epoch)
    r.note(RejectionCode.SIGNATURE_TOO_LONG, "honest", "0x" + "ee" * 32, 0.0, since=r.chain_epoch)
    for i in range(3 * r.capacity):  # junk copies, and junk bodies too
        code = RejectionCode.INVALID_SIGNATURE if i % 2 else RejectionCode.EXPIRED
        r.note(code, "hostile", f"0x{i + 1:062x}ff", 1.0, since=r.chain_epoch)
        assert len(r) <= r.capacity
    assert all(r.holds("anyone", h, 2.0) for h in honest)
    assert r.holds("honest", "0x" + "ee" * 32, 2.0)
    assert r.charged("hostile") == r.capacity - len(honest) - 1


@given(
    st.lists(st.tuples(st.booleans(), st.sampled_from(["a", "b", "c", "d"]), HASHES), max_size=80)
)
def test_a_peer_under_an_equal_share_is_never_evicted(
    notes: list[tuple[bool, str, str]],
) -> None:
    """Whatever the others note, a peer charged with fewer than ``capacity / peers``
    verdicts (peers: those charged with any) loses none of them to eviction."""
    r = Refused(capacity=12, seconds=1e9)
    for i, (body, peer, h) in enumerate(notes):
        code = RejectionCode.EXPIRED if body else RejectionCode.INVALID_SIGNATURE
        before = {p: r.charged(p) for p in "abcd"}
        peers = sum(1 for n in before.values() if n) + (before[peer] == 0)
        r.note(code, peer, h if body else f"{h}{i}", 0.0, since=r.chain_epoch)
        assert len(r) <= 12
        for p, n in before.items():
            if p != peer and n * peers < 12:
                assert r.charged(p) == n, (p, before, peers)


def test_a_flood_from_new_keys_evicts_no_peers_verdicts() -> None:
    """Review13: one junk copy from each of 30,000 new keys (strangers) left three honest
    peers with 1-2 verdicts of 2,000 each (under an equal share); now strangers are one
    owner and evict their own."""
    r = Refused(seconds=1e9)
    honest = {p: [f"0x{p}{i:062x}" for i in range(2_000)] for p in ("a1", "b2", "c3")}
    for p, hashes in honest.items():
        for h in hashes:
            r.note(RejectionCode.TOKEN_NOT_SUPPORTED, p, h, 0.0, since=r.chain_epoch)
    for i in range(3 * r.capacity):
        code = RejectionCode.EXPIRED if i % 2 else RejectionCode.INVALID_SIGNATURE
        r.note(code, f"key-{i}", f"0xff{i:062x}", 1.0, stranger=True, since=r.chain_epoch)
        assert len(r) <= r.capacity
    assert all(r.charged(p) == 2_000 for p in honest)
    assert all(r.holds(p, h, 2.0) for p, hashes in honest.items() for h in hashes)
    assert r.charged(STRANGERS) == r.capacity - 6_000


def test_a_body_verdict_is_charged_to_the_peer_it_spares() -> None:
    """Review13: a hostile peer that pushed first the expired bodies an honest peer holds
    owned their verdicts, then evicted them with its own flood (its least recently noted go
    first), and the honest peer's copies were fetched again every round. Now a body verdict
    that spares a peer's copy in anti-entropy is charged to that peer."""
    r = Refused(capacity=2_000, seconds=1e9)
    held = [f"0x{i:064x}" for i in range(1_000)]
    for h in held:  # the hostile peer pushes them first
        r.note(RejectionCode.EXPIRED, "hostile", h, 0.0, since=r.chain_epoch)
    assert all(r.holds("honest", h, 1.0) for h in held)  # anti-entropy with the honest peer
    assert r.charged("honest") == 1_000 and r.charged("hostile") == 0
    for i in range(3 * r.capacity):
        r.note(
            RejectionCode.INVALID_SIGNATURE, "hostile", f"0xee{i:062x}", 2.0, since=r.chain_epoch
        )
    assert all(r.holds("honest", h, 3.0) for h in held)
