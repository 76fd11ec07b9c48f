"""review82b: a few admitted ids charged next to nothing (pushes of copies: a share's
``known`` check alone) pull ``sdex.gossip.alike``'s lower median of the others down, so
honest relays pushing alike lose their forgiveness (peers81's gain undone)."""

from __future__ import annotations

from sdex.gossip.alike import Pushers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def forgiven_honest(tiny_ids: int, honest: int = 4, rounds: int = 40) -> int:
    """Charges of ``honest`` relays (20 tokens a push each, alike) forgiven in ``rounds``
    rounds of 0.1 s, beside ``tiny_ids`` ids charged 0.01 token each round."""
    clock = Clock()
    p = Pushers(clock)
    forgiven = 0
    for _ in range(rounds):
        clock.now += 0.1
        for k in range(tiny_ids):
            p.forgive(f"sybil{k}", 0.01)
        for k in range(honest):
            forgiven += p.forgive(f"honest{k}", 20.0)
    return forgiven


def test_honest_relays_alike_are_forgiven_alone() -> None:
    assert forgiven_honest(0) == 4 * 40 - 3  # (the first round: fewer than 3 others yet)


def test_three_near_idle_ids_undo_four_honest_relays_forgiveness() -> None:
    # the attack: 3 ids, each pushing copies now and then (charged ~nothing), beside 4 honest
    # relays; each honest relay's "others" are 3 honest + 3 tiny: the lower median is tiny
    assert forgiven_honest(3) > 0.9 * 4 * 40, "honest relays lost their forgiveness"
