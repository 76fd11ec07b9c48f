"""Anti-entropy fetches whose answer is too large to carry (``frames.TOO_LARGE``): real
gossip drivers on loopback, their streams, in-memory nodes (``tests.p2putil``). The batch
is asked again in halves (review, Low: the peer was failed, and each anti-entropy round
asked the same oversized batch again), within a budget a round; one order too large alone
is a lie that costs the peer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.gossip import GossipConfig
from sdex.gossip.actions import TOO_LARGE, TOO_LARGE_REASON, Action, Call, Check, Reply, Scored
from sdex.gossip.client import ANSWER_ROOM, MAX_ANSWER
from sdex.gossip.core import GossipCore
from sdex.gossip.flows import halves, split_budget
from sdex.gossip.payload import dumps, fits, json_size
from sdex.gossip.peers import INVALID_PENALTY, Peer
from sdex.gossip.stream import MAX_P2P_BODY
from sdex.model import MAX_ORDER_JSON, MAX_SIGNATURE_BYTES
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.p2putil import Book, gossip_net, order
from tests.test_gossip_core import make, ok, only, peer_id, start_ae
from tests.test_node import ALICE, E6, E18, ask
from tests.test_stream import open_link, until

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)


@pytest.mark.parametrize("whole", [True, False])
async def test_a_fetch_too_large_is_asked_again_in_halves(whole: bool) -> None:
    """``b`` holds nine orders of 1 MiB (together over what a frame carries); ``a`` lacks
    them all. Anti-entropy brings ``a`` the nine, in halves if ``b`` answers ``whole`` (a
    node before answers were filled by bytes), else in what fits and the rest next round;
    ``b`` is neither failed nor charged."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        b.node.whole = whole
        await open_link(a, b)
        big = [{**order(i), "pad": "x" * 2**20} for i in range(MAX_ANSWER // 2**20 + 1)]
        for o in big:
            b.node.add(o)
        failed: list[str] = []
        peers = a.gossip.peers
        real = peers.failed

        def noted(peer: Peer) -> None:  # (the real one, its calls noted)
            failed.append(peer.key)
            real(peer)

        peers.failed = noted  # type: ignore[method-assign]
        await until(lambda: all(o["hash"] in a.node.orders for o in big), 30)
        assert b.gossip.node_id not in failed
        assert peers.standing(b.gossip.node_id).score >= 0


async def test_one_order_too_large_alone_is_a_lie_that_costs_the_peer() -> None:
    """Every order a node holds passed the intake's bound (``MAX_ORDER_JSON``), far below
    what an answer carries, so one order's answer too large is no honest answer (review of
    the halving: a single hash too large was skipped at no cost, and asked again every
    round): it costs ``b``."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        b.node.whole = True  # (an honest node would leave it out: it does not fit)
        await open_link(a, b)
        huge = {**order(99), "pad": "x" * (MAX_ANSWER + 2**20)}
        b.node.add(huge)
        await until(lambda: a.gossip.peers.standing(b.gossip.node_id).score < 0, 30)
        assert huge["hash"] not in a.node.orders


def at_the_fetches() -> tuple[GossipCore, list[Action]]:
    """A core whose anti-entropy round, against a peer holding 2,000 orders it lacks, has
    reached its fetches: the core and the actions that ask them."""
    theirs = Book([{"hash": f"0x{i:064x}"} for i in range(1, 2_001)])
    core, clock = make(peers=1)
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": theirs.digest()}), "hashes")
    assert isinstance(hashes.body, dict)
    return core, ok(core, hashes, {"hashes": theirs.hashes_in(hashes.body["buckets"])})


@pytest.mark.parametrize("alone", [False, True])
def test_a_peer_answering_fetches_too_large_gets_a_bounded_round(alone: bool) -> None:
    """A liar that answers fetches ``TOO_LARGE`` (it costs it nothing) holds the node's one
    anti-entropy flow for at most ``split_budget`` calls a round, not ~2n per batch of n
    hashes (review of the halving: 1,023 calls for a batch of 512). One that says so of a
    single hash too (``alone``) is charged at the first such answer, which the halves,
    asked first one first, reach in a halving's depth."""
    core, actions = at_the_fetches()
    fetches = 0
    while True:
        asked = [a for a in actions if isinstance(a, Call) and a.kind == "fetch"]
        if not asked:
            break
        assert len(asked) == 1 and fetches < 1_000
        fetch, fetches = asked[0], fetches + 1
        assert isinstance(fetch.body, dict)
        want = fetch.body["hashes"] + fetch.body["why"]
        if len(want) == 1 and not alone:  # one order: the liar answers it
            actions = ok(core, fetch, {"orders": [{"hash": want[0]}], "cancels": []})
            for check in [a for a in actions if isinstance(a, Check)]:
                core.judge(check.id, ["known"])
                actions += core.checked(check.id)
            continue
        reason = {"code": 100, "reason": f"over 8 MiB, {TOO_LARGE_REASON}"}
        actions = core.answered(fetch.id, Reply(TOO_LARGE, fetch.peer, reason))
    scored = [a for a in actions if isinstance(a, Scored)]
    if alone:
        assert fetches == (core.config.batch_max - 1).bit_length() + 1  # 256 ... 2, 1
        assert scored == [Scored(peer_id(1), -INVALID_PENALTY)]
    else:
        assert fetches == split_budget(core.config) < 2 * core.config.batch_max
        assert not scored


def test_an_unsigned_too_large_answer_fails_the_call_and_costs_the_peer_nothing() -> None:
    """Review finding (Medium): an error answer over HTTP is unsigned (``PeerClient``: a
    non-2xx comes with no signer), so anyone on the path could send ``TOO_LARGE`` for the
    peer, and the node split the batch down to one hash and charged the peer (its key
    proved nothing): a few such rounds banned an honest peer. Only an answer of the peer's
    own (its stream) is ``TooLarge``; an unsigned one fails the call, as any error does."""
    core, actions = at_the_fetches()
    fetch = only(actions, "fetch")
    reason = {"code": 100, "reason": f"over 8 MiB, {TOO_LARGE_REASON}"}
    for _ in range(20):  # (what a forger would send for every ask, a single hash's too)
        actions = core.answered(fetch.id, Reply(TOO_LARGE, None, reason))
        asked = [a for a in actions if isinstance(a, Call) and a.kind == "fetch"]
        if not asked:
            break
        fetch = asked[0]
    assert not [a for a in actions if isinstance(a, Scored)]
    assert not [a for a in actions if isinstance(a, Call) and a.kind == "fetch"]  # failed
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.score == 0 and peer.failures == 1


def test_the_first_piece_that_fits_comes_within_the_budget() -> None:
    """A batch too large as a whole and in its halves down to a few hashes still brings
    its first piece in the round (the halves are asked first one first, and the budget
    covers a halving's depth)."""
    theirs = Book([{"hash": f"0x{i:064x}"} for i in range(1, 2_001)])
    core, clock = make(peers=1, ae_max_fetches=1)
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": theirs.digest()}), "hashes")
    assert isinstance(hashes.body, dict)
    actions = ok(core, hashes, {"hashes": theirs.hashes_in(hashes.body["buckets"])})
    while True:
        fetch = only(actions, "fetch")
        assert isinstance(fetch.body, dict)
        want = fetch.body["hashes"]
        if len(want) <= 2:  # fits: the peer answers with the orders
            orders = [{"hash": h} for h in want]
            actions = ok(core, fetch, {"orders": orders, "cancels": []})
            check = next(a for a in actions if isinstance(a, Check))
            assert [o["hash"] for o in check.orders] == want
            return
        reason = {"code": 100, "reason": f"over 8 MiB, {TOO_LARGE_REASON}"}
        actions = core.answered(fetch.id, Reply(TOO_LARGE, fetch.peer, reason))


@given(st.integers(0, 40), st.integers(0, 40))
def test_halves_split_a_fetch_in_two_nonempty_parts_down_to_one(n: int, m: int) -> None:
    """Halves keep every hash once, in order, each half non-empty (two or more hashes),
    so halving down to single hashes ends, in at most 2k - 1 asks for k hashes."""
    want, why = [f"w{i}" for i in range(n)], [f"y{i}" for i in range(m)]
    if n + m >= 2:
        (w1, y1), (w2, y2) = halves(want, why)
        assert (w1 + w2, y1 + y2) == (want, why)
        assert w1 + y1 and w2 + y2
    asks, calls = [(want, why)], 0
    while asks:
        w, y = asks.pop()
        calls += 1
        if len(w) + len(y) > 1:  # every ask too large: the worst case
            asks.extend(halves(w, y))
    assert calls <= max(1, 2 * (n + m) - 1)


async def test_a_fetch_is_answered_with_the_orders_that_fit() -> None:
    """``b`` holds twelve orders of 1 MiB; a fetch of all twelve is answered with those that
    fit under ``MAX_ANSWER``, in the order asked, not built whole, encoded (~12 MiB) and then
    refused ``TOO_LARGE`` (review9, Low: a peer naming 5,000 hashes of large orders cost
    hundreds of MB of encoding a request). The rest come when asked again."""
    slow = GossipConfig(dial_interval=0.1, ae_interval=3600)
    async with gossip_net(2, [slow] * 2) as (a, b):
        link = await open_link(a, b)
        big = [{**order(i), "pad": "x" * 2**20} for i in range(12)]
        for o in big:
            b.node.add(o)
        hashes = [o["hash"] for o in reversed(big)]
        status, answer = await link.request("POST", "/fetch", None, {"hashes": hashes}, 30)
        assert status == 200, answer
        got = [o["hash"] for o in answer["orders"]]
        assert got == hashes[: len(got)] and MAX_ANSWER // 2**20 - 1 <= len(got) < len(hashes)
        assert len(dumps(answer)) <= MAX_ANSWER and link.open
        rest = {"hashes": hashes[len(got) :]}
        status, answer = await link.request("POST", "/fetch", None, rest, 30)
        assert status == 200 and [o["hash"] for o in answer["orders"]] == rest["hashes"]


async def test_a_snapshot_page_is_cut_by_bytes_and_the_next_page_goes_on() -> None:
    """A snapshot page over what an answer carries (twelve orders of 1 MiB asked for) holds
    the orders that fit, its cursor the last one's: the next page goes on from there (an
    oversized page was ``TOO_LARGE``, and bootstrap ended at it every time)."""
    slow = GossipConfig(dial_interval=0.1, ae_interval=3600)
    async with gossip_net(2, [slow] * 2) as (a, b):
        link = await open_link(a, b)
        big = [{**order(i), "pad": "x" * 2**20} for i in range(12)]
        for o in big:
            b.node.add(o)
        seen: list[str] = []
        after = 0
        for _ in range(2):
            query = {"after": str(after), "limit": "100"}
            status, page = await link.request("GET", "/snapshot", query, None, 30)
            assert status == 200 and len(dumps(page)) <= MAX_ANSWER, page
            assert page["orders"] and page["next"] > after
            seen += [o["hash"] for o in page["orders"]]
            after = page["next"]
        assert seen == [o["hash"] for o in big]


def test_an_order_at_the_intake_bound_is_far_below_an_answer() -> None:
    """The bound the flows' "a single hash too large is a lie" rests on: the largest order
    the intake takes (every uint at 78 digits, the signature at ``MAX_SIGNATURE_BYTES``)
    encodes within ``MAX_ORDER_JSON`` (``json_size`` a bound of it too), which an answer
    holds hundreds of, and a push batch of ``batch_max`` within what a request carries."""
    widest = {k: "9" * 78 if v.isdigit() else v for k, v in order(1).items()}
    widest["signature"] = "0x" + "ab" * MAX_SIGNATURE_BYTES
    assert len(json.dumps(widest)) <= json_size(widest) <= MAX_ORDER_JSON
    assert MAX_ORDER_JSON * 256 <= ANSWER_ROOM < MAX_ANSWER
    assert GossipConfig().batch_max * (MAX_ORDER_JSON + 1) < MAX_P2P_BODY
    assert fits([widest] * 1000, ANSWER_ROOM) == ANSWER_ROOM // (json_size(widest) + 1)


async def test_a_nodes_fetch_and_snapshot_answers_hold_what_fits(
    chain: Chain, tmp_path: Path
) -> None:
    """The node's side (``NodePeering``): a fetch answers the prefix of the asked orders
    that fits its bytes; a snapshot page too, its cursor the last one's, the next page
    going on from there."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        posted = [c.sign(ask(c, ALICE, E18, (3000 + i) * E6)) for i in range(3)]
        for so in posted:
            assert (await api.post_order(so))[0] == 201
        asked = list(reversed(posted))
        hashes = [so.hash_hex for so in asked]

        def room(orders: list[SignedOrder]) -> int:  # (just these, in a list)
            return 2 + sum(json_size(so.to_json()) + 1 for so in orders)

        got = node.open_orders_by_hash(hashes, room(asked[:2]))
        assert [o["signature"] for o in got] == ["0x" + so.signature.hex() for so in asked[:2]]
        assert len(node.open_orders_by_hash(hashes, room(asked) - 1)) == 2
        assert len(node.open_orders_by_hash(hashes, room(asked))) == 3
        page, nxt = node.snapshot_page(0, 10, room(posted[:2]))
        assert [o["signature"] for o in page] == ["0x" + so.signature.hex() for so in posted[:2]]
        rest, last = node.snapshot_page(nxt, 10, room(posted[2:]))
        assert [o["signature"] for o in rest] == ["0x" + posted[2].signature.hex()]
        assert last > nxt
