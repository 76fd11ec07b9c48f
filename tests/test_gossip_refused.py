"""Copies of orders the intake rejected for good are not fetched again every anti-entropy
round (``sdex.node.refused``): a real node on loopback against peers that speak the signed
/p2p/ protocol (``HostilePeer``: here an older version's node, and another that holds a
valid copy of the same order), and the bounded memory itself (property tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from sdex.gossip import GossipConfig
from sdex.ingest.rejections import RejectionCode
from sdex.model import MAX_SIGNATURE_BYTES
from sdex.node.refused import ANYONE, BODY, COPY, KEPT, Refused
from sdex.sim.orders import OrderSet
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_hostile import HostilePeer, hello_answer
from tests.test_node import ALICE, E6, E18, ask


class OfferingPeer:
    """A peer that holds ``orders`` open (hash -> the JSON it sends), offering them in its
    digest and hashes and sending them when fetched; counts each hash it sends."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.sent: dict[str, int] = {}
        self.peer = HostilePeer({})
        self.peer.answers = {
            "/p2p/hello": hello_answer(self.peer),
            "/p2p/snapshot": lambda _r: {"orders": [], "next": 0},
            "/p2p/digest": lambda _r: {"buckets": self._book().digest()},
            "/p2p/hashes": lambda _r: {"hashes": list(self.orders)},
            "/p2p/fetch": self._fetch,
        }

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
            rounds = older.calls("/p2p/hashes")
            # several more rounds with it, each a digest and its hashes (the bucket differs)
            await wait_for(lambda: older.calls("/p2p/hashes") >= rounds + 5, timeout=20)
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
            rounds = second.calls("/p2p/hashes")
            await wait_for(lambda: second.calls("/p2p/hashes") >= rounds + 5, timeout=20)
            rounds = first.calls("/p2p/hashes")
            await wait_for(lambda: first.calls("/p2p/hashes") >= rounds + 5, timeout=20)
            assert first.sent[h] <= 2 and second.sent.get(h, 0) <= 1, (first.sent, second.sent)


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
        kept = r.note(code, peer, h, now)
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
    r.note(RejectionCode.EXPIRED, "a", "0x1", 0.0)
    r.note(RejectionCode.SIGNATURE_TOO_LONG, "a", "0x2", 0.0)
    r.note(RejectionCode.EXPIRED, "b", "0x1", 1.0)  # noted again: the most recent
    r.note(RejectionCode.SIGNATURE_TOO_LONG, "a", "0x3", 1.0)
    assert r.holds("a", "0x1", 2.0) and r.holds("a", "0x3", 2.0)
    assert not r.holds("a", "0x2", 2.0) and len(r) == 2
    assert not r.note(RejectionCode.UNFUNDED, "a", "0x4", 2.0)  # (the node's state: not kept)
    assert not r.note(RejectionCode.CHAIN_UNAVAILABLE, "a", "0x4", 2.0)


def test_a_peers_flood_of_rejected_copies_evicts_no_other_peers_verdicts() -> None:
    """Harden12: the memory dropped the least recently noted verdict whoever it was
    charged to, so a hostile peer that sent over ``REFUSED_MAX`` junk copies (each a
    ``COPY`` verdict: a bad signature costs it nothing) evicted every verdict on the bodies
    an honest peer holds, and those were fetched and rejected again every round. Now the
    flood evicts its own."""
    r = Refused(seconds=1e9)
    honest = [f"0x{i:064x}" for i in range(1_000)]
    for h in honest:
        r.note(RejectionCode.TOKEN_NOT_SUPPORTED, "honest", h, 0.0)
    r.note(RejectionCode.SIGNATURE_TOO_LONG, "honest", "0x" + "ee" * 32, 0.0)
    for i in range(3 * r.capacity):  # junk copies, and junk bodies too
        code = RejectionCode.INVALID_SIGNATURE if i % 2 else RejectionCode.EXPIRED
        r.note(code, "hostile", f"0x{i + 1:062x}ff", 1.0)
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
        r.note(code, peer, h if body else f"{h}{i}", 0.0)
        assert len(r) <= 12
        for p, n in before.items():
            if p != peer and n * peers < 12:
                assert r.charged(p) == n, (p, before, peers)
