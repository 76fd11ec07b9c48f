"""The gossip core without sockets: each test feeds events and checks the actions returned,
as tables of (event, expected actions). Time is a plain variable the tests move."""

from __future__ import annotations

import random
from collections import OrderedDict
from json import dumps as json_dumps
from json import loads as json_loads
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip import payload
from sdex.gossip.actions import Action, Call, Check, Deliver, GossipConfig, Reply, Scored
from sdex.gossip.core import GossipCore
from sdex.gossip.flows import BOOT_TRIES, KNOWS_FACTOR
from sdex.gossip.outbox import ALSO_MAX, SHORT_ID, Heard, Outbox
from sdex.gossip.peers import BAN_SCORE, INVALID_PENALTY, MAX_INTRODUCED
from sdex.gossip.timing import EDGES_US, PUSH_EDGES_US, PushTiming
from tests.p2putil import Book

ME = "http://me.test"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def order(i: int) -> dict[str, str]:
    return {"hash": "0x" + f"{i:02x}" * 32, "salt": str(i)}


def peer_id(i: int) -> str:
    return f"0x{i:040x}"


def url(i: int) -> str:
    return f"http://p{i}.test"


def make(
    peers: int = 0, mesh: int = 0, book: Book | None = None, upkeep: bool = False, **cfg: Any
) -> tuple[GossipCore, Clock]:
    """A core with ``peers`` admitted and the first ``mesh`` of them in its mesh; without
    ``upkeep`` its dial and peer-exchange timers never fire (the test drives one thing).
    Pushes wait a 2 ms ``flush_delay`` unless ``cfg`` says otherwise (the tests of the
    default, 0, say so)."""
    clock = Clock()
    config = GossipConfig(**{"flush_delay": 0.002, **cfg})
    core = GossipCore(peer_id(0), ME, [], book or Book(), config, clock=clock, rng=random.Random(1))
    for i in range(1, peers + 1):
        core.peers.admit(peer_id(i), url(i))
    for i in range(1, mesh + 1):
        core.mesh[peer_id(i)] = None
    if not upkeep:
        core.next_dial = core.next_px = float("inf")
    return core, clock


def calls(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.kind, a.url) for a in actions if isinstance(a, Call)]


def only(actions: list[Action], kind: str) -> Call:
    found = [a for a in actions if isinstance(a, Call) and a.kind == kind]
    assert len(found) == 1, actions
    return found[0]


def run_due(core: GossipCore, clock: Clock) -> list[Action]:
    clock.t = max(clock.t, core.next_timer())
    return core.tick()


def ok(core: GossipCore, call: Call, body: object, signer: str | None = None) -> list[Action]:
    return core.answered(call.id, Reply(200, signer or call.peer, body))


# ---- admission ------------------------------------------------------------------------------


def test_a_seed_is_admitted_by_the_key_that_signs_its_hello() -> None:
    clock = Clock()
    core = GossipCore(peer_id(0), ME, [url(1)], Book(), clock=clock, rng=random.Random(1))
    hello = only(core.start(), "hello")
    assert (hello.url, hello.peer, hello.path) == (url(1), "", "/p2p/hello")
    assert isinstance(hello.body, dict) and hello.body["url"] == ME
    shared = [url(k) for k in range(2, 40)]
    ok(core, hello, {"nodeId": peer_id(1), "peers": shared}, signer=peer_id(1))
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.url == url(1)
    # the URLs it shared are candidates only, within its quota
    assert len(core.peers.candidates) == MAX_INTRODUCED
    assert all(core.peers.by_url(u) is None for u in shared)


@pytest.mark.parametrize(
    "reply",
    [None, Reply(200, None, {}), Reply(500, None, {}), Reply(403, None, {})],
    ids=["no answer", "unsigned", "error", "refused"],
)
def test_a_hello_without_a_signed_answer_admits_nobody(reply: Reply | None) -> None:
    clock = Clock()
    core = GossipCore(peer_id(0), ME, [url(1)], Book(), clock=clock, rng=random.Random(1))
    hello = only(core.start(), "hello")
    core.answered(hello.id, reply)
    assert len(core.peers) == 0
    assert url(1) in core.peers.candidates  # a seed: tried again later, backing off


def test_hello_table_grafts_prunes_and_refuses() -> None:
    core, _ = make(peers=3, mesh_max=2)
    rows = [
        # (sender, body, granted, mesh after)
        (peer_id(1), {"mesh": True}, True, {peer_id(1)}),
        (peer_id(2), {"mesh": True}, True, {peer_id(1), peer_id(2)}),
        (peer_id(3), {"mesh": True}, False, {peer_id(1), peer_id(2)}),  # full
        (peer_id(9), {"mesh": True}, False, {peer_id(1), peer_id(2)}),  # not admitted
        (peer_id(1), {"mesh": False}, False, {peer_id(2)}),  # pruned
        (peer_id(3), {}, False, {peer_id(2)}),  # an old client's hello: no change
    ]
    for sender, body, granted, after in rows:
        answer = core.hello(sender, url(int(sender, 16)), body)
        assert answer["mesh"] is granted, (sender, body)
        assert set(core.mesh) == after, (sender, body)
        assert answer["peers"][0] == ME
    assert url(9) in core.peers.candidates  # the stranger's URL is dialled before trusted


def test_a_node_below_mesh_min_grafts_up_to_fanout() -> None:
    core, clock = make(peers=10, upkeep=True, fanout=4, mesh_min=3)
    core.start()
    grafts = [a for a in run_due(core, clock) if isinstance(a, Call) and a.kind == "hello"]
    assert len(grafts) == 4 and all(isinstance(g.body, dict) and g.body["mesh"] for g in grafts)
    ok(core, grafts[0], {"mesh": True}, signer=peer_id(int(grafts[0].url[8:-5])))
    ok(core, grafts[1], {"mesh": False}, signer=peer_id(int(grafts[1].url[8:-5])))
    assert len(core.mesh) == 1  # only the one that said yes


# ---- push -----------------------------------------------------------------------------------


def test_an_accepted_order_goes_to_every_mesh_peer_but_its_sender() -> None:
    core, _ = make(peers=8, mesh=4, flush_delay=0.0)
    # no flush delay (the default): the pushes leave at once, with no timer left behind
    pushes = core.accepted(order(1), exclude=peer_id(2))
    assert sorted(calls(pushes)) == [("push", url(1)), ("push", url(3)), ("push", url(4))]
    assert all(isinstance(c, Call) and c.body["orders"] == [order(1)] for c in pushes)
    assert core._timers == []


