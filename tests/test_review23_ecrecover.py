"""Edge signatures for the one-call recovery (``sdex.ingest.ecrecover``) beyond
tests/test_ecrecover.py's table: a signature whose recovered key is the point at infinity,
the low-s boundary exactly, an r that is a curve x at or above n, and the other v values:
always what coincurve's path says (``None`` or the same signer), never an exception."""

from __future__ import annotations

import pytest
from coincurve import PrivateKey

from sdex.ingest import ecrecover
from sdex.keccak import keccak
from sdex.order import SECP256K1_HALF_N, SECP256K1_N

P = 2**256 - 2**32 - 977


def _point(k: int) -> tuple[int, int]:
    raw = PrivateKey(k.to_bytes(32, "big")).public_key.format(compressed=False)
    return int.from_bytes(raw[1:33]), int.from_bytes(raw[33:])


def _sig(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))


def _infinity() -> tuple[bytes, bytes]:
    """A digest and signature whose recovery is r^-1 (sR - eG) = infinity: R = kG, e = sk."""
    k, s = 5, 3
    x, y = _point(k)
    return (s * k % SECP256K1_N).to_bytes(32, "big"), _sig(x, s, y & 1)


def _x_above_n() -> int:
    """The smallest x >= n that is a point's x (x**3 + 7 a square mod p)."""
    x = SECP256K1_N
    while pow(x**3 + 7, (P - 1) // 2, P) != 1:
        x += 1
    return x


DIGEST = keccak(b"edge")
GOOD = PrivateKey(bytes.fromhex("42" * 32)).sign_recoverable(DIGEST, hasher=None)
R = int.from_bytes(GOOD[:32])
CASES = [
    ("the key at infinity", *_infinity()),
    ("s exactly n/2", DIGEST, _sig(R, SECP256K1_HALF_N, 0)),
    ("s n/2 + 1", DIGEST, _sig(R, SECP256K1_HALF_N + 1, 0)),
    ("s n - 1", DIGEST, _sig(R, SECP256K1_N - 1, 0)),
    ("r n - 1", DIGEST, _sig(SECP256K1_N - 1, 1, 0)),
    ("r a curve x above n", DIGEST, _sig(_x_above_n(), 1, 0)),
    ("r p - 1", DIGEST, _sig(P - 1, 1, 1)),
    *((f"v {v}", DIGEST, GOOD[:64] + bytes((v,))) for v in (0, 1, 2, 3, 26, 27, 28, 29, 255)),
]


@pytest.mark.parametrize(("digest", "sig"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_edge_signature_s_signer_is_coincurve_s(digest: bytes, sig: bytes) -> None:
    assert ecrecover._one_call(digest, sig) == ecrecover._coincurve(digest, sig)


def test_the_key_at_infinity_has_no_signer() -> None:
    digest, sig = _infinity()
    assert ecrecover.signer_of(digest, sig) is None
