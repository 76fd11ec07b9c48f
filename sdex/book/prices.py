"""An order's price on its way to a level: its amounts reduced to whole units (``int_gcd``:
the level's exact ``num/den``), then a float ``ratio`` that ranks the levels of a side
(``sdex.book.ladder``).

Python's int true division is correctly rounded, hence monotone: distinct prices never
compare in the wrong order by their floats (equal floats fall back to exact
cross-multiplication, in ``BookSide``). Pure arithmetic: imports nothing of ``sdex``."""

from __future__ import annotations

from math import gcd
from operator import truediv
from typing import Final

_EXACT: Final = 2**53  # ints below it are exact floats
_SMALL: Final = 2**60  # below it, an int is a machine int in the compiled book


def ratio(num: int, den: int) -> float:
    """``num / den`` correctly rounded, hence monotone: distinct prices never get floats in
    the wrong order, only equal ones. Python's int division is; compiled by mypyc it
    converts both ints to floats first (two roundings) unless they are big, so ints a float
    cannot hold go through ``truediv`` (Python's own, in both)."""
    if num < _EXACT and den < _EXACT:
        return num / den  # both exact: one rounding, the division's
    return float(truediv(num, den))


def int_gcd(a: int, b: int) -> int:
    """``math.gcd``, natively while both are machine ints (cheaper than a call to it)."""
    if a < _SMALL and b < _SMALL:
        while b:
            a, b = b, a % b
        return a
    return gcd(a, b)
