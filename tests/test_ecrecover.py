"""An order's signer with one call into libsecp256k1 (``sdex.ingest.ecrecover``) is what
coincurve's path (``sdex.order.recover_signer``) says, for good and bad signatures alike."""

from __future__ import annotations

import pytest
from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.ingest import ecrecover
from sdex.ingest.verify import ecdsa_ok
from sdex.keccak import keccak
from sdex.order import ZERO_ADDRESS, Domain, Order, random_salt, sign_order
from sdex.signature import SECP256K1_N, address_of

KEY = bytes.fromhex("42" * 32)
DIGEST = keccak(b"an order")
SIG = PrivateKey(KEY).sign_recoverable(DIGEST, hasher=None)  # v is 0 or 1 here
R, S, V = int.from_bytes(SIG[:32]), int.from_bytes(SIG[32:64]), SIG[64]


def _sig(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))


def test_this_build_takes_the_one_call_path() -> None:
    assert ecrecover.ONE_CALL
    assert ecrecover.signer_of is ecrecover._one_call


CASES = [
    ("v as 0/1", DIGEST, SIG, address_of(KEY)),
    ("v as 27/28", DIGEST, SIG[:64] + bytes((V + 27,)), address_of(KEY)),
    ("another digest: another signer", keccak(b"x"), SIG, "other"),
    ("the other recovery id: another signer", DIGEST, SIG[:64] + bytes((1 - V,)), "other"),
    ("v 2", DIGEST, SIG[:64] + b"\x02", None),
    ("v 26", DIGEST, SIG[:64] + b"\x1a", None),
    ("v 29", DIGEST, SIG[:64] + b"\x1d", None),
    ("s in the upper half", DIGEST, _sig(R, SECP256K1_N - S, 1 - V), None),
    ("r 0", DIGEST, _sig(0, S, V), None),
    ("s 0", DIGEST, _sig(R, 0, V), None),
    ("r n", DIGEST, _sig(SECP256K1_N, S, V), None),
    ("r above n", DIGEST, _sig(2**256 - 1, S, V), None),
    ("64 bytes", DIGEST, SIG[:64], None),
    ("66 bytes", DIGEST, SIG + b"\x00", None),
    ("no bytes", DIGEST, b"", None),
    ("a 31-byte digest", DIGEST[:31], SIG, None),
    ("a 33-byte digest", DIGEST + b"\x00", SIG, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("digest", "sig", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_signature_s_signer(digest: bytes, sig: bytes, want: str | None) -> None:
    got = ecrecover._one_call(digest, sig)
    assert got == ecrecover._coincurve(digest, sig)
    if want == "other":
        assert got is not None and got != address_of(KEY)
    else:
        assert got == want


@settings(max_examples=300, deadline=None)
@given(
    key=st.integers(1, SECP256K1_N - 1),
    digest=st.binary(min_size=32, max_size=32),
    flips=st.lists(st.tuples(st.integers(0, 64), st.integers(1, 255)), max_size=3),
    r=st.none() | st.integers(0, 2**256 - 1),
)
def test_the_one_call_path_agrees_with_coincurve(
    key: int, digest: bytes, flips: list[tuple[int, int]], r: int | None
) -> None:
    """Good signatures, bytes flipped in them (v, r, s), and any r at all (most have no
    point on the curve): the same signer, or none, both ways."""
    sig = bytearray(PrivateKey(key.to_bytes(32, "big")).sign_recoverable(digest, hasher=None))
    for at, x in flips:
        sig[at] ^= x
    if r is not None:
        sig[:32] = r.to_bytes(32, "big")
    assert ecrecover._one_call(digest, bytes(sig)) == ecrecover._coincurve(digest, bytes(sig))


def test_an_order_s_check_uses_it() -> None:
    o = Order(
        address_of(KEY), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, random_salt(),
    )  # fmt: skip
    signed = sign_order(o, Domain(31337, "0x" + "ab" * 20), KEY)
    assert ecdsa_ok(signed) is True
    other = sign_order(o, Domain(31337, "0x" + "ab" * 20), bytes.fromhex("43" * 32))
    forged = type(signed)(order=signed.order, signature=other.signature, hash=signed.hash)
    assert ecdsa_ok(forged) is False
