"""Keccak-256 for the per-order hashes (EIP-712 struct hash and digest), without the per-call
object overhead of ``eth_hash``'s pycryptodome backend.

``eth_hash.auto.keccak`` builds a ``Keccak_Hash`` per call (a ``VoidPointer``, a
``SmartPointer`` with a finaliser, a fresh output buffer, ctypes argument conversions): about
5 us for 64 bytes, 4x what hashing costs. Here the same C functions of pycryptodome's
``_keccak`` library are called directly on states kept for reuse (reset, absorb, digest into
the state's own buffer), through ``ctypes.PyDLL`` so that these sub-microsecond calls do not
release and retake the GIL (each release invites a thread switch while the node's worker
threads run). A state is taken from a free list for the call and put back afterwards
(``list.pop``/``append`` are atomic): threads never share one.

When pycryptodome does not use its ctypes backend (with cffi installed it uses cffi), or the
result on a known vector is wrong, ``keccak`` is ``eth_hash``'s own.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from eth_hash.auto import keccak as eth_keccak

_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


class _State:
    __slots__ = ("out", "ptr")

    def __init__(self, ptr: ctypes.c_void_p) -> None:
        self.ptr = ptr
        self.out = ctypes.create_string_buffer(32)


def _direct() -> Callable[[bytes], bytes] | None:
    """``keccak`` on pycryptodome's C library through ctypes, or None if not available."""
    try:
        from Crypto.Hash import keccak as pyc_keccak
        from Crypto.Util import _raw_api
    except ImportError:
        return None
    raw = getattr(pyc_keccak, "_raw_keccak_lib", None)
    if _raw_api.backend != "ctypes" or not isinstance(raw, ctypes.CDLL):
        return None
    lib = ctypes.PyDLL(raw._name)
    init, absorb, digest, reset = (
        lib.keccak_init,
        lib.keccak_absorb,
        lib.keccak_digest,
        lib.keccak_reset,
    )
    for f in (init, absorb, digest, reset):
        f.restype = ctypes.c_int
    # The per-call functions take no ``argtypes``: every argument is passed as a ctypes
    # object or bytes already (no conversion per call, ~0.3 us each): the state as a
    # ``c_void_p``, the data as ``char *``, sizes as ``c_size_t``, the padding as ``c_ubyte``.
    init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_ubyte]
    size_t = ctypes.c_size_t
    n32, pad = size_t(32), ctypes.c_ubyte(1)  # (never changed: shared by every call)
    free: list[_State] = []
    kept: list[ctypes.c_void_p] = []  # states live as long as the process: never freed

    def new_state() -> _State:
        ptr = ctypes.c_void_p()
        if init(ctypes.byref(ptr), 64, 24) or not ptr.value:  # capacity 2 x 32 bytes
            raise MemoryError("keccak_init failed")
        kept.append(ptr)
        return _State(ptr)

    def keccak(data: bytes) -> bytes:
        """Keccak-256 of ``data`` (bytes; a bytearray or memoryview is copied first)."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                # bytes(3) would be three zero bytes: eth_hash raises TypeError too
                raise TypeError(f"keccak needs bytes, not {type(data).__name__}")
            data = bytes(data)
        try:
            st = free.pop()
        except IndexError:
            st = new_state()
        ptr, out = st.ptr, st.out
        reset(ptr)
        if absorb(ptr, data, size_t(len(data))) or digest(ptr, out, n32, pad):
            raise ValueError("keccak failed")
        value = out.raw
        free.append(st)
        return value

    try:
        if keccak(b"") != _EMPTY or keccak(b"abc" * 100) != eth_keccak(b"abc" * 100):
            return None
    except (OSError, AttributeError, ValueError, MemoryError):
        return None
    return keccak


keccak: Callable[[bytes], bytes] = _direct() or eth_keccak
"""Keccak-256 of bytes (Ethereum's ``keccak256``)."""