def test_several_orders_accepted_together_leave_in_one_push_per_peer() -> None:
    core, _ = make(peers=8, mesh=4, flush_delay=0.0)
    pushes = core.accepted_many([(order(1), None), (order(2), peer_id(1)), (order(3), None)])
    bodies = {c.url: c.body["orders"] for c in pushes if isinstance(c, Call)}
    assert bodies[url(1)] == [order(1), order(3)]
    assert len(pushes) == 4 and bodies[url(2)] == [order(1), order(2), order(3)]


def test_a_flush_delay_holds_pushes_for_a_batch() -> None:
    core, clock = make(peers=8, mesh=4, flush_delay=0.002)
    assert core.accepted(order(1), exclude=peer_id(2)) == []  # waits flush_delay for a batch
    assert core.accepted(order(2)) == []
    clock.t += 0.002
    pushes = core.tick()
    assert sorted(calls(pushes)) == [("push", url(i)) for i in (1, 2, 3, 4)]
    assert [c.body["orders"] for c in pushes if isinstance(c, Call) and c.url == url(1)] == [
        [order(1), order(2)]
    ]


def test_forwards_leave_at_staggered_times_and_skip_peers_that_sent_the_order_meanwhile() -> None:
    core, clock = make(
        peers=6, mesh=6, flush_delay=0.002, forward_jitter=0.010, push_window=4, push_hold=0.0
    )
    signed = {**order(1), "signature": "0x" + "11" * 65}
    core.accepted(signed, exclude=peer_id(1))  # a peer's order: forwarded within 2-12 ms
    dues = sorted(due for due, _, _ in core._timers)
    assert len(dues) == 5 and dues[0] >= clock.t + 0.002 and dues[-1] <= clock.t + 0.012
    assert dues[-1] - dues[0] > 0.001  # (seeded: the five mesh peers' pushes are spread)
    first = run_due(core, clock)
    assert len(calls(first)) == 1
    # before the others are due, every other mesh peer pushes the same order to us
    for i in range(2, 7):
        core.checked(core.receive(peer_id(i), [signed]).id)
    clock.t += 0.012
    assert calls(core.tick()) == []  # nobody left who lacks it
    # the node's own order leaves after flush_delay, to every mesh peer at once
    core.accepted(order(2))
    clock.t += 0.002
    assert len(calls(core.tick())) == 6


def test_without_a_mesh_an_order_goes_to_fanout_random_peers() -> None:
    core, clock = make(peers=8, fanout=3)
    core.accepted(order(1))
    assert len(calls(run_due(core, clock))) == 3


def test_no_order_goes_back_to_a_peer_that_pushed_it_to_us() -> None:
    core, clock = make(peers=3, mesh=3)
    signed = [{**order(k), "signature": f"0x{k:0130x}"} for k in range(1, 4)]
    core.accepted_many([(signed[0], peer_id(1)), (signed[1], None), (signed[2], None)])
    # before the flush, peer 2 pushes us order 1 and peer 3 pushes order 2 (echoes)
    core.checked(core.receive(peer_id(2), [signed[0]]).id)
    core.checked(core.receive(peer_id(3), [signed[1], {"signature": 5}, "junk"]).id)
    pushed = {c.peer: c.body["orders"] for c in run_due(core, clock) if isinstance(c, Call)}
    assert pushed == {
        peer_id(1): [signed[1], signed[2]],  # it sent us order 1
        peer_id(2): [signed[1], signed[2]],
        peer_id(3): [signed[0], signed[2]],
    }
    assert core.stats()["echoesSkipped"] == 2


def hinted_core() -> tuple[GossipCore, Clock, list[str]]:
    """A core with six mesh peers whose short ids differ (``also`` names peers by them)."""
    core, clock = make(flush_delay=0.0)
    ids = ["0x" + f"{i:02x}" * 20 for i in range(1, 7)]
    for i, key in enumerate(ids, 1):
        core.peers.admit(key, url(i))
        core.mesh[key] = None
    return core, clock, ids


def test_a_push_names_the_other_mesh_peers_and_spares_at_most_half_of_ours() -> None:
    core, clock, ids = hinted_core()
    short = [k[-SHORT_ID:] for k in ids]
    mine = {**order(1), "signature": "0x" + "22" * 65}
    first = [c for c in core.accepted(mine) if isinstance(c, Call)]
    bodies = {c.peer: c.body for c in first}
    assert bodies[ids[0]] == {"orders": [mine], "also": short[1:]}  # every other mesh peer
    for c in first:  # answered: nothing in flight (the next pushes leave at once)
        ok(core, c, {"accepted": 1})
    # peer 1 pushes an order and says peers 3-6 get it from it too: believed for at most
    # (6 - 1) // 2 = 2 of them (3 and 4); peer 2 saying 5 and 6 do adds nothing
    theirs = {**order(2), "signature": "0x" + "33" * 65}
    core.checked(core.receive(ids[0], [theirs], short[2:]).id)
    core.checked(core.receive(ids[1], [theirs], short[4:]).id)
    # not to 1 or 2 (they sent it), 3 and 4 spared, 5 and 6 wait (``hint_hold``)
    assert [c for c in core.accepted(theirs, exclude=ids[0]) if isinstance(c, Call)] == []
    pushes = [c for c in run_due(core, clock) if isinstance(c, Call)]
    assert clock.t == 1000.0 + core.config.hint_hold
    assert sorted(c.peer for c in pushes) == ids[4:]
    assert all(c.body["orders"] == [theirs] for c in pushes)
    assert core.stats()["hintSkipped"] == 2 and core.stats()["echoesSkipped"] == 1
    assert core.stats()["hintHeld"] == 2
    # a hint that is not a bounded list of strings is ignored: every order reaches all five
    core, clock, ids = hinted_core()
    todo: list[Action] = []
    for n, also in enumerate(([*short, *["0x0"] * ALSO_MAX], "0x01", [5, None])):
        fresh = {**order(3 + n), "signature": "0x" + f"{0x44 + n:02x}" * 65}
        core.checked(core.receive(ids[0], [fresh], also).id)
        todo += core.accepted(fresh, exclude=ids[0])
    sent: list[object] = []
    while todo or core.next_timer() < clock.t + 1.0:
        if not todo:
            clock.t = core.next_timer()
            todo = core.tick()
            continue
        c = todo.pop()
        if isinstance(c, Call):
            sent += c.body["orders"]
            todo += ok(core, c, {"accepted": 1})
    assert len(sent) == 3 * 5 and core.stats()["hintSkipped"] == 0


