"""share78: a waiting call of ``Turns`` that needs several keys (a window's ``(rest)`` read:
its makers', ``(rest)``'s, its submitters') is not overtaken for ever by later calls that need
fewer. Before, ``_serve`` handed each freed turn to the first waiting call whose keys were
all free: later single-key calls took every freed turn of each key one after another, the
keys were never all free at once, and the shared read waited to its deadline."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.chain.arpcturns import Turns

ROUNDS = 200
"""Turns each adversary worker takes at most (the shared call is served long before)."""


@pytest.mark.parametrize(
    ("per_key", "keys", "holds"),
    [
        (1, "ab", (1, 2)),
        (2, "ab", (1, 2)),
        (1, "abc", (1, 2, 3)),
        (3, "abcd", (2, 1, 3, 1)),
    ],
)
async def test_a_many_keyed_call_is_not_overtaken_for_ever(
    per_key: int, keys: str, holds: tuple[int, ...]
) -> None:
    """Each key held to its bound by ``per_key`` + 1 workers that take it again as soon as
    they leave it (holding it ``holds`` loop turns each, so the keys free at different
    moments): a call for all the keys still gets its turn, and each key stays bounded."""
    turns = Turns(per_key)
    inside: dict[str, int] = {}
    done = asyncio.Event()

    async def worker(key: str, hold: int) -> int:
        rounds = 0
        while not done.is_set() and rounds < ROUNDS:
            async with turns.turn(key):
                inside[key] = inside.get(key, 0) + 1
                assert inside[key] <= per_key
                for _ in range(hold):
                    await asyncio.sleep(0)
                inside[key] -= 1
            rounds += 1
        return rounds

    workers = [
        asyncio.ensure_future(worker(k, h))
        for k, h in zip(keys, holds, strict=True)
        for _ in range(per_key + 1)
    ]
    while any(turns.busy(k) < per_key for k in keys):  # (every key at its bound)
        await asyncio.sleep(0)

    async def shared() -> None:
        async with turns.turns(keys):
            assert all(inside.get(k, 0) < per_key for k in keys)
            done.set()

    wide = asyncio.ensure_future(shared())
    async with asyncio.timeout(30):
        rounds = await asyncio.gather(*workers)
    assert max(rounds) < ROUNDS, f"overtaken until every worker stopped ({sum(rounds)} turns)"
    await wide
    assert not turns._busy and not turns._waiting and not turns._passed


@settings(max_examples=40, deadline=None)
@given(
    per_key=st.integers(1, 3),
    wide=st.lists(st.sampled_from("abcd"), min_size=2, max_size=4, unique=True),
    holds=st.lists(st.integers(1, 4), min_size=4, max_size=4),
)
def test_any_many_keyed_call_gets_its_turn_while_others_press(
    per_key: int, wide: list[str], holds: list[int]
) -> None:
    """The same for any keys and holds (hypothesis): the call needing several keys enters
    while the workers still press, and nothing is left taken or kept after."""
    hold = dict(zip("abcd", holds, strict=True))

    async def run() -> None:
        turns = Turns(per_key)
        done = asyncio.Event()

        async def worker(key: str) -> int:
            rounds = 0
            while not done.is_set() and rounds < ROUNDS:
                async with turns.turn(key):
                    for _ in range(hold[key]):
                        await asyncio.sleep(0)
                rounds += 1
            return rounds

        workers = [asyncio.ensure_future(worker(k)) for k in wide for _ in range(per_key + 1)]
        while any(turns.busy(k) < per_key for k in wide):
            await asyncio.sleep(0)

        async def shared() -> None:
            async with turns.turns(wide):
                done.set()

        call = asyncio.ensure_future(shared())
        async with asyncio.timeout(30):
            rounds = await asyncio.gather(*workers)
            await call
        assert max(rounds) < ROUNDS, rounds
        assert not turns._busy and not turns._waiting and not turns._passed

    asyncio.run(run())
