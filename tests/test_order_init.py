"""``Order`` and ``SignedOrder`` write their ``__init__`` out (cpu32: compiled, plain stores
instead of the frozen dataclass's ``object.__setattr__`` per field). They must behave as the
generated one did, compiled (this process, when built) and from the source (a ``SDEX_PURE=1``
subprocess): the same fields by position and by name, the same ``TypeError`` for a wrong
call, frozen afterwards, equal, hashable, copied, pickled and replaced alike."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.order import Order, SignedOrder

ROOT = Path(__file__).resolve().parents[1]
_ADDR = st.text("0123456789abcdef", min_size=40, max_size=40).map(lambda h: "0x" + h)
_UINT = st.integers(0, 2**256 - 1)


def _check(values: tuple[Any, ...], signature: bytes, digest: bytes) -> None:
    names = [f.name for f in dataclasses.fields(Order)]
    by_pos = Order(*values)
    by_name = Order(**dict(zip(names, values, strict=True)))
    assert by_pos == by_name and hash(by_pos) == hash(by_name)
    assert [getattr(by_pos, n) for n in names] == list(values)
    signed = SignedOrder(by_pos, signature, digest)
    assert signed == SignedOrder(order=by_name, signature=signature, hash=digest)
    assert (signed.order, signed.signature, signed.hash) == (by_pos, signature, digest)
    for obj, field in ((by_pos, "salt"), (by_pos, "maker"), (signed, "hash"), (signed, "order")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, getattr(obj, field))
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(obj, field)
    for made in (copy.copy(signed), copy.deepcopy(signed), pickle.loads(pickle.dumps(signed))):
        assert made == signed and hash(made) == hash(signed)
    salt = values[-1]
    assert isinstance(salt, int)
    assert dataclasses.replace(by_pos, salt=salt + 1).salt == salt + 1
    assert dataclasses.replace(signed, hash=b"x").order is by_pos
    bad_calls = (
        lambda: Order(*values[:-1]),
        lambda: Order(*values, 1),  # type: ignore[call-arg]
        lambda: Order(*values[:-1], salt=1, maker="0x"),  # type: ignore[misc]
        lambda: SignedOrder(by_pos, signature),  # type: ignore[call-arg]
        lambda: SignedOrder(by_pos, signature, digest, nonce=1),  # type: ignore[call-arg]
    )
    for call in bad_calls:
        with pytest.raises(TypeError):
            call()


@given(
    st.tuples(
        _ADDR, _ADDR, _ADDR, _ADDR, _UINT, _UINT, _ADDR, _UINT, st.integers(0, 2**64 - 1), _UINT
    ),
    st.binary(max_size=80),
    st.binary(min_size=32, max_size=32),
)
def test_init_is_the_dataclass_init(
    values: tuple[object, ...], signature: bytes, digest: bytes
) -> None:
    _check(values, signature, digest)


def test_from_the_source_too() -> None:
    """The same checks in a ``SDEX_PURE=1`` process (the source's ``__init__`` path)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
        "import sdex.order, test_order_init as t\n"
        "assert not sdex.order._NATIVE, sdex.order.__file__\n"
        "t._check(('0x' + '1' * 40, '0x' + '0' * 40, '0x' + '2' * 40, '0x' + '3' * 40,"
        " 10, 20, '0x' + '0' * 40, 0, 2**40, 7), b'sig', bytes(32))\n"
        "print('ok')\n"
    )
    env = {**os.environ, "SDEX_PURE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(ROOT / "tests")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_native_flag_follows_the_module() -> None:
    import sdex.order

    assert (not str(sdex.order.__file__).endswith(".py")) == sdex.order._NATIVE
