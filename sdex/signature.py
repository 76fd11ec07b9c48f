"""secp256k1 signatures over 32-byte digests: signing, the contract's rules, recovery.

What ``sdex.order`` signs and checks with (and re-exports): a wallet's 65-byte r‖s‖v
signature, the checks OpenZeppelin's ECDSA makes before recovering (length, v, low s,
r and s in range), the signer's address (recovered with coincurve, the last 4096 keys'
addresses remembered) and a private key's address. Knows nothing of orders. Compiled with
the book (``sdex.book.native``: ``LONE``), as ``sdex.order`` is.
"""

from __future__ import annotations

import coincurve

from sdex.errors import SignatureError
from sdex.keccak import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2


def sign_hash(digest: bytes, private_key: bytes) -> bytes:
    """A 65-byte r‖s‖v signature (v = 27/28, low-s) over a 32-byte digest."""
    raw = coincurve.PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def signature_parts(signature: bytes) -> tuple[int, int, int]:
    """``(r, s, v)`` of a signature the contract accepts, v as 0 or 1; ``SignatureError``
    for any other length or v, s > n/2 (OpenZeppelin ECDSA's malleability rule) and r or s
    out of range."""
    if len(signature) != 65:
        raise SignatureError(f"ECDSA signature must be 65 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    elif v not in (0, 1):
        raise SignatureError(f"signature v must be 27/28 or 0/1, got {signature[64]}")
    if s > SECP256K1_HALF_N:
        raise SignatureError("signature s is in the upper half of the curve order (malleable)")
    if not (0 < r < SECP256K1_N and s > 0):
        raise SignatureError("signature r or s is out of range")
    return r, s, v


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The address that produced ``signature`` over ``digest``; rejects what the contract
    rejects (``signature_parts``)."""
    v = signature_parts(signature)[2]
    try:
        pub = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v]), digest, hasher=None
        )
    except Exception as e:  # coincurve raises a bare Exception on unrecoverable points
        raise SignatureError(f"signature does not recover: {e}") from e
    return point_address(pub.format(compressed=False)[1:])


def point_address(point: bytes) -> str:
    """A public key's (64 bytes) address; the last 4096 keys' are remembered (a maker's)."""
    address = _ADDRESSES.get(point)
    if address is None:
        if len(_ADDRESSES) >= 4096:
            _ADDRESSES.clear()
        address = _ADDRESSES[point] = "0x" + keccak(point)[-20:].hex()
    return address


_ADDRESSES: dict[bytes, str] = {}


def address_of(private_key: bytes) -> str:
    """The lower-case address of a secp256k1 private key."""
    pub = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    return "0x" + keccak(pub[1:])[-20:].hex()