def test_a_hint_spares_at_most_half_of_the_forwards_made_when_the_order_leaves() -> None:
    """The bound is taken against the live targets when the order is forwarded: peers in
    backoff, or a mesh that shrank after the push, do not let one pusher silence more."""
    core, clock = make(flush_delay=0.0)
    ids = ["0x" + f"{i:02x}" * 20 for i in range(1, 10)]
    for i, key in enumerate(ids, 1):
        core.peers.admit(key, url(i))
        core.mesh[key] = None
    liar, named = ids[0], ids[1:5]
    theirs = {**order(1), "signature": "0x" + "33" * 65}
    core.checked(core.receive(liar, [theirs], [k[-SHORT_ID:] for k in named]).id)
    for k in ids[5:7]:  # two mesh peers in backoff, two more leave the mesh
        peer = core.peers.get(k)
        assert peer is not None
        peer.retry_at = clock.t + 30
    for k in ids[7:]:
        del core.mesh[k]
    assert [c for c in core.accepted(theirs, exclude=liar) if isinstance(c, Call)] == []
    pushes = [c for c in run_due(core, clock) if isinstance(c, Call)]  # ``hint_hold`` later
    assert len(pushes) == 2 and {c.peer for c in pushes} <= set(named)  # 2 of the 4 live
    assert core.stats()["hintSkipped"] == 2
    # a push names only live mesh peers the same orders go to from here, or came from (the
    # pusher): none that a pusher named to us (spared or held here)
    for c in pushes:
        assert c.body["also"] == [liar[-SHORT_ID:]]


def test_a_forward_names_no_peer_a_pusher_named_to_it() -> None:
    """A forwarder that spared or held a named peer must not name it in turn: the next hop
    would spare or hold it too, on a claim no one made true, and every such hop can hold
    the order back by ``hint_hold`` (seen as deliveries 253-287 ms late at 4 orders/s)."""
    core, _clock, ids = hinted_core()
    theirs = {**order(2), "signature": "0x" + "33" * 65}
    core.checked(core.receive(ids[0], [theirs], [k[-SHORT_ID:] for k in ids[1:3]]).id)
    pushes = [c for c in core.accepted(theirs, exclude=ids[0]) if isinstance(c, Call)]
    assert sorted(c.peer for c in pushes) == ids[3:]  # 1 and 2 spared (named, within half)
    for c in pushes:
        named = [k[-SHORT_ID:] for k in [ids[0], *ids[3:]] if k != c.peer]
        assert c.body["also"] == named, c.peer  # the pusher and the other forwards only
    # its own orders (named by no one) name every other live mesh peer, as before
    mine = {**order(3), "signature": "0x" + "44" * 65}
    first = {c.peer: c.body for c in core.accepted(mine) if isinstance(c, Call)}
    assert first[ids[0]] == {"orders": [mine], "also": [k[-SHORT_ID:] for k in ids[1:]]}


def test_a_mixed_push_names_a_peer_for_the_orders_no_pusher_named_it_for() -> None:
    """A batch mixing a forward of a named order with orders no one named: ``also`` leaves
    the named peers out (it is said of every order), ``more`` names them for the others
    only. Before, the whole batch lost them, and its next hop pushed those orders to them
    again (copies and frames per order and node up, cpu16 in docs/BENCHMARKS.md)."""
    core, _clock, ids = hinted_core()
    short = [k[-SHORT_ID:] for k in ids]
    theirs = {**order(2), "signature": "0x" + "33" * 65}
    core.checked(core.receive(ids[0], [theirs], short[1:]).id)
    assert [c for c in core.accepted(theirs, exclude=ids[0]) if isinstance(c, Call)] == []
    mine = {**order(3), "signature": "0x" + "44" * 65}  # its own: rides with the held ones
    bodies = {c.peer: c.body for c in core.accepted(mine) if isinstance(c, Call)}
    assert bodies[ids[3]]["orders"] == [theirs, mine]
    assert bodies[ids[3]]["also"] == [short[0]]  # the pusher: it has both
    assert bodies[ids[3]]["more"] == [[short[k], [1]] for k in (1, 2, 4, 5)]  # ``mine`` only
    assert bodies[ids[0]] == {"orders": [mine], "also": short[1:]}  # not mixed: as before
    # the next hop: a peer named for one order of a push is spared for that one alone
    core, _clock, ids = hinted_core()
    short = [k[-SHORT_ID:] for k in ids]
    a, b = ({**order(k), "signature": "0x" + f"{k:02x}" * 65} for k in (5, 6))
    core.checked(core.receive(ids[0], [a, b], [], [[short[1], [1]]]).id)
    pushes = {c.peer: c.body["orders"] for c in core.accepted_many([(a, ids[0]), (b, ids[0])])
              if isinstance(c, Call)}  # fmt: skip
    assert pushes[ids[1]] == [a] and core.stats()["hintSkipped"] == 1
    assert all(pushes[k] == [a, b] for k in ids[2:])


@pytest.mark.parametrize(
    "more",
    [
        [[s, [0]] for s in ["x"] * ALSO_MAX] + [["y", [0]]],  # too many peers
        [["S1", [2]]],  # no such order
        [["S1", [-1]]],
        [["S1", [True]]],
        [["S1", [1, 1]]],  # each index once, in order
        [["S1", [1, 0]]],
        [["S1", ["0"]]],
        [["S1", 0]],
        [["S1", [0], 1]],
        ["S1"],
        {"S1": [0]},
        [["S1", [0]], "junk"],  # one bad item: none of it
    ],
)
def test_a_malformed_more_is_ignored_whole(more: object) -> None:
    """A push's ``more`` is bounded (at most ``ALSO_MAX`` peers, indices of its orders
    each once, in order) or ignored, as an ``also`` too long is: both orders reach all."""
    core, _clock, ids = hinted_core()
    more = json_loads(json_dumps(more).replace('"S1"', f'"{ids[1][-SHORT_ID:]}"'))
    a, b = ({**order(k), "signature": "0x" + f"{k:02x}" * 65} for k in (5, 6))
    core.checked(core.receive(ids[0], [a, b], [], more).id)
    pushes = [c for c in core.accepted_many([(a, ids[0]), (b, ids[0])]) if isinstance(c, Call)]
    assert sorted(c.peer for c in pushes) == ids[1:] and core.stats()["hintSkipped"] == 0
    assert all(c.body["orders"] == [a, b] for c in pushes)


