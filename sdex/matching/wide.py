"""Products and quotients of amounts as machine ints where they fit, exactly.

Compiled by mypyc, an ``int`` is a machine int below 2**62, but a product takes the fast
path only when both factors are below 2**30, and an int past 62 bits is a Python int (an
allocation and a general multiplication and division). The walk (``sdex.matching.walk``)
multiplies amounts by price units (``Entry.unit``, ``tunit``) on every match: ``mul``
multiplies as a 64-bit machine int (``i64``) whenever a float shows the product fits, and
``muldiv`` gives ``divmod(a * n, d)`` without the product past 62 bits, while ``a``, ``n``
< 2**62, ``d`` < 2**59 and the quotient is below 2**52:

- a float estimate ``c`` of the quotient is within 3 of it (three roundings, each relative
  2**-53, on a quotient below 2**52);
- so the true remainder ``e = a * n - c * d`` lies in ``(-3d, 3d)``, inside ``(-2**61,
  2**61)``, and is recovered exactly from ``a * n`` and ``c * d`` modulo 2**62, computed in
  31-bit halves (every intermediate below 2**63: no overflow, no wrapping);
- ``c`` is then corrected by whole ``d`` steps.

Otherwise the plain Python-int operations. Same results either way, compiled or not (the
source runs ``i64`` as ``int``; tests/test_book_native.py checks both against Python's).
``product_gt`` compares two products of amounts by floats, exactly where they are too close.
"""

from __future__ import annotations

from typing import Final

try:
    from mypy_extensions import i64
except ImportError:  # pragma: no cover - installed with mypy/mypyc, which build the book
    i64 = int  # type: ignore[misc]

_M31: Final = 2**31 - 1
_M62: Final = 2**62 - 1  # operands a, n at most this
_D_TOP: Final = 2**59  # divisor below it
_Q_TOP: Final = 4503599627370496.0  # 2**52: estimates below it are exact ints
_P_TOP: Final = 2305843009213693952.0  # 2**61: float products below it fit (< 2**62)
_HALF: Final = 2**61


def mul(a: int, b: int) -> int:
    """``a * b`` for ints >= 0."""
    if a <= _M62 and b <= _M62 and float(a) * float(b) < _P_TOP:
        return int(i64(a) * i64(b))
    return a * b


def low62(a: int, n: int) -> int:
    """``(a * n) % 2**62`` for 0 <= a, n < 2**62, by 31-bit halves (machine ints only)."""
    x: i64 = a
    y: i64 = n
    xh = x >> 31
    xl = x & _M31
    yh = y >> 31
    yl = y & _M31
    mid = (((xh * yl) & _M31) + ((xl * yh) & _M31)) & _M31  # the 2**31 digit, mod 2**31
    hi = mid << 31  # < 2**62
    lo = xl * yl  # < 2**62
    return int((hi + lo) & _M62)  # < 2**63: no overflow


def muldiv(a: int, n: int, d: int) -> tuple[int, int]:
    """``divmod(a * n, d)`` for ints a, n >= 0 and d > 0."""
    if a <= _M62 and n <= _M62 and d < _D_TOP:
        f = float(a) * float(n) / float(d)
        if f < _Q_TOP:
            c: i64 = int(f)
            dd: i64 = d
            e: i64 = low62(a, n) - low62(int(c), d)  # a*n - c*d modulo 2**62, |.| < 2**62
            if e >= _HALF:
                e -= _M62 + 1
            elif e < -_HALF:
                e += _M62 + 1
            while e < 0:
                c -= 1
                e += dd
            while e >= dd:
                c += 1
                e -= dd
            return int(c), int(e)
    q, r = divmod(a * n, d)
    return q, r


_UP: Final = 1.0 + 4e-15
_DOWN: Final = 1.0 - 4e-15


def product_gt(a: int, b: int, c: int, d: int) -> bool:
    """``a * b > c * d`` for ints >= 0, by floats unless they are too close to tell (each
    float product is within 4e-16 of the exact one, relatively): products of amounts pass
    62 bits, and such Python ints are dear next to machine floats."""
    p = float(a) * float(b)
    q = float(c) * float(d)
    if p > q * _UP:
        return True
    if p < q * _DOWN:
        return False
    return a * b > c * d
