"""A block announced on top of the mirror's head: read, waited for, or taken from our own
receipt (``sdex.watch.blocks.own_alone`` / ``receipt_coming``)."""

from __future__ import annotations

from sdex.chain.tx import lone_tx_root
from sdex.mirror import Header, Mirror, OwnReceipt
from sdex.watch.blocks import own_alone, receipt_coming
from tests.conftest import Chain

RAW = b"\x02" + bytes(range(200))
TX = "0x" + "ab" * 32
HEAD = Header(10, "0x" + "10" * 32, "0x" + "09" * 32, 100)


def block(tx_root: str, number: int = 11, parent: str = HEAD.hash) -> Header:
    return Header(number, "0x" + "11" * 32, parent, 101, tx_root)


def own(block_hash: str, tx_root: str, tx: str = TX) -> OwnReceipt:
    return OwnReceipt(tx, block_hash, 11, (), (), frozenset(), tx_root)


def test_a_block_of_our_settlement_alone_is_taken_from_its_receipt(chain: Chain) -> None:
    m = Mirror(chain.exchange, [])
    m.head = HEAD
    root = lone_tx_root(RAW)
    announced = block(root)
    assert own_alone(m, announced) is None  # no receipt yet
    m.own[TX] = own(announced.hash, root)
    assert own_alone(m, announced) == m.own[TX]
    # another root (the block holds more, or something else), or no root: read it
    assert own_alone(m, block(lone_tx_root(RAW + b"\x00"))) is None
    assert own_alone(m, block("")) is None
    # two of ours in one block: their roots are not a lone one's
    m.own["0x" + "cd" * 32] = own(announced.hash, root, "0x" + "cd" * 32)
    assert own_alone(m, announced) is None


def test_an_announced_block_waits_for_a_receipt_on_its_way(chain: Chain) -> None:
    m = Mirror(chain.exchange, [])
    m.head = HEAD
    announced = block(lone_tx_root(RAW))
    assert not receipt_coming(m, announced)  # nothing of ours out
    m.expect(TX)
    assert receipt_coming(m, announced)
    assert not receipt_coming(m, block(announced.tx_root, number=12))  # not on our head
    assert not receipt_coming(m, block(announced.tx_root, parent="0x" + "ee" * 32))  # a fork
    assert not receipt_coming(m, block(""))  # no root to compare: read it
    m.own[TX] = own(announced.hash, announced.tx_root)
    assert not receipt_coming(m, announced)  # here already