def test_a_named_forward_rides_with_the_next_push_to_that_peer() -> None:
    """A forward a pusher's ``also`` named (and the bound kept) gets no frame of its own:
    it goes with the next push to that peer, and its timer then sends nothing more."""
    core, clock, ids = hinted_core()
    theirs = {**order(2), "signature": "0x" + "33" * 65}
    core.checked(core.receive(ids[0], [theirs], [k[-SHORT_ID:] for k in ids[1:]]).id)
    pushes = [c for c in core.accepted(theirs, exclude=ids[0]) if isinstance(c, Call)]
    assert pushes == [] and core.stats()["hintSkipped"] == 2  # 2 spared, 3 wait
    clock.t += core.config.hint_hold / 2
    mine = {**order(3), "signature": "0x" + "44" * 65}
    bodies = {c.peer: c.body["orders"] for c in core.accepted(mine) if isinstance(c, Call)}
    assert bodies[ids[0]] == [mine]
    assert sorted(k for k, v in bodies.items() if v == [theirs, mine]) == ids[3:]
    # its timer is void: not a time to wake for (gossip27), and due it sends nothing
    assert core.next_timer() == float("inf")
    clock.t += core.config.hint_hold
    assert core.tick() == [] and core.next_timer() == float("inf")
    # with no hold they leave at once, each in its own push
    core, clock, ids = hinted_core()
    core.config.hint_hold = 0.0
    core.checked(core.receive(ids[0], [theirs], [k[-SHORT_ID:] for k in ids[1:]]).id)
    pushes = [c for c in core.accepted(theirs, exclude=ids[0]) if isinstance(c, Call)]
    assert sorted(c.peer for c in pushes) == ids[3:] and core.stats()["hintHeld"] == 0


def test_boarding_held_forwards_keeps_the_outbox_bound_and_a_cleared_box_holds_anew() -> None:
    """Review findings: held forwards boarded onto a full queue kept it over its bound (up
    to twice ``outbox_max``); a cleared box kept its hold time, so a new hold set no timer
    of its own until the old one fired."""
    box = Outbox(peer_id(1))
    for k in range(4):
        box.put(box.orders, {"signature": f"0x{k:0130x}"}, 4)
    held = [{"signature": f"0x{k:0130x}"} for k in range(4, 7)]
    assert box.hold(held[0], 1.0, 4) == 1.0 and box.hold(held[1], 2.0, 4) is None
    box.board(4)
    assert len(box.orders) == 4 and box.dropped == 2 and not box.later
    assert box.later_due is None
    box.hold(held[2], 3.0, 4)
    box.clear()
    assert box.hold(held[2], 5.0, 4) == 5.0  # its own timer


def test_heard_is_bounded_and_ignores_what_is_not_a_signature() -> None:
    heard = Heard(capacity=2)
    a, b, c = ({"signature": f"0x{k:0130x}"} for k in range(3))
    heard.note(peer_id(1), [a, b, {"signature": "0x" + "ab" * 200}, {"signature": None}, 7])
    heard.note(peer_id(2), [a, c])  # c evicts the oldest order (a): its senders go with it
    assert len(heard) == 2
    assert not heard.sent_by(a, peer_id(1)) and not heard.sent_by(a, peer_id(2))
    assert heard.sent_by(b, peer_id(1)) and heard.sent_by(c, peer_id(2))
    assert not heard.sent_by(c, peer_id(1))


def test_heard_keeps_the_newest_orders_once_full() -> None:
    """Past its capacity every new order evicts the oldest one, one at a time."""
    heard = Heard(capacity=3)
    orders = [{"signature": f"0x{k:0130x}"} for k in range(10)]
    for k, o in enumerate(orders):
        heard.note(peer_id(1), [o])
        heard.hint([peer_id(2)], [o])
        assert len(heard) == min(k + 1, 3)
    assert [heard.sent_by(o, peer_id(1)) for o in orders] == [False] * 7 + [True] * 3
    targets = [Outbox(peer_id(k)) for k in (2, 3, 4)]
    assert heard.spare(orders[-1], targets) == targets[1:]  # (its hint is held)
    assert heard.spare(orders[0], targets) == targets  # the hint of an evicted order is gone
    assert len(heard._hinted) == 3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 5), max_size=4), min_size=1, max_size=8),
    st.integers(0, 5),
)
def test_a_pushs_names_are_every_peer_but_the_named_ones_order_by_order(
    hints: list[list[int]], but: int
) -> None:
    """``names``: ``also`` holds the peers no pusher named for any order of the batch;
    ``more`` each other peer with the orders no pusher named it for (none for it: left out);
    never the peer pushed to (the brute force, peer by peer and order by order)."""
    heard = Heard()
    batch = [{"signature": f"0x{k:0130x}"} for k in range(len(hints))]
    for o, named in zip(batch, hints, strict=True):
        heard.hint([peer_id(n) for n in named], [o])
    keys = [peer_id(n) for n in range(6)]
    also, more = heard.names(batch, keys, peer_id(but))
    free = {k: [i for i, ns in enumerate(hints) if k not in {peer_id(n) for n in ns}] for k in keys}
    others = [k for k in keys if k != peer_id(but)]
    assert also == [k for k in others if len(free[k]) == len(batch)]
    assert more == [(k, free[k]) for k in others if 0 < len(free[k]) < len(batch)]


def test_pushes_encode_an_order_once_and_keep_a_bounded_number_of_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payload, "_order_texts", OrderedDict())  # (not the process's cache)
    orders = [{"signature": f"0x{k:0130x}", "k": k} for k in range(payload.ORDER_TEXTS + 5)]
    payload.remember(orders[0], b'{"signature": "kept as the node encoded it"}')
    assert b"kept as the node encoded it" in payload.request(
        1, "POST", "/orders", {}, {"orders": orders[:1]}
    )
    for o in orders[1:]:
        payload.remember(o, payload.dumps(o))
    assert len(payload._order_texts) == payload.ORDER_TEXTS  # the oldest went first
    assert id(orders[0]) not in payload._order_texts and id(orders[-1]) in payload._order_texts
    frame = payload.request(2, "POST", "/orders", {}, {"orders": orders[:1], "also": []})
    assert frame == payload.dumps(
        {"i": 2, "m": "POST", "p": "/orders", "q": {}, "b": {"orders": orders[:1], "also": []}}
    )


