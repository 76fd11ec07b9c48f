"""ECDSA public-key recovery (secp256k1) with one release of the GIL a recovery, not three.

``coincurve.PublicKey.from_signature_and_message`` and ``format`` make three calls into
libsecp256k1 through cffi (parse the signature, recover the key, serialise it), and cffi
releases and retakes the GIL around each. Two of them take well under a microsecond, but
on a busy node each retake waits for the event loop to give the GIL up (up to the switch
interval) and costs the futex calls of a hand-over. Here the same three C functions of the
same library (coincurve's bundled ``_libsecp256k1``) are called through ctypes: the parse
and the serialisation through ``ctypes.PyDLL`` (the GIL kept), the recovery itself through
``ctypes.CDLL`` (the GIL released while the point is computed, as before). Buffers are taken
from a free list for the call and put back afterwards (``list.pop``/``append`` are atomic):
threads never share one.

No argument can reach the library's illegal-argument callback (which aborts): the caller
passes a 64-byte compact signature, a recovery id of 0 or 1 and a 32-byte digest, checked
here. A hostile signature only makes a function return 0 (``None`` here). If the library or
its symbols are not there, or a known vector does not come out as coincurve computes it,
``recover_point`` is None and callers use coincurve.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import coincurve

_CONTEXT_VERIFY = (1 << 0) | (1 << 8)
"""``SECP256K1_CONTEXT_VERIFY`` (``SECP256K1_CONTEXT_NONE`` in newer releases: either serves)."""
_EC_UNCOMPRESSED = 1 << 1
"""``SECP256K1_EC_UNCOMPRESSED``."""

RecoverPoint = Callable[[bytes, int, bytes], "bytes | None"]
"""(64-byte compact signature r ‖ s, recovery id 0 or 1, 32-byte digest) → the signer's
public key, 64 bytes (x ‖ y), or None if the signature does not parse or recover."""


class _Buffers:
    __slots__ = ("out", "out_len", "pub", "sig")

    def __init__(self) -> None:
        self.sig = ctypes.create_string_buffer(65)  # secp256k1_ecdsa_recoverable_signature
        self.pub = ctypes.create_string_buffer(64)  # secp256k1_pubkey
        self.out = ctypes.create_string_buffer(65)
        self.out_len = ctypes.c_size_t(65)


def _direct() -> RecoverPoint | None:
    try:
        from coincurve import _libsecp256k1

        path = _libsecp256k1.__file__
        if path is None:
            return None
        held, free = ctypes.PyDLL(path), ctypes.CDLL(path)
        create = held.secp256k1_context_create
        parse = held.secp256k1_ecdsa_recoverable_signature_parse_compact
        recover = free.secp256k1_ecdsa_recover
        serialize = held.secp256k1_ec_pubkey_serialize
    except (ImportError, OSError, AttributeError):
        return None
    create.restype, create.argtypes = ctypes.c_void_p, [ctypes.c_uint]
    ctx_ptr = create(_CONTEXT_VERIFY)  # (lives as long as the process: never destroyed)
    if not ctx_ptr:
        return None
    ctx = ctypes.c_void_p(ctx_ptr)
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    parse.restype, parse.argtypes = ctypes.c_int, [vp, cp, cp, ctypes.c_int]
    recover.restype, recover.argtypes = ctypes.c_int, [vp, cp, cp, cp]
    serialize.restype = ctypes.c_int
    serialize.argtypes = [vp, cp, ctypes.POINTER(ctypes.c_size_t), cp, ctypes.c_uint]
    pool: list[_Buffers] = []

    def recover_point(sig64: bytes, recid: int, digest: bytes) -> bytes | None:
        if len(sig64) != 64 or len(digest) != 32 or recid not in (0, 1):
            raise ValueError("a 64-byte signature, a recovery id of 0 or 1, a 32-byte digest")
        try:
            b = pool.pop()
        except IndexError:
            b = _Buffers()
        try:
            if not parse(ctx, b.sig, sig64, recid) or not recover(ctx, b.pub, b.sig, digest):
                return None
            b.out_len.value = 65
            serialize(ctx, b.out, ctypes.byref(b.out_len), b.pub, _EC_UNCOMPRESSED)
            return b.out.raw[1:65]
        finally:
            pool.append(b)

    if not _agrees(recover_point):
        return None
    return recover_point


def _agrees(recover_point: RecoverPoint) -> bool:
    """Whether ``recover_point`` gives coincurve's answers on a known signature, and None
    where coincurve fails (a compact signature whose r is no point's x)."""
    try:
        key = coincurve.PrivateKey(bytes(31) + b"\x07")
        digest = bytes(range(32))
        raw = key.sign_recoverable(digest, hasher=None)
        want = key.public_key.format(compressed=False)[1:]
        bad_r = (5).to_bytes(32, "big") + (1).to_bytes(32, "big")  # x = 5: not on the curve
        return (
            recover_point(raw[:64], raw[64], digest) == want
            and recover_point(bad_r, 0, digest) is None
        )
    except Exception:  # (any surprise: coincurve's path is used instead)
        return False


recover_point: RecoverPoint | None = _direct()
"""See ``RecoverPoint``; None: not available here (use coincurve)."""
