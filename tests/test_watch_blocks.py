"""A block announced on top of the mirror's head: read, waited for, or taken from our own
receipt (``sdex.watch.blocks.own_alone`` / ``receipt_coming``); several announced blocks
of our settlements alone, taken from their receipts (``own_run``)."""

from __future__ import annotations

from sdex.chain.tx import lone_tx_root
from sdex.mirror import Header, Mirror, OwnReceipt
from sdex.watch.blocks import ANNOUNCED_KEPT, own_alone, own_run, receipt_coming, remember
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


def test_announced_blocks_of_our_settlements_alone_are_taken_from_their_receipts(
    chain: Chain,
) -> None:
    m = Mirror(chain.exchange, [])
    m.head = HEAD
    announced: dict[int, Header] = {}
    parent, run = HEAD.hash, []
    for i in range(3):  # blocks 11, 12, 13: each our settlement alone
        raw = RAW + bytes([i])
        h = Header(11 + i, "0x" + f"{11 + i:02d}" * 32, parent, 101 + i, lone_tx_root(raw))
        tx = "0x" + f"{0xA0 + i:02x}" * 32
        m.own[tx] = OwnReceipt(tx, h.hash, h.number, (), (), frozenset(), h.tx_root)
        remember(announced, h)
        run.append((h, m.own[tx]))
        parent = h.hash
    latest = run[-1][0]
    assert own_run(m, announced, HEAD, latest) == run
    assert own_run(m, announced, HEAD, run[0][0]) is None  # one block: the single path's
    # a block not announced, a broken link, or one holding more than ours: read them
    del announced[12]
    assert own_run(m, announced, HEAD, latest) is None
    remember(announced, Header(12, run[1][0].hash, "0x" + "ee" * 32, 102, run[1][0].tx_root))
    assert own_run(m, announced, HEAD, latest) is None
    remember(announced, Header(12, run[1][0].hash, run[0][0].hash, 102, "0x" + "77" * 32))
    assert own_run(m, announced, HEAD, latest) is None
    remember(announced, run[1][0])
    assert own_run(m, announced, HEAD, latest) == run
    # a latest the announced chain does not reach (another fork's block 13)
    other = Header(13, "0x" + "99" * 32, run[1][0].hash, 103, latest.tx_root)
    assert own_run(m, announced, HEAD, other) is None
    # only the last ANNOUNCED_KEPT numbers are kept
    remember(announced, Header(11 + ANNOUNCED_KEPT, "0x" + "88" * 32, "0x" + "77" * 32, 1))
    assert 11 not in announced and 12 in announced
    # an endpoint announcing ever lower numbers (or resetting) grows nothing
    for n in range(10_000, 0, -1):
        remember(announced, Header(n, "0x" + "aa" * 32, "0x" + "bb" * 32, 1))
    assert len(announced) <= 2 * ANNOUNCED_KEPT + 1 and min(announced) == 1