def test_the_push_window_holds_batches_until_answers_come() -> None:
    core, clock = make(peers=1, mesh=1, push_window=1)
    core.accepted(order(1))
    first = only(run_due(core, clock), "push")
    core.accepted(order(2))
    core.accepted(order(3))
    clock.t += 1.0
    assert calls(core.tick()) == []  # the window is full
    nxt = only(ok(core, first, {"accepted": 1, "known": 0, "rejected": 0}), "push")
    assert nxt.body["orders"] == [order(2), order(3)]  # one batch


def test_with_a_push_in_flight_the_next_waits_for_its_answer_or_the_hold() -> None:
    """The defaults: Nagle's rule with a timer. A push leaves at once with none in flight;
    orders accepted meanwhile leave together when its answer comes, or ``push_hold`` after
    they were scheduled on a slow link (up to ``push_window`` in flight)."""
    cfg = GossipConfig()
    core, clock = make(peers=1, mesh=1, flush_delay=cfg.flush_delay)
    first = only(core.accepted(order(1)), "push")  # at once: nothing was in flight
    assert calls(core.accepted(order(2)) + core.accepted(order(3))) == []  # held
    assert calls(core.tick()) == []  # (the first push has not been answered)
    nxt = only(ok(core, first, {"accepted": 1, "known": 0, "rejected": 0}), "push")
    assert nxt.body["orders"] == [order(2), order(3)]  # the answer released one batch
    assert calls(core.accepted(order(4))) == []  # (the second push is in flight now)
    clock.t += cfg.push_hold / 2
    assert calls(core.tick()) == []
    clock.t += cfg.push_hold / 2  # a slow link: no answer within the hold
    assert only(core.tick(), "push").body["orders"] == [order(4)]


def test_a_failed_push_is_resent_after_the_backoff() -> None:
    core, clock = make(peers=1, mesh=1)
    core.accepted(order(1))
    push = only(run_due(core, clock), "push")
    assert core.answered(push.id, None) == []
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.failures == 1 and peer.retry_at > clock.t
    again = only(run_due(core, clock), "push")
    assert clock.t >= peer.retry_at and again.body == push.body


def test_a_hello_from_a_peer_in_a_backoff_ends_its_wait() -> None:
    """gossip66: a peer that comes back (a restart dials its peers first) says hello: the
    push that waits for it leaves at the next tick, its failures kept (one more failure
    waits as long). A hello signed for another node, or from another URL, ends nothing.
    review68: once until the peer answers again (each hello ended it: a peer whose URL
    fails, its DNS pointed at another's server, had its held pushes sent there at the pace
    of its hellos signed elsewhere, up to its rate limit, not its backoff's)."""
    core, clock = make(peers=1, mesh=1)
    core.accepted(order(1))
    push = only(run_due(core, clock), "push")
    core.answered(push.id, None)
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.retry_at > clock.t
    core.hello(peer_id(1), url(1), {}, to=peer_id(9))  # (replayed from another node)
    core.hello(peer_id(1), "http://elsewhere.test", {})  # (a new URL is dialled first)
    assert peer.retry_at > clock.t and core.next_timer() > clock.t
    core.hello(peer_id(1), url(1), {}, to="")  # (a restart knows our URL, not our id)
    assert peer.failures == 1 and peer.reachable(clock.t)
    assert core.next_timer() <= clock.t
    again = only(core.tick(), "push")
    assert again.body == push.body
    core.answered(again.id, None)  # (it failed again: more hellos, the backoff holds)
    for _ in range(3):
        core.hello(peer_id(1), url(1), {})
        assert peer.retry_at > clock.t and core.next_timer() > clock.t
        assert [a for a in core.tick() if isinstance(a, Call) and a.kind == "push"] == []
    core.peers.ok(peer)  # (it answered, then failed again: a new streak)
    core.peers.failed(peer)
    core.hello(peer_id(1), url(1), {})
    assert peer.reachable(clock.t)


def test_a_hello_at_an_evicted_seeds_url_ends_its_dial_wait() -> None:
    """chaos74: a seed evicted while it was down is dialled with a backoff of its own; a
    hello claiming its URL (a restart dials its seeds first) ends that wait, its count kept,
    once until it is admitted again (as review68's for a peer's). A hello signed for another
    node, or claiming another URL, ends nothing."""
    clock = Clock()
    core = GossipCore(
        peer_id(0), ME, [url(1)], Book(), GossipConfig(), clock=clock, rng=random.Random(1)
    )
    peers = core.peers
    for _ in range(2):  # (the second: admitted, then evicted, then down again)
        assert peers.take_candidates(4) == [url(1)]
        for _ in range(6):  # (down: each dial failed, the wait at the cap)
            peers.dial_failed(url(1))
        assert peers.take_candidates(4) == []
        assert peers.seeds_json() == [{"url": url(1), "failures": 6}]
        core.hello(peer_id(1), url(1), {}, to=peer_id(9))  # (replayed from another node)
        core.hello(peer_id(1), url(2), {}, to="")  # (another URL: a candidate of its own)
        assert url(1) not in peers.take_candidates(4)
        core.hello(peer_id(1), url(1), {}, to="")  # (back: it knows our URL, not our id)
        assert peers.take_candidates(4) == [url(1)]  # dialled at the next tick
        peers.dial_failed(url(1))  # (that dial failed: more hellos, the wait holds)
        for _ in range(3):
            core.hello(peer_id(1), url(1), {}, to="")
            assert peers.take_candidates(4) == []
        assert peers.seeds_json() == [{"url": url(1), "failures": 7}]
        peer = peers.admit(peer_id(1), url(1))
        assert peer is not None and peers.seeds_json() == []
        for _ in range(5):
            peers.failed(peer)
        clock.t += 31
        assert peers.evict_failing() == [peer]
        peers.candidates.pop(url(2), None)


def test_an_answer_signed_by_another_key_counts_as_a_failure() -> None:
    core, clock = make(peers=1, mesh=1)
    core.accepted(order(1))
    push = only(run_due(core, clock), "push")
    core.answered(push.id, Reply(200, peer_id(7), {"accepted": 1}))
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.failures == 1 and core.orders_sent == 0


# ---- receiving: scores and bans --------------------------------------------------------------


