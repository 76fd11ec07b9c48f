"""Anti-entropy's hash listing (``POST /p2p/hashes``) is bounded whatever is asked
(hashes67; ``sdex.gossip.listing``): a node holding 200,000 gossiped orders answered a
request for all 256 buckets with every hash (13.8 MB, ~230 ms of its loop), more than any
asker reads (``MAX_ANSWER``): anti-entropy against a full node always failed, and any
stranger could ask it again and again on the strangers' budget of one token a request."""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import aiohttp
import pytest

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.actions import Call, Check, Scored
from sdex.gossip.client import MAX_ANSWER, PeerClient
from sdex.gossip.flows import bucket_of
from sdex.gossip.listing import LISTED_PER_TOKEN, MAX_LISTED, listing
from sdex.gossip.peers import INVALID_PENALTY
from sdex.node.core import Node
from sdex.node.heldrecord import Record
from sdex.order import SignedOrder
from sdex.sim.orders import OrderSet
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of
from tests.p2putil import Book, gossip_net
from tests.test_gossip_core import make, ok, only, peer_id, start_ae
from tests.test_node import ALICE, E6, E18, ask
from tests.test_stream import until

FULL = 200_000
"""Orders a full node holds (``max_orders``' default)."""
OVER_ANSWER = MAX_ANSWER // 64
"""Orders whose hashes, listed whole, are over what an asker reads (``MAX_ANSWER``): each
hash takes 69 bytes of the answer's JSON, 64 is less. The defect's size (a listing of every
hash an asker never read) at two thirds of ``FULL``: anti-entropy walks them in rounds of
``MAX_LISTED``, each walking every hash held, so the time goes about as the count's
square (suite86: 160 s a case of a loaded full run at ``FULL``)."""


def spread(i: int) -> str:
    """A hash for ``i``, spread over the 256 buckets as order hashes are."""
    return "0x" + hashlib.sha256(i.to_bytes(8, "big")).hexdigest()


def hold(node: Node, chain: Chain, n: int) -> None:
    """``n`` open, gossiped records in ``node``'s registry (its own ``admit`` and
    ``announce``), each under a hash of its own: only their hashes are listed here (the
    intake's signature checks cost ~100 us an order; the listing reads none of it)."""
    signed = chain.sign(ask(chain, ALICE, E18, 3000 * E6))
    registry = node.registry
    for i in range(n):
        one = SignedOrder(signed.order, signed.signature, bytes.fromhex(spread(i)[2:]))
        rec = Record(one, seq=10**9 + i, source="test")
        registry.admit(rec)
        registry.announce(rec)


async def test_a_strangers_listing_of_every_bucket_is_bounded_and_charged(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node holding 200,000 gossiped orders; a stranger (a key it never admitted)
    asks for all 256 buckets. The answer fits what an asker reads, lists at most
    ``MAX_LISTED`` hashes, whole buckets only (each bucket it names: every hash the node
    holds there), and each costs the strangers' shared budget by its size: a burst of them
    is refused (429) after ~``burst * LISTED_PER_TOKEN / MAX_LISTED`` answers (and what the
    budget refills meanwhile), not ``burst``."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        assert node.gossip is not None
        hold(node, chain, FULL)
        assert len(node.hashes_in(range(256))) == FULL
        stranger = NodeKey.generate()
        body = {"buckets": list(range(256))}
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, stranger, "http://127.0.0.1:9")
            to = node.gossip.key.node_id
            start = time.monotonic()  # (the budget refills from the first answer's charge)
            got = await client.call("POST", url_of(node), "/p2p/hashes", body, to=to)
            assert got.status == 200
            hashes, done = got.body["hashes"], got.body["buckets"]
            assert 0 < len(hashes) <= MAX_LISTED and done
            assert sorted(hashes) == sorted(node.hashes_in(done))  # (whole buckets)
            assert {bucket_of(h) for h in hashes} == set(done)
            # the strangers' budget (a quarter of the peers': 1,000 at once, 500 a second)
            # pays for the hashes listed, not the requests: a full answer costs 1 + 128
            limit = node.config.peer_rate_limit
            burst, rate = limit.burst // 4, limit.rate / 4
            cost = 1 + len(hashes) / LISTED_PER_TOKEN
            answered = 1
            for _ in range(burst):
                got = await client.call("POST", url_of(node), "/p2p/hashes", body, to=to)
                if got.status == 429:
                    break
                assert got.status == 200
                answered += 1
            refilled = rate * (time.monotonic() - start)
            assert answered <= (burst + refilled) / cost + 1 < burst


