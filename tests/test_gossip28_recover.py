"""A peer's signature gives its id and public key from one recovery (gossip28): a stream's
dialer recovered the acceptor's key twice, the acceptor the dialer's three times (the id for
the request, then the key twice more). Bad signatures are refused as before."""

from __future__ import annotations

import coincurve
import pytest

from sdex.gossip.identity import AuthError, NodeKey, recover_key, verify_request
from sdex.signature import SECP256K1_N

DIGEST = bytes(range(32))


class Counting:
    """The real recovery, counted (what the tests assert on is how often it runs)."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = coincurve.PublicKey.from_signature_and_message

    def __call__(self, *args: object, **kwargs: object) -> coincurve.PublicKey:
        self.calls += 1
        return self.real(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Counting:
    c = Counting()
    monkeypatch.setattr(coincurve.PublicKey, "from_signature_and_message", c)
    return c


def test_recover_key_is_one_recovery_and_right(counting: Counting) -> None:
    key = NodeKey.generate()
    node_id, pub = recover_key(DIGEST, key.sign(DIGEST))
    assert counting.calls == 1
    assert node_id == key.node_id
    assert pub == coincurve.PrivateKey(key.private_key).public_key.format()


def test_a_signed_request_carries_its_key_from_one_recovery(counting: Counting) -> None:
    key = NodeKey.generate()
    path = "/p2p/stream?nonce=00&to=0x01"
    headers = key.request_headers("GET", path, b"", "http://127.0.0.1:1")
    signed = verify_request("GET", path, headers)
    assert counting.calls == 1
    assert signed.node_id == key.node_id
    assert signed.key == coincurve.PrivateKey(key.private_key).public_key.format()
    assert coincurve.PrivateKey(key.private_key).ecdh(signed.key) == key.ecdh(signed.key)


def _mutate(sig: str, how: str) -> str:
    raw = bytearray(bytes.fromhex(sig[2:]))
    if how == "short":
        return "0x" + raw[:64].hex()
    if how == "v":
        raw[64] = 29
    elif how == "high_s":
        s = int.from_bytes(raw[32:64], "big")
        raw[32:64] = (SECP256K1_N - s).to_bytes(32, "big")
        raw[64] ^= 1  # (the same key's other signature: malleable, refused)
    elif how == "zero_r":
        raw[:32] = bytes(32)
    elif how == "big_r":
        raw[:32] = SECP256K1_N.to_bytes(32, "big")
    elif how == "hex":
        return "0xzz" + sig[4:]
    return "0x" + raw.hex()


@pytest.mark.parametrize("how", ["short", "v", "high_s", "zero_r", "big_r", "hex"])
def test_bad_signatures_are_refused(how: str) -> None:
    sig = _mutate(NodeKey.generate().sign(DIGEST), how)
    with pytest.raises(AuthError):
        recover_key(DIGEST, sig)


def test_a_signature_that_recovers_no_point_is_refused() -> None:
    # x = 5: 5**3 + 7 is no square mod p, so no curve point has it: nothing recovers
    r, s = (5).to_bytes(32, "big").hex(), (1).to_bytes(32, "big").hex()
    for v in (27, 28):
        with pytest.raises(AuthError):
            recover_key(DIGEST, f"0x{r}{s}{v:02x}")