def test_forged_orders_cost_points_until_the_sender_is_banned() -> None:
    core, _ = make(peers=2, mesh=2)
    check = core.receive(peer_id(1), [order(k) for k in range(8)])
    assert isinstance(check, Check) and check.sender == peer_id(1)
    to_ban = -BAN_SCORE // INVALID_PENALTY
    rows = [(["forged"] * (to_ban - 1), False), (["forged"], True)]
    for results, banned in rows:
        actions = core.judge(check.id, results)
        assert actions == [Scored(peer_id(1), -INVALID_PENALTY * len(results), banned)]
    assert core.peers.is_banned(peer_id(1)) and peer_id(1) not in core.mesh
    assert core.checked(check.id) == []  # no reward for a forger


def test_honest_new_orders_earn_a_point() -> None:
    core, _ = make(peers=1)
    check = core.receive(peer_id(1), [order(1), order(2)])
    core.judge(check.id, ["accepted", "known"])
    assert core.checked(check.id) == [Scored(peer_id(1), 1)]


# ---- anti-entropy and bootstrap: bounded ---------------------------------------------------


def boot_snapshot(core: GossipCore) -> Call:
    """The bootstrap's first open-orders page, asked once the peer's (empty) page of
    soft-cancelled orders came back (attack38: those come first)."""
    cancelled = only(core.start(), "cancelled")
    return only(ok(core, cancelled, {"orders": [], "next": 0}), "snapshot")


def start_ae(core: GossipCore, clock: Clock) -> Call:
    snap = boot_snapshot(core)  # bootstrap from the one peer first
    ok(core, snap, {"orders": [], "next": 0})
    clock.t = core.next_ae
    return only(core.tick(), "digest")


def test_anti_entropy_pulls_what_it_lacks() -> None:
    theirs = Book([order(1), order(2)])
    core, clock = make(peers=1, book=Book([order(2)]))
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": theirs.digest()}), "hashes")
    assert isinstance(hashes.body, dict) and hashes.body["buckets"] == [1]
    fetch = only(ok(core, hashes, {"hashes": theirs.hashes_in([1])}), "fetch")
    assert fetch.body == {"hashes": [order(1)["hash"]], "why": []}
    actions = ok(core, fetch, {"orders": [order(1)], "cancels": []})
    check = next(a for a in actions if isinstance(a, Check))
    assert check.orders == [order(1)]
    core.judge(check.id, ["accepted"])
    core.checked(check.id)
    assert core.pulled == 1


@pytest.mark.parametrize(
    "step, answer",
    [
        ("digest", {"buckets": ["0"] * 255}),
        ("fetch", {"orders": [order(1), order(3)], "cancels": []}),  # more than asked
        ("fetch", {"orders": [], "cancels": [{}, {}]}),
    ],
)
def test_anti_entropy_answers_beyond_the_bounds_cost_the_peer(
    step: str, answer: dict[str, Any]
) -> None:
    theirs = Book([order(1)])
    core, clock = make(peers=1)
    call = start_ae(core, clock)
    if step == "fetch":
        hashes = only(ok(core, call, {"buckets": theirs.digest()}), "hashes")
        call = only(ok(core, hashes, {"hashes": [order(1)["hash"]]}), "fetch")
    actions = ok(core, call, answer)
    assert [a for a in actions if isinstance(a, Scored)] == [Scored(peer_id(1), -INVALID_PENALTY)]
    assert not [a for a in actions if isinstance(a, Call | Check)]  # the round ends


