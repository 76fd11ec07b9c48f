"""An order's ECDSA signer with one call into libsecp256k1 (http20).

coincurve's ``PublicKey.from_signature_and_message`` makes three calls into the library
through cffi (parse the signature, recover the key, serialise it), and cffi releases the GIL
around each: on the recovery thread (``sdex.ingest.verify``) each call ends by taking the
GIL back from the busy event loop. ``signer_of`` writes the library's recoverable-signature
struct itself and reads the recovered key from the library's own struct: one call (the
recovery), one hand-over of the GIL. It relies on how a 64-bit build lays those structs
out (r, s and the key's x and y as four little-endian 64-bit limbs each, which is what the
library's ``*_save``/``*_load`` copy when its scalar and field types are 32 bytes); the
layout is checked at import against coincurve's own path on a fixed signature, and if it
differs (another build) ``signer_of`` is coincurve's path (``sdex.order.recover_signer``).

The rules are ``recover_signer``'s: 65 bytes, v in {27, 28, 0, 1}, 0 < r < n, 0 < s <= n/2
(OpenZeppelin's malleability rule), a 32-byte digest; anything else, or a signature that
recovers no key, has no signer (``None``).
"""

from __future__ import annotations

from typing import Any

from coincurve import PrivateKey

from sdex.errors import SignatureError
from sdex.keccak import keccak
from sdex.order import point_address, recover_signer, signature_parts

try:  # (coincurve's own modules, not its API: another version may lay them out otherwise)
    from coincurve._libsecp256k1 import ffi, lib
    from coincurve.context import GLOBAL_CONTEXT

    _CTX: Any = GLOBAL_CONTEXT.ctx
except (ImportError, AttributeError):  # pragma: no cover (coincurve 20 and 21 have them)
    ffi = lib = _CTX = None


def _one_call(digest: bytes, signature: bytes) -> str | None:
    if len(digest) != 32:
        return None
    try:
        r, s, v = signature_parts(signature)
    except SignatureError:
        return None
    sig = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    ffi.memmove(sig.data, r.to_bytes(32, "little") + s.to_bytes(32, "little") + bytes((v,)), 65)
    key = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ecdsa_recover(_CTX, key, sig, digest):
        return None
    raw = ffi.buffer(key.data, 64)[:]
    point = raw[31::-1] + raw[:31:-1]  # (each coordinate's limbs, little-endian: reversed)
    return point_address(point)


def _coincurve(digest: bytes, signature: bytes) -> str | None:
    try:
        return recover_signer(digest, signature)
    except SignatureError:
        return None


def _layout_ok() -> bool:
    """Whether ``_one_call`` agrees with coincurve's path here, on signatures of both
    recovery ids (the first 64 digests give both but with odds of 2**-63)."""
    if lib is None:
        return False
    key = PrivateKey(bytes(range(1, 33)))
    seen: set[int] = set()
    for i in range(64):
        digest = keccak(b"sdex layout check %d" % i)
        signature = key.sign_recoverable(digest, hasher=None)
        try:
            if _one_call(digest, signature) != _coincurve(digest, signature):
                return False
        except Exception:  # (cffi refused a struct or a function of another version)
            return False
        seen.add(signature[64])
        if len(seen) == 2:
            return True
    return False


ONE_CALL = _layout_ok()
"""Whether ``signer_of`` makes one call into the library (the struct layout checked)."""

signer_of = _one_call if ONE_CALL else _coincurve
"""The address that signed ``digest`` with the 65-byte ``signature``, or ``None``."""
