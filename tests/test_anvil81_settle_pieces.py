"""anvil81's cuts on the settlement path give what the code before them gave: a settlement's
fills made by position (``own_fill``) carry each field under its own name, a hold of every
order gives the queue back whole without asking each match, and the withdrawn check with
the mirror's maps read once a call judges each side as ``gone_on_chain`` does."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sdex.chain.exchange import Exchange
from sdex.chain.receipt import Log
from sdex.chain.rpc import Rpc
from sdex.model import FillEvent
from sdex.node.gate import EVERY_ORDER
from sdex.node.records import NodeState
from sdex.settlement.take import held_back
from sdex.storefills import StoredFill, own_fill

EXCHANGE = "0x" + "11" * 20


def _fill_log(index: int) -> Log:
    topic = Exchange(Rpc("http://127.0.0.1:9"), EXCHANGE).abi.events["OrderFilled"].topic
    order_hash, maker, taker = (7 + index).to_bytes(32, "big"), b"\x02" * 20, b"\x03" * 20
    data = b"".join(n.to_bytes(32, "big") for n in (101 + index, 202, 0xABC, 303))
    topics = [topic, order_hash, b"\x00" * 12 + maker, b"\x00" * 12 + taker]
    return Log(EXCHANGE, topics, data, 500 + index, "0x" + "ee" * 32, index)


def test_own_fills_by_position_carry_each_field_by_name() -> None:
    ex = Exchange(Rpc("http://127.0.0.1:9"), EXCHANGE)
    logs = [_fill_log(i) for i in range(3)]
    own = ex.fills_as(logs, own_fill)
    plain = ex.fills_as(logs, FillEvent)
    assert own == [StoredFill.of(f, True) for f in plain]
    f = own[1]
    assert (f.order_hash, f.maker, f.taker) == (
        (8).to_bytes(32, "big"),
        "0x" + "02" * 20,
        "0x" + "03" * 20,
    )
    assert (f.maker_filled, f.taker_filled, f.fee_recipient, f.fee) == (
        102,
        202,
        "0x" + "00" * 18 + "0abc",
        303,
    )
    assert (f.block_number, f.tx_hash, f.log_index, f.ours) == (501, "0x" + "ee" * 32, 1, True)


def _match(i: int) -> Any:
    return SimpleNamespace(
        resting=SimpleNamespace(hash=bytes([i]) * 32),
        incoming=SimpleNamespace(hash=bytes([i + 100]) * 32),
    )


@pytest.mark.parametrize(
    "held", [EVERY_ORDER, frozenset({bytes([3]) * 32, bytes([105]) * 32}), frozenset()]
)
def test_a_hold_gives_back_what_the_walk_gave(held: Any) -> None:
    queue = [_match(i) for i in range(8)]
    at = [float(i) for i in range(8)]
    ready, ready_at, back, back_at = held_back(queue, at, lambda: held)
    walked = [m for m in queue if m.resting.hash in held or m.incoming.hash in held]
    assert back == walked and back_at == [at[queue.index(m)] for m in walked]
    assert ready == [m for m in queue if m not in walked]
    assert ready_at == [at[queue.index(m)] for m in ready]


def _side(maker: str, salt: int, expiry: int = 1 << 40) -> Any:
    order = SimpleNamespace(expiry=expiry, maker_amount=100, salt=salt, maker=maker)
    return SimpleNamespace(hash=bytes([salt]) * 32, order=order)


def test_the_withdrawn_check_judges_each_side_as_gone_on_chain() -> None:
    sides = [
        _side("0xa", 1),
        _side("0xb", 2),
        _side("0xa", 3),
        _side("0xc", 4, expiry=10),
        _side("0xd", 5),
    ]
    sides += [_side("0xe", 6), _side("0xf", 7), _side("0xf", 8)]
    mirror = SimpleNamespace(
        filled={sides[1].hash: 100, sides[2].hash: 99},
        cancelled={sides[5].hash},
        min_salt={"0xf": 8},
    )
    node: Any = SimpleNamespace(records={}, _doomed={}, mirror=mirror, soonest_landing=lambda: 20)
    node.gone_on_chain = lambda so: NodeState.gone_on_chain(node, so)
    node.cancelled_on_chain = lambda so: NodeState.cancelled_on_chain(node, so)
    batch = [
        SimpleNamespace(resting=s, incoming=_side("0x0", 200 + i)) for i, s in enumerate(sides)
    ]
    got = NodeState._withdrawn(node, batch)
    expected = {
        i for i, s in enumerate(sides) if s.order.expiry <= 20 or NodeState.gone_on_chain(node, s)
    }
    assert set(got) == expected == {1, 3, 5, 6}