class CountingBook(Book):
    """A book that counts ``knows`` (each may be a store lookup on a real node)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0
        self.known_closed: set[str] = set()
        """Hashes known here though not held open (closed and stored)."""

    def knows(self, hash_hex: str) -> bool:
        self.asked += 1
        return hash_hex in self.known_closed or super().knows(hash_hex)


def test_anti_entropy_asks_knows_only_until_its_fetches_are_full() -> None:
    """A peer's answer names up to ``max_orders`` hashes: only as many are looked up as
    the round can fetch (``ae_max_fetches`` x ``batch_max``), not all of them."""
    theirs = Book([{"hash": f"0x{i:064x}"} for i in range(1, 3_001)])
    mine = CountingBook()
    core, clock = make(peers=1, book=mine, batch_max=100, ae_max_fetches=2)
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": theirs.digest()}), "hashes")
    assert isinstance(hashes.body, dict)
    fetch = only(ok(core, hashes, {"hashes": theirs.hashes_in(hashes.body["buckets"])}), "fetch")
    assert isinstance(fetch.body, dict) and len(fetch.body["hashes"]) == 100
    assert mine.asked == 200  # the round's budget, of 3,000 named


def test_anti_entropy_asks_knows_of_a_bounded_share_when_all_are_known_here() -> None:
    """Hashes known here (closed: each a store lookup on a real node) do not fill the
    fetch budget: a round still looks at no more than ``KNOWS_FACTOR`` budgets of them."""
    known = [{"hash": f"0x{i:064x}"} for i in range(1, 3_001)]
    theirs = Book(known)
    mine = CountingBook()
    mine.known_closed = {o["hash"] for o in known}
    core, clock = make(peers=1, book=mine, batch_max=100, ae_max_fetches=2)
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": theirs.digest()}), "hashes")
    assert isinstance(hashes.body, dict)
    actions = ok(core, hashes, {"hashes": theirs.hashes_in(hashes.body["buckets"])})
    assert not [kind for kind, _ in calls(actions) if kind == "fetch"]  # nothing missing
    assert mine.asked == KNOWS_FACTOR * 200  # of 3,000 named, all known


def test_a_pulled_cancel_proof_is_delivered_to_the_node() -> None:
    core, clock = make(peers=1, book=Book([order(1)]))
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": Book().digest()}), "hashes")
    fetch = only(ok(core, hashes, {"hashes": []}), "fetch")
    assert fetch.body == {"hashes": [], "why": [order(1)["hash"]]}
    proof = {"orderHash": order(1)["hash"], "signature": "0x00"}
    assert ok(core, fetch, {"orders": [], "cancels": [proof]}) == [
        Deliver(peer_id(1), "cancels", proof)
    ]


def test_a_bucket_the_peer_changed_between_its_digest_and_its_hashes_is_not_quiet() -> None:
    """tests62: the peer's digest was read before it took order 1, its hashes after; the
    round had nothing to ask, and the bucket was noted quiet with the digest from before.
    Once the peer's bucket was back to that digest (order 1 soft-cancelled there), ours,
    open with order 1, was never asked about again: the cancel never came
    (test_hostile's soft cancel after a restart, 1 run in 12 under load)."""
    core, clock = make(peers=1, book=Book([order(1)]))
    digest = start_ae(core, clock)
    hashes = only(ok(core, digest, {"buckets": Book().digest()}), "hashes")  # (before)
    actions = ok(core, hashes, {"hashes": [order(1)["hash"]]})  # (after it took order 1)
    assert not [kind for kind, _ in calls(actions) if kind == "fetch"]  # nothing to ask now
    clock.t = core.next_ae  # the peer soft-cancelled it: its bucket is as it was
    hashes = only(ok(core, only(core.tick(), "digest"), {"buckets": Book().digest()}), "hashes")
    fetch = only(ok(core, hashes, {"hashes": []}), "fetch")
    assert fetch.body == {"hashes": [], "why": [order(1)["hash"]]}


def test_snapshot_paging_stops_on_a_cursor_that_does_not_grow_or_an_oversized_page() -> None:
    for next_cursor, page, penalized in [(0, [order(1)], False), (5, [order(1)] * 3, True)]:
        core, _ = make(peers=1, snapshot_page=2)
        snap = boot_snapshot(core)
        assert snap.params == {"after": "0", "limit": "2"}
        actions = ok(core, snap, {"orders": page, "next": next_cursor})
        if penalized:
            assert Scored(peer_id(1), -INVALID_PENALTY) in actions
            assert core.bootstrapped
            continue
        check = next(a for a in actions if isinstance(a, Check))
        core.judge(check.id, ["accepted"])
        assert calls(core.checked(check.id)) == []  # cursor 0 <= 0: done
        assert core.bootstrapped and core.pulled == 1


def test_bootstrap_takes_the_peers_cancelled_orders_first_then_its_open_orders() -> None:
    """attack38: each page of soft-cancelled entries goes to the node (a ``Check`` of
    ``cancelled`` entries), the next page asked once it is judged (review44: its signatures
    recovered off the loop), paged by a cursor that must grow; an oversized page costs the
    peer; the last page goes on to the open orders; a failed call (a node without the route:
    404) or an oversized page is asked again, ``BOOT_TRIES`` walks in all (left48: the first
    failure went on to the open orders, with ``cancels_loaded`` set: the node's gate opened
    without the peer's soft cancels), then the open orders, ``cancels_loaded`` unset."""
    gone = {**order(1), "cancelSignature": "0x01"}
    core, _ = make(peers=1, snapshot_page=2)
    first = only(core.start(), "cancelled")
    assert (first.path, first.params) == ("/p2p/cancelled", {"after": "0", "limit": "2"})
    check = only_check(ok(core, first, {"orders": [gone], "next": 7}))
    assert (check.sender, check.orders, check.cancelled) == (peer_id(1), [gone], True)
    second = only(core.checked(check.id), "cancelled")
    assert second.params == {"after": "7", "limit": "2"}
    snap = only(ok(core, second, {"orders": [], "next": 7}), "snapshot")  # cursor stayed
    assert snap.params == {"after": "0", "limit": "2"}
    assert core.cancels_loaded
    for answer, penalized in [(None, False), ({"orders": [gone] * 3, "next": 9}, True)]:
        core, _ = make(peers=1, snapshot_page=2)
        call = only(core.start(), "cancelled")
        for tried in range(1, BOOT_TRIES + 1):
            reply = None if answer is None else Reply(200, peer_id(1), answer)
            actions = core.answered(call.id, reply)
            assert (Scored(peer_id(1), -INVALID_PENALTY) in actions) is penalized
            assert not any(isinstance(a, Check) for a in actions)
            if tried < BOOT_TRIES:
                call = only(actions, "cancelled")  # the walk again, from its first page
                assert call.params == {"after": "0", "limit": "2"}
        only(actions, "snapshot")
        assert not core.cancels_loaded


def only_check(actions: list[Action]) -> Check:
    """The one action of ``actions``, a ``Check`` (no call goes out meanwhile)."""
    assert len(actions) == 1 and isinstance(actions[0], Check), actions
    return actions[0]


def test_notices_go_to_every_live_peer_one_at_a_time() -> None:
    core, clock = make(peers=3, notice_window=1)  # (the window: gossip93, below)
    core.notify("cancels", {"orderHash": "0x01"}, exclude=peer_id(3))
    core.notify("cancels", {"orderHash": "0x02"})
    first = run_due(core, clock)
    assert sorted(calls(first)) == [
        ("notice", url(1)),
        ("notice", url(2)),
        ("notice", url(3)),
    ]
    to_one = next(a for a in first if isinstance(a, Call) and a.url == url(1))
    assert to_one.body == {"orderHash": "0x01"} and to_one.path == "/p2p/cancels"
    assert [c.body for c in ok(core, to_one, {}) if isinstance(c, Call)] == [{"orderHash": "0x02"}]


def test_notices_go_a_window_at_a_time_and_one_that_failed_goes_first() -> None:
    """gossip93: one at a time, a burst of cancels cost a peer a round trip and a commit
    each in a row; ``notice_window`` of them are in flight now, oldest first, and one whose
    call failed goes again before any not sent yet."""
    core, clock = make(peers=1, notice_window=2)
    for i in range(1, 5):
        core.notify("cancels", {"orderHash": f"0x0{i}"})
    first = [c for c in run_due(core, clock) if isinstance(c, Call)]
    assert [c.body["orderHash"] for c in first] == ["0x01", "0x02"]  # type: ignore[index]
    more = [c for c in ok(core, first[1], {}) if isinstance(c, Call)]
    assert [c.body for c in more] == [{"orderHash": "0x03"}]
    assert not [c for c in core.answered(first[0].id, None) if isinstance(c, Call)]  # failed
    again = [c for c in ok(core, more[0], {}) if isinstance(c, Call)]  # (it answers: no wait)
    assert [c.body for c in again] == [{"orderHash": "0x01"}, {"orderHash": "0x04"}]


def test_a_notice_reaches_a_peer_in_backoff_with_nothing_queued_for_it() -> None:
    """tests63: a peer whose link failed a moment before a cancel (in a backoff, no order
    waiting for it) gets the notice once the backoff is over; before, never."""
    core, clock = make(peers=2)
    lagging = core.peers.get(peer_id(2))
    assert lagging is not None
    core.peers.failed(lagging)  # (a call to it failed just now)
    core.notify("cancels", {"orderHash": "0x01"})
    assert calls(run_due(core, clock)) == [("notice", url(1))]  # the live one at once
    assert clock.t < lagging.retry_at
    later = run_due(core, clock)  # the backoff over
    assert calls(later) == [("notice", url(2))]
    assert only(later, "notice").body == {"orderHash": "0x01"}


@pytest.mark.parametrize(
    ("status", "signed", "dropped", "counted"),
    [
        (404, True, True, 0),  # refused for good: the next notice goes, no failure
        (400, True, True, 0),
        (403, True, False, 1),  # about the sender (banned), not the notice: a failure
        (429, True, False, 0),  # busy: a backoff toward no eviction
        (503, True, False, 0),  # "not stored": the same
        (500, True, False, 1),
        (404, False, False, 1),  # unsigned: anyone on the path could have said it
    ],
)
def test_a_notice_answer_is_told_apart(
    status: int, signed: bool, dropped: bool, counted: int
) -> None:
    """push91: any answer but a 2xx kept the notice at the head of the peer's box, sent
    again for ever, each a failure toward the peer's eviction."""
    core, clock = make(peers=1, notice_window=1)  # (one in flight: gossip93 made it 8)
    core.notify("cancels", {"orderHash": "0x01"})
    core.notify("cancels", {"orderHash": "0x02"})
    first = only(run_due(core, clock), "notice")
    after = core.answered(first.id, Reply(status, peer_id(1) if signed else None, {}))
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.failures == counted
    entry = next(p for p in core.stats()["peers"] if p["key"] == peer_id(1))  # type: ignore[attr-defined]
    assert entry["noticesRefused"] == core.stats()["noticesRefused"] == int(dropped)
    if dropped:
        assert only(after, "notice").body == {"orderHash": "0x02"} and peer.reachable(clock.t)
    else:
        assert not calls(after) and not peer.reachable(clock.t)
        assert only(run_due(core, clock), "notice").body == {"orderHash": "0x01"}


def test_gossip_and_the_simulator_import_nothing_from_the_node() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "sdex"
    for path in [*(root / "gossip").glob("*.py"), *(root / "sim").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith("sdex.node")], path


def test_push_timing_spans_seconds_and_counts_what_it_did_not_time() -> None:
    """A push's hold and round trip run to seconds: buckets up to its timeout, past the
    intake's 102 ms. A hold is taken at a batch's first send to a peer, not at its retries
    after a failed push; failed pushes are counted, and so are orders dropped from the
    hand-over table before any push of theirs left."""
    assert PUSH_EDGES_US[: len(EDGES_US)] == EDGES_US and PUSH_EDGES_US[-1] >= 25e6
    t = PushTiming()
    t.round_trip.add(5e6)
    assert t.round_trip.counts.index(1) < len(PUSH_EDGES_US)  # not the open-ended bucket
    a, b, c, d = ({"hash": k} for k in "abcd")
    t.ORDERS = 2
    t.handed(a, 0.0)
    t.handed(b, 0.0)
    t.pushed("u", [a], 2.0)  # held 2 s
    k = t.hold.counts.index(1)
    assert PUSH_EDGES_US[k - 1] < 2e6 <= PUSH_EDGES_US[k]
    t.failed_push("u", {"orders": [a]})
    t.pushed("u", [a], 3.0)  # the retry
    assert sum(t.hold.counts) == 1 and t.failed == 1
    t.pushed("v", [a], 3.0)  # its first send to another peer
    assert sum(t.hold.counts) == 2
    t.handed(c, 4.0)  # a leaves: it was pushed
    assert t.unpushed == 0
    t.handed(d, 4.0)  # b leaves, never pushed
    assert t.unpushed == 1
    j = t.to_json()
    assert (j["failed"], j["unpushed"], j["edges"]) == (1, 1, list(PUSH_EDGES_US))


def test_a_failed_walk_of_the_peer_that_showed_what_the_empty_seed_hid_is_tried_again() -> None:
    """reorg60 (left50's leftover): the bootstrap's seed served empty pages; the first peer
    that showed orders it did not has its soft cancels walked (left50), and that walk
    failed part way: it set ``cancels_loaded`` back to False (loaded from the seed before)
    and forgot the empty seed, so the next round, with the seed, walked the seed's (empty)
    pages again, set ``cancels_loaded``, and the other peer's soft cancels were never walked.
    Now a failed walk changes neither: the peer's soft cancels are walked in its next round."""
    seed, honest = peer_id(1), peer_id(2)
    theirs = Book([order(1)])
    core, clock = make(peers=1)
    snap = boot_snapshot(core)
    ok(core, snap, {"orders": [], "next": 0})
    assert core.cancels_loaded and core.empty_seed == seed
    core.peers.admit(honest, url(2))
    failed = [0]

    def answer(call: Call) -> list[Action]:
        if call.kind == "cancelled":
            if call.peer == honest and not failed[0]:
                failed[0] += 1
                return core.answered(call.id, None)  # (a page not answered)
            return ok(core, call, {"orders": [], "next": 0})
        if call.kind == "digest":
            shown = theirs if call.peer == honest else Book()
            return ok(core, call, {"buckets": shown.digest()})
        if call.kind == "hashes":
            return ok(core, call, {"hashes": theirs.hashes_in([1])})
        return ok(core, call, {"orders": [], "cancels": []})  # (a fetch: nothing after all)

    def round_() -> tuple[str, list[str]]:
        """One anti-entropy round to its end: its peer and the kinds of its calls."""
        clock.t = core.next_ae
        actions, kinds, peer = core.tick(), [], ""
        while pending := [a for a in actions if isinstance(a, Call)]:
            peer = pending[0].peer
            kinds.append(pending[0].kind)
            actions = answer(pending[0])
        return peer, kinds

    rounds: list[tuple[str, list[str]]] = []  # (each after the failed walk)
    for _ in range(200):
        after = failed[0]
        peer, kinds = round_()
        if failed[0]:
            assert core.cancels_loaded  # (the seed's walk ended: the gate stays open)
        if after:
            rounds.append((peer, kinds))
        peers = [p for p, _ in rounds]
        if seed in peers and peers[-1] == honest and peers.index(seed) < len(peers) - 1:
            break  # (the seed's round, then the other's: the order the hole needed)
    else:
        raise AssertionError("no round with the seed, then one with the other peer")
    walked = [p for p, kinds in rounds if "cancelled" in kinds]
    assert walked == [honest], rounds  # before: []
    assert core.empty_seed is None
