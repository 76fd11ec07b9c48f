"""review84: the weighted median (peers83, ``sdex.gossip.alike``) is weighted by the others'
charges, and a flooder makes its own charges: a flood split over two admitted ids is
forgiven where one id's is charged. Beside 4 honest relays alike, ids charged 12 and 5 times
one of them each have the other in the others' weighted median (5 of 9, past half; 12 of
16): both are forgiven, 17 times an honest relay's intake, while a single id charged 4 times
one is not. By count (c22f53b4, peers81) neither was: the lower median of the others was an
honest relay's till the colluding ids outnumbered the honest relays. A flood of 4 times all
the honest relays' intake together, split evenly, has 90% of its charges forgiven with 2 ids
beside 4 honest relays (c22f53b4: 6), 3 beside 8 (10), 4 beside 16 (18): the colluders'
"half of the others' charges" the weighted median asks is what a flood makes anyway."""

from __future__ import annotations

from sdex.gossip.alike import Pushers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


HONEST = 20.0


def forgiven(flood: dict[str, float], honest: int = 4, rounds: int = 40) -> dict[str, int]:
    """Charges forgiven in ``rounds`` rounds of 0.1 s, each honest relay charged ``HONEST``
    tokens a round and each of ``flood``'s ids its own charge."""
    clock, out = Clock(), {}
    p = Pushers(clock)
    for _ in range(rounds):
        clock.now += 0.1
        for k in range(honest):
            p.forgive(f"honest{k}", HONEST)
        for name, tokens in flood.items():
            out[name] = out.get(name, 0) + p.forgive(name, tokens)
    return out


def test_a_lone_flooder_is_charged() -> None:
    assert forgiven({"flooder": 4 * HONEST})["flooder"] == 0


def test_a_flood_split_over_two_ids_is_not_forgiven() -> None:
    got = forgiven({"flooder": 12 * HONEST, "colluder": 5 * HONEST})
    assert got == {"flooder": 0, "colluder": 0}, got
