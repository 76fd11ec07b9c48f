"""``sdex.ecrecover``: the ctypes recovery gives coincurve's answer on every input (what it
saves, GIL hand-overs, is measured in docs/BENCHMARKS.md "http9", not asserted)."""

from __future__ import annotations

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex import ecrecover, order
from sdex.errors import SignatureError
from sdex.order import SECP256K1_N, recover_signer

pytestmark = pytest.mark.skipif(
    ecrecover.recover_point is None, reason="coincurve's libsecp256k1 not loadable by ctypes"
)


def _coincurve_point(sig64: bytes, recid: int, digest: bytes) -> bytes | None:
    try:
        pub = coincurve.PublicKey.from_signature_and_message(
            sig64 + bytes([recid]), digest, hasher=None
        )
    except Exception:
        return None
    return pub.format(compressed=False)[1:]


keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(
    lambda k: coincurve.PrivateKey(k.to_bytes(32, "big"))
)


@settings(max_examples=200, deadline=None)
@given(key=keys, digest=st.binary(min_size=32, max_size=32))
def test_a_real_signature_recovers_to_its_key(key: coincurve.PrivateKey, digest: bytes) -> None:
    raw = key.sign_recoverable(digest, hasher=None)
    assert ecrecover.recover_point is not None
    point = ecrecover.recover_point(raw[:64], raw[64], digest)
    assert point == key.public_key.format(compressed=False)[1:]
    assert point == _coincurve_point(raw[:64], raw[64], digest)


@settings(max_examples=300, deadline=None)
@given(
    sig=st.binary(min_size=64, max_size=64),
    recid=st.sampled_from([0, 1]),
    digest=st.binary(min_size=32, max_size=32),
)
def test_any_bytes_give_coincurves_answer(sig: bytes, recid: int, digest: bytes) -> None:
    """Hostile bytes (r or s zero or past the order, r no point's x): the same point or
    the same failure, never a crash."""
    assert ecrecover.recover_point is not None
    assert ecrecover.recover_point(sig, recid, digest) == _coincurve_point(sig, recid, digest)


def test_arguments_the_library_would_abort_on_are_refused_before_it() -> None:
    rp = ecrecover.recover_point
    assert rp is not None
    for sig, recid, digest in ((bytes(63), 0, bytes(32)), (bytes(64), 2, bytes(32)),
                               (bytes(64), 0, bytes(31))):  # fmt: skip
        with pytest.raises(ValueError):
            rp(sig, recid, digest)


@settings(max_examples=50, deadline=None)
@given(key=keys, digest=st.binary(min_size=32, max_size=32), v27=st.booleans())
def test_recover_signer_is_the_same_either_way(
    key: coincurve.PrivateKey, digest: bytes, v27: bool
) -> None:
    raw = bytearray(key.sign_recoverable(digest, hasher=None))
    raw[64] += 27 if v27 else 0
    fast = recover_signer(digest, bytes(raw))
    saved, order._RECOVER = order._RECOVER, None
    try:
        assert recover_signer(digest, bytes(raw)) == fast
        bad = (5).to_bytes(32, "big") + bytes(raw[32:])  # r = 5: no point
        with pytest.raises(SignatureError):
            recover_signer(digest, bad)
    finally:
        order._RECOVER = saved
    with pytest.raises(SignatureError):
        recover_signer(digest, bad)
