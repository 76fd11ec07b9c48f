"""review86b: ``sdex.gossip.alike``'s two medians (f7818fe6: a charge forgiven only within
``ALIKE`` times the lower of the others' weighted median and the count median of the others
near it, charged at least its sum over ``NEAR``) gamed by ids placed on ``NEAR``'s floor.

Grief: beside R honest relays pushing alike, R - 1 admitted ids each charged 1/11 of a relay
(just above ``NEAR``'s floor, below a third) are the lower half of each relay's near others:
its count median is theirs, no relay charge is forgiven (0 of 160 beside 4 relays; at
f7818fe6~1, by weight alone: 159). The attacker's cost is (R - 1)/11 of one relay's intake
in all, and its ids' own charges are forgiven (each has the relays for its medians).

Forgiveness: a flood over 4 ids, each charged 13 times an honest relay, is forgiven whole
beside any number of relays up to ~38: each id's near others (at least 13/12 of a relay)
are its 3 colluders alone, so its count median is theirs and so is the weighted median
(the flood's weight). The split flood review84 found needs only to be pushed harder than
``NEAR`` times the relays to need 4 ids, whatever their number (also so at f7818fe6~1).

No rule of the charges alone takes both (alike86, ``tests/test_alike86_scale.py``). stand89:
the honest relays have standing (an order each delivered first traded lately, a fill that
paid this node its fee: ``Peers.has_traded``) and the attacker's ids none; while 2 others
with standing are active the medians are theirs alone, and a charge is forgiven only beside
2 of them near it. Each id with standing costs a trade that pays this node its fee, once an
hour (``standings.TRADED_SECONDS``): one buys no id of a 4-id flood its forgiveness, 2 buy
the 2 ids without it theirs, 3 all 4's (``test_a_trade_buys_a_flood_little``)."""

from __future__ import annotations

import pytest

from sdex.gossip.alike import Pushers
from tests.test_review84_alike_split import HONEST, Clock

ROUNDS = 40


def forgiven(honest: int, ids: dict[str, float], traded: int = 0, new: int = 0) -> dict[str, int]:
    """Charges forgiven in ``ROUNDS`` rounds of 0.1 s: ``ids``' each round (their own
    charge; the first ``traded`` of them with standing), then each of ``honest`` relays'
    (``HONEST`` tokens, with standing), then each of ``new`` honest relays' (``HONEST``,
    none); the relays' summed as "honest" and "new"."""
    clock, out = Clock(), {"honest": 0, "new": 0}
    p = Pushers(clock)
    for _ in range(ROUNDS):
        clock.now += 0.1
        for i, (name, tokens) in enumerate(ids.items()):
            out[name] = out.get(name, 0) + p.forgive(name, tokens, i < traded)
        for k in range(honest):
            out["honest"] += p.forgive(f"honest{k}", HONEST, True)
        for k in range(new):
            out["new"] += p.forgive(f"new{k}", HONEST, False)
    return out


@pytest.mark.parametrize("relays", [3, 4, 8])
def test_relays_alike_forgiven_beside_fewer_ids_on_the_floor(relays: int) -> None:
    got = forgiven(relays, {f"sybil{k}": HONEST / 11 for k in range(relays - 2)})
    assert got["honest"] > 0.9 * relays * ROUNDS, got


@pytest.mark.parametrize("relays", [3, 4, 8])
def test_ids_just_above_the_near_floor_undo_the_relays_forgiveness(relays: int) -> None:
    got = forgiven(relays, {f"sybil{k}": HONEST / 11 for k in range(relays - 1)})
    assert got["honest"] > 0.9 * relays * ROUNDS, got  # (stand89~: 0; f7818fe6~1: 118/159/319)


def test_a_flood_over_three_ids_far_above_the_relays_is_charged() -> None:
    got = forgiven(4, {f"flood{k}": 13 * HONEST for k in range(3)})
    assert all(got[f"flood{k}"] == 0 for k in range(3)), got


@pytest.mark.parametrize("relays", [4, 16, 32])
def test_a_flood_over_four_ids_far_above_the_relays_is_charged(relays: int) -> None:
    got = forgiven(relays, {f"flood{k}": 13 * HONEST for k in range(4)})
    flood = sum(got[f"flood{k}"] for k in range(4))
    assert flood < 0.1 * 4 * ROUNDS, got  # (stand89~ and f7818fe6~1: 157 of 160 forgiven)


@pytest.mark.parametrize("relays", [3, 4, 8])
def test_a_new_relay_without_standing_is_forgiven_beside_relays_with_it(relays: int) -> None:
    """An honest relay none of whose orders traded yet, pushing alike the relays with
    standing, beside the ids on the floor: judged by theirs, forgiven as they are."""
    got = forgiven(relays, {f"sybil{k}": HONEST / 11 for k in range(relays - 1)}, new=2)
    assert got["new"] > 0.9 * 2 * ROUNDS, got
    assert got["honest"] > 0.9 * relays * ROUNDS, got


def test_relays_none_of_which_has_standing_are_forgiven_as_before() -> None:
    """No pusher with standing (a node asking no fee credits no trade): the charges alone
    judge, and relays alike are forgiven (test_alike86_scale holds for them)."""
    got = forgiven(0, {}, new=4)
    assert got["new"] > 0.9 * 4 * ROUNDS, got


@pytest.mark.parametrize(("traded", "most"), [(1, 0), (2, 2), (3, 4)])
def test_a_trade_buys_a_flood_little(traded: int, most: int) -> None:
    """A flood over 4 ids each 13 times a relay, ``traded`` of them with standing (a trade
    that paid this node its fee each, within the hour), beside 4 relays with it: at most
    ``most`` of its ids forgiven (more than a round's worth), never one with standing (its
    near others with standing are its colluders, one fewer than the others have)."""
    got = forgiven(4, {f"flood{k}": 13 * HONEST for k in range(4)}, traded=traded)
    ids = [got[f"flood{k}"] for k in range(4)]
    assert sum(n > 1 for n in ids) <= most, got
    assert got["honest"] > 0.9 * 4 * ROUNDS, got
    if traded < 3:
        assert all(n <= 1 for n in ids[:traded]), got
