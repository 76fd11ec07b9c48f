"""``OrderState``'s written-out ``__init__`` (slot descriptors' stores) behaves as the
generated frozen one: same fields, signature, equality, hash, repr, immutability, ``replace``,
copy and pickle (a reference class with the generated ``__init__`` is the oracle)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.chain import OrderState, OrderStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Generated:
    hash: bytes
    status: OrderStatus
    filled: int
    signature_valid: bool
    maker_balance: int
    maker_allowance: int


FIELDS = ("hash", "status", "filled", "signature_valid", "maker_balance", "maker_allowance")
values = st.tuples(
    st.binary(min_size=32, max_size=32),
    st.sampled_from(list(OrderStatus)),
    st.integers(0, 2**256 - 1),
    st.booleans(),
    st.integers(0, 2**256 - 1),
    st.integers(0, 2**256 - 1),
)


@given(values, st.booleans())
def test_the_written_init_stores_what_the_generated_one_does(v: tuple, by_name: bool) -> None:
    s = OrderState(**dict(zip(FIELDS, v, strict=True))) if by_name else OrderState(*v)
    g = Generated(*v)
    assert tuple(getattr(s, f) for f in FIELDS) == v
    assert [f.name for f in dataclasses.fields(s)] == list(FIELDS)
    assert s == OrderState(*v) and hash(s) == hash(OrderState(*v))
    assert repr(s) == repr(g).replace("Generated", "OrderState")
    assert dataclasses.astuple(s) == dataclasses.astuple(g)
    assert pickle.loads(pickle.dumps(s)) == s and copy.copy(s) == s
    assert dataclasses.replace(s, filled=7) == OrderState(*v[:2], 7, *v[3:])


WRONG_CALLS = [
    ((), {}),  # nothing
    ((b"h", OrderStatus.FILLABLE, 0, True, 1), {}),  # one short
    ((b"h", OrderStatus.FILLABLE, 0, True, 1, 2, 3), {}),  # one too many
    ((b"h", OrderStatus.FILLABLE, 0, True, 1), {"maker_allowances": 2}),  # a wrong name
    ((b"h", OrderStatus.FILLABLE, 0, True, 1, 2), {"hash": b"x"}),  # a field twice
]


@pytest.mark.parametrize(("args", "kwargs"), WRONG_CALLS)
def test_wrong_calls_raise_type_error_as_the_generated_init(args: tuple, kwargs: dict) -> None:
    with pytest.raises(TypeError):
        Generated(*args, **kwargs)
    with pytest.raises(TypeError):
        OrderState(*args, **kwargs)


@pytest.mark.parametrize("name", FIELDS)
def test_it_stays_frozen(name: str) -> None:
    s = OrderState(b"\x01" * 32, OrderStatus.FILLABLE, 0, True, 5, 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(s, name, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(s, name)
    with pytest.raises((AttributeError, TypeError)):
        s.other = 1  # type: ignore[attr-defined]
