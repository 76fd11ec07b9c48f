"""Gas limits of settlement transactions: a bound per match, fallback included."""

from __future__ import annotations

GAS_PER_MATCH = 250_000
"""A bound on one match's gas in a batch, fallback included: a token failure reruns the
batch one call frame per match after the inline attempt (bench/gas.py: ~118k inline for
two fresh makers, about as much again per own frame)."""
LONE_GAS = 200_000
"""A lone match (measured: ~134k packed, ~137k as `matchOrders`, for two new orders of fresh
makers)."""
BASE_GAS = 60_000
MAX_TX_GAS = 16_000_000
"""Under Hardhat's per-transaction cap of 16,777,216 (the default max_batch is 64 matches)."""
FALLBACK_FACTOR = 2.2
"""A batch's gas per match, fallback included, over the most gas per match a settled batch
used so far (the fallback repeats the inline attempt, one call frame per match)."""
LEARN_FROM = 8
"""Batches of at least this many matches teach the gas per match (in smaller ones the
transaction's own cost weighs too much)."""
GAP_FILL_GAS = 21_000


def settlement_gas(matches: int, per_match: int = GAS_PER_MATCH) -> int:
    """The gas limit of a settlement of ``matches`` matches (``per_match``: a bound on one
    match's gas, fallback included)."""
    if matches == 1:
        return LONE_GAS
    return min(MAX_TX_GAS, BASE_GAS + per_match * matches)


def fitting_batch(per_match: int) -> int:
    """The most matches whose settlement gas, at ``per_match`` each, fits one transaction."""
    return max(1, (MAX_TX_GAS - BASE_GAS) // max(1, per_match))
