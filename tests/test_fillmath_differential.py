"""Differential test: ``sdex.fillmath`` against the contract's ``LibFill`` on the same inputs.

Thousands of random and edge cases (0, 1, primes, 2**128, 2**255-1, 2**256-1) go to the
``FillMathHarness`` in batched ``eth_call``s; every result — amounts or the exact failure —
must be identical.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

from sdex import fillmath
from sdex.chain import deploy, load_abi
from sdex.chain.abi import Function
from sdex.chain.exchange import error_decoder
from sdex.errors import ContractRevert, ExchangeError
from tests.conftest import Chain

U256 = 2**256 - 1
EDGES = [0, 1, 2, 3, 97, 65_537, 1_000_000_007, 2**61 - 1, 10**18, 2**128, 2**255 - 1, U256]


def python_outcome(fn: Callable[..., Any], args: tuple[int, ...]) -> tuple[object, ...]:
    try:
        r = fn(*args)
    except fillmath.ZeroFillAmount:
        return ("ZeroFillAmount",)
    except fillmath.PricesDoNotCross:
        return ("PricesDoNotCross",)
    except OverflowError:
        return ("Panic", 0x11)
    except ZeroDivisionError:
        return ("Panic", 0x12)
    return tuple(getattr(r, s) for s in r.__slots__)


def chain_outcome(f: Function, result: object) -> tuple[object, ...]:
    if isinstance(result, ContractRevert):
        err = error_decoder().decode(result)
        assert isinstance(err, ExchangeError), f"undecodable revert {result}"
        if err.name == "Panic":
            return ("Panic", err.args_by_name["code"])
        return (err.name,)
    assert isinstance(result, str)
    return f.decode_output(bytes.fromhex(result[2:]))


def fill_inputs(rng: random.Random, n: int) -> Iterator[tuple[int, ...]]:
    def amount() -> int:
        return (
            rng.choice(EDGES)
            if rng.random() < 0.3
            else rng.randrange(1, 2 ** rng.randrange(1, 257))
        )

    for m, t in itertools.product(EDGES[1:], EDGES[1:]):
        yield (m, t, t // 3, m // 2, t // 2)
    for _ in range(n):
        m, t = amount(), amount()
        yield (m, t, rng.randrange(0, t + 1), rng.randrange(0, m + 1), amount())


def match_inputs(rng: random.Random, n: int) -> Iterator[tuple[int, ...]]:
    def amount() -> int:
        return (
            rng.choice(EDGES[1:])
            if rng.random() < 0.3
            else rng.randrange(1, 2 ** rng.randrange(1, 257))
        )

    def cap(remaining: int) -> int:
        r = rng.random()
        if r < 0.5:
            return U256  # no cap
        if r < 0.55:
            return rng.choice([0, 1])
        return rng.randrange(0, remaining + 2)  # below, at and just above the remainder

    for lm, lt in itertools.product(EDGES[1:], EDGES[1:]):
        yield (lm, lt, lt // 7, 0, lt, lm, 0, 0, U256)  # exactly crossing prices
    for _ in range(n):
        lm, lt, rm, rt = amount(), amount(), amount(), amount()
        if rng.random() < 0.5:  # make many of them cross: right price = left price * (1 + e)
            rm, rt = min(lt * rng.randrange(1, 4), U256), lm
        lf = rng.randrange(0, lm + 1)
        yield (
            lm, lt, rng.randrange(0, lt + 1), lf,
            rm, rt, rng.randrange(0, rt + 1), rng.randrange(0, rm + 1), cap(lm - lf),
        )  # fmt: skip


def encode(f: Function, args: tuple[int, ...]) -> bytes:
    # the harness takes matchAmounts' nine numbers as one uint256[9] (same ABI bytes)
    return f.encode(list(args)) if f.name == "matchAmounts" else f.encode(*args)


def run_differential(
    c: Chain, name: str, py: Callable[..., Any], cases: list[tuple[int, ...]]
) -> int:
    harness = deploy(c.sender(0), "FillMathHarness")
    f = load_abi("FillMathHarness").fn(name)
    checked = 0
    for start in range(0, len(cases), 400):
        chunk = cases[start : start + 400]
        calls = [
            ("eth_call", [{"to": harness, "data": "0x" + encode(f, args).hex()}, "latest"])
            for args in chunk
        ]
        for args, result in zip(chunk, c.rpc.batch(calls), strict=True):
            assert chain_outcome(f, result) == python_outcome(py, args), f"{name}{args}"
            checked += 1
    return checked


def test_fill_order_amounts_match_contract(chain: Chain) -> None:
    cases = list(fill_inputs(random.Random(1), 3000))
    assert run_differential(chain, "fillOrderAmounts", fillmath.fill_order_amounts, cases) == len(
        cases
    )


def test_match_amounts_match_contract(chain: Chain) -> None:
    cases = list(match_inputs(random.Random(2), 3000))
    outcomes = {python_outcome(fillmath.match_amounts, a)[0] for a in cases}
    # the sample exercises trades and both failure modes, not just one branch
    assert {"ZeroFillAmount", "PricesDoNotCross"} <= outcomes and len(outcomes) > 2
    assert run_differential(chain, "matchAmounts", fillmath.match_amounts, cases) == len(cases)
