"""Left50 (review48): a ``RESTRICTED_LIMIT`` verdict on a peer's copy was not kept, so a
peer holding a restricted order this node refuses for its bounds offered it in every
anti-entropy round and this node fetched, parsed, hashed and refused it again each round
(two full nodes did so to each other's orders for ever). Now the verdict is kept
(``sdex.node.refused.STATE``) while no restricted order here has closed or parked since:
a freed slot makes the next round fetch it again, once, and take it."""

from __future__ import annotations

from pathlib import Path

from sdex.gossip import GossipConfig
from sdex.ingest import Limits
from sdex.ingest.rejections import RejectionCode
from sdex.node.refused import Refused
from sdex.order import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_gossip_refused import OfferingPeer
from tests.test_node import ALICE, E6, E18, ask

NOBODY = "0x" + "33" * 20
"""The taker the restricted orders name: an address that never trades."""
GOSSIP = GossipConfig(ae_interval=0.1, dial_interval=0.1, streams=False)
ROUNDS = 8


async def test_a_peers_restricted_order_refused_for_the_bounds_is_not_fetched_every_round(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    orders = [c.sign(ask(c, ALICE, E18, (3000 + i) * E6, taker=NOBODY)) for i in range(2)]
    peer = OfferingPeer()  # holds both (the maker's bound here is one)
    peer.peer.answers["/p2p/cancels"] = lambda _r: {}  # (the cancel pushed: taken)
    for o in orders:
        peer.orders[o.hash_hex.lower()] = o.to_json()
    async with peer.peer.serving():
        limits = Limits(max_restricted_per_maker=1)
        cfg = node_config(
            c, tmp_path / "n.db", peers=(peer.peer.url,), gossip=GOSSIP, limits=limits
        )
        async with running_node(cfg) as (node, api):
            await wait_for(lambda: len(peer.sent) == 2 and any(map(node.knows, peer.sent)))
            held, offered = sorted(orders, key=lambda o: not node.knows(o.hash_hex.lower()))
            h = offered.hash_hex.lower()
            rounds = peer.calls("/p2p/digest")
            await wait_for(lambda: peer.calls("/p2p/digest") >= rounds + ROUNDS, timeout=30)
            print(f"refused copy fetched {peer.sent[h]} times in {ROUNDS}+ rounds")
            assert peer.sent[h] <= 2, peer.sent  # (one more may have been in flight)
            assert not node.knows(h)
            # the held one cancelled: the slot is free, the offered order fetched and taken
            sig = sign_hash(c.domain.cancel_digest(held.hash), c.keys[ALICE])
            path = f"/v1/orders/{held.hash_hex}/cancel"
            assert (await api.post(path, {"signature": "0x" + sig.hex()}))[0] == 200
            await wait_for(lambda: node.knows(h), timeout=20)


def test_a_state_verdict_lasts_while_the_epoch_stands() -> None:
    """The memory itself: a ``RESTRICTED_LIMIT`` verdict holds for every copy of the hash
    until the epoch moves (a restricted order closed or parked here), then is dropped."""
    epoch = [0]
    r = Refused(epoch=lambda: epoch[0])
    h = "0x" + "ab" * 32
    assert r.note(RejectionCode.RESTRICTED_LIMIT, "p", h, 0.0, since=r.chain_epoch)
    assert r.holds("p", h, 1.0) and r.holds("q", h, 1.0)
    epoch[0] += 1
    assert not r.holds("p", h, 1.0)
    assert len(r) == 0 and r.charged("p") == 0 and r.charged("q") == 0
    # other verdicts that depend on this node's state are still not kept
    assert not r.note(RejectionCode.MAKER_LIMIT, "p", h, 0.0, since=r.chain_epoch)
    # a body verdict on the same hash is not undone by the epoch
    assert r.note(RejectionCode.RESTRICTED_LIMIT, "p", h, 0.0, since=r.chain_epoch)
    assert r.note(RejectionCode.EXPIRED, "p", h, 0.0, since=r.chain_epoch)
    epoch[0] += 1
    assert r.holds("p", h, 1.0)
