"""``sdex.keccak.keccak`` takes bytes, bytearray or memoryview only: anything else is a
``TypeError``, never a digest of something else (``bytes(3)`` is three zero bytes)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_hash.auto import keccak as eth_keccak

from sdex.keccak import keccak


@pytest.mark.parametrize("value", [3, 0, 10**10, -1, "abc", None, 1.5, [1, 2, 3]])
def test_wrong_type_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError):
        keccak(value)


def test_int_is_not_hashed_as_zero_bytes() -> None:
    with pytest.raises(TypeError):
        keccak(3)  # type: ignore[arg-type]
    assert keccak(b"\0\0\0") == eth_keccak(b"\0\0\0")


@pytest.mark.parametrize("n", [0, 1, 31, 32, 135, 136, 137, 500])
def test_bytes_like_give_the_bytes_digest(n: int) -> None:
    data = bytes((i * 7 + 3) % 256 for i in range(n))
    want = eth_keccak(data)
    assert keccak(data) == want
    assert keccak(bytearray(data)) == want
    assert keccak(memoryview(data)) == want  # type: ignore[arg-type]
    assert keccak(memoryview(b"xx" + data + b"yy")[2 : 2 + n]) == want  # type: ignore[arg-type]