def test_a_bucket_over_the_bound_alone_is_a_run_named_in_no_bucket() -> None:
    """Hashes ground into one first byte (a bucket over ``MAX_LISTED`` alone): a run of
    it, from a random place, and the bucket is not named whole (gossip70: the run's span
    is, ``range``); the buckets asked before it that fit are answered whole."""
    ground = [f"0x07{i:062x}" for i in range(MAX_LISTED + 500)]
    view = OrderSet({"hash": h} for h in [*ground, spread(1), spread(2)])
    other = bucket_of(spread(1))
    got = listing(view, [7, other], rng=random.Random(3))
    assert got["buckets"] == [] and 0 < len(got["hashes"]) <= MAX_LISTED
    assert set(got["hashes"]) <= set(ground) and got["range"][0] == 7
    got = listing(view, [other, 7])
    assert got == {"hashes": view.hashes_in([other]), "buckets": [other]}
    assert listing(view, [other, other]) == got  # (a bucket asked twice: listed once)


@pytest.mark.parametrize("streams", [True, False])
async def test_anti_entropy_with_a_full_node_converges(streams: bool) -> None:
    """``b`` holds ``OVER_ANSWER`` orders ``a`` lacks (none pushed, none in a snapshot),
    more than a listing of them all fits in what ``a`` reads; both may hold ``FULL``. Real
    gossip drivers on loopback, over streams or HTTP. Anti-entropy brings ``a`` them all
    (before: every listing was over what ``a`` reads, and ``a`` never got one)."""
    cfg = GossipConfig(
        dial_interval=0.1, ae_interval=0.05, ae_max_fetches=32, batch_max=1000, streams=streams
    )
    async with gossip_net(2, [cfg] * 2) as (a, b):
        a.gossip.core.max_orders = b.gossip.core.max_orders = FULL
        for i in range(OVER_ANSWER):
            b.node.add({"hash": spread(i)})
        await until(lambda: len(a.node.orders) == OVER_ANSWER, 240)
        assert a.node.digest() == b.node.digest()


def test_the_asker_judges_only_the_buckets_answered_whole() -> None:
    """This core holds two orders (two buckets) its peer lacks; the peer answers one of the
    buckets whole and leaves the other for the next round: the core asks why of the order
    in that one only (before, every asked bucket was taken as answered: it asked why of
    both, and judged the other by hashes it was never shown). A bucket named that was not
    asked is a lie that costs the peer."""
    ours = [{"hash": spread(1)}, {"hash": spread(3)}]
    x, y = bucket_of(spread(1)), bucket_of(spread(3))
    assert x != y
    core, clock = make(peers=1, book=Book(ours))
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": Book().digest()}), "hashes")
    assert sorted(hashes.body["buckets"]) == sorted([x, y])
    fetch = only(ok(core, hashes, {"hashes": [], "buckets": [x]}), "fetch")
    assert fetch.body == {"hashes": [], "why": [spread(1)]}
    core, clock = make(peers=1, book=Book(ours))
    hashes = only(ok(core, start_ae(core, clock), {"buckets": Book().digest()}), "hashes")
    unasked = next(b for b in range(256) if b not in (x, y))
    actions = ok(core, hashes, {"hashes": [], "buckets": [x, unasked]})
    assert [a for a in actions if isinstance(a, Scored)] == [Scored(peer_id(1), -INVALID_PENALTY)]
    assert not [a for a in actions if isinstance(a, Call | Check)]  # the round ends
