"""The mirror's kept blocks (``Mirror.blocks``: each header with what the block changed and
how to undo it) saved with its head, one ``mirror_blocks`` row a block (``Store.save_mirror``),
and read back at a start (``load_blocks``). watch81: a saved mirror kept its head's header
alone, so a reorg that replaced the saved head while the node was down (one block, and the
restart said so) was a reset: the store's fills dropped, the chain read again from the
deployment block, ``/health`` 503 ``replaying`` meanwhile. With the blocks read back, the
first poll undoes it to the fork point as the running watcher undoes one (``Follower._reorg``).

Every value is checked as ``sdex.watch.saved``'s: a row not as this node writes it (a disk
error, an edit) ends the run read back there, the blocks above it kept (a reorg deeper than
them is a reset, as before)."""

from __future__ import annotations

import json
import logging
import re

from sdex.chain import FillEvent
from sdex.errors import JsonLimitError
from sdex.jsonio import stored
from sdex.mirror import Effects, Header, Mirror
from sdex.mirror.blocks import Block
from sdex.storerows import MARK_HASH
from sdex.watch.blocks import known_parent

UINT256 = 2**256
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
ROOT = re.compile(r"(0x[0-9a-f]{64})?")
"""A header's ``transactionsRoot`` as ``Header`` keeps it ("" when it had none)."""
log = logging.getLogger("sdex.watch")


class BadBlock(ValueError):
    """A saved block not as this node writes it."""


def block_body(b: Block) -> str:
    """``b`` as its ``mirror_blocks`` row's text: the header, the undo list, and its effects
    that a reorg reads back (fills, cancels, makers, accounts to read again)."""
    h, eff = b.header, b.effects
    undo = [
        [kind[0], key.hex() if isinstance(key, bytes) else key, old] for kind, key, old in b.undo
    ]
    fills = [
        [f.order_hash.hex(), f.maker, f.taker, str(f.maker_filled), str(f.taker_filled),
         f.fee_recipient, str(f.fee), f.log_index, f.tx_hash]
        for f in eff.fills
    ]  # fmt: skip
    accounts = sorted(eff.funds | eff.moved)
    cancelled = sorted(c.hex() for c in eff.cancelled)
    body = {
        "h": [h.number, h.hash, h.parent, h.timestamp, h.tx_root],
        "u": undo, "f": fills, "c": cancelled, "m": sorted(eff.makers), "a": accounts,
    }  # fmt: skip
    return json.dumps(body, separators=(",", ":"))


def load_blocks(rows: list[tuple[int, str]], head: Header) -> list[Block]:
    """The saved blocks of ``rows`` (number, text), highest first, read back down from
    ``head``'s (its number and hash) while each is as this node writes it and the parent of
    the one above: oldest first (none when the highest is not the head's)."""
    out: list[Block] = []
    want: str | None
    want_number, want = head.number, head.hash
    for number, text in rows:
        if number != want_number:
            break
        try:
            b = read_block(number, text)
        except (BadBlock, JsonLimitError, ValueError) as e:
            log.warning("the saved block %d is unreadable (%s): none below it used", number, e)
            break
        if want not in (b.header.hash, None):
            break
        out.append(b)
        want_number, want = number - 1, _parent(b.header)
    out.reverse()
    return out


def restore(m: Mirror, blocks: list[Block]) -> None:
    """``blocks`` (``load_blocks``'s, up to the mirror's head) kept in ``m`` as ``apply``
    keeps them: their orders' marks resident (as saved with the head) while kept."""
    for b in blocks:
        for kind, key, _ in b.undo:
            if kind != "salt":
                assert isinstance(key, bytes)
                m.marks.take(key)
                m.marks.hold(key)
        m.blocks.append(b)


def unsaved(
    m: Mirror, head: Header, saved: dict[int, str]
) -> tuple[list[tuple[int, str]], int, dict[int, str]]:
    """The kept blocks ``m`` holds up to ``head`` (each the parent of the one above): the
    rows of those not in ``saved`` (number -> hash of the rows saved), the lowest kept
    (past ``head`` when the top one is not ``head``: a run of final blocks above them, none
    kept), and what is saved once these are (``saved``'s next)."""
    run: dict[int, str] = {}
    new: list[tuple[int, str]] = []
    want: str | None
    number, want = head.number, head.hash
    for b in reversed(m.blocks):
        if b.header.number != number or want not in (b.header.hash, None):
            break
        run[number] = b.header.hash
        if saved.get(number) != b.header.hash:
            new.append((number, block_body(b)))
        number, want = number - 1, _parent(b.header)
    return new, min(run, default=head.number + 1), run


def _parent(h: Header) -> str | None:
    """``h``'s parent hash; None when not known (``hardhat_mine``'s zero: the number alone)."""
    return h.parent if known_parent(h.parent) else None


def read_block(number: int, text: object) -> Block:
    """One ``mirror_blocks`` row's block; ``BadBlock`` when it is not as ``block_body``
    writes it."""
    raw = stored(text, max_depth=4) if isinstance(text, str) else None
    if not isinstance(raw, dict):
        raise BadBlock("not an object")
    h = raw.get("h")
    if not isinstance(h, list) or len(h) != 5:
        raise BadBlock("no header")
    n, block_hash, parent, ts, root = h
    if _uint(n) != number or not _hash(block_hash) or not _hash(parent):
        raise BadBlock("a header not as saved")
    if not isinstance(root, str) or not ROOT.fullmatch(root):
        raise BadBlock("a transactions root not as saved")
    header = Header(number, block_hash, parent, _uint(ts), root)
    undo: list[tuple[str, object, object]] = []
    for u in _list(raw.get("u")):
        if not isinstance(u, list) or len(u) != 3:
            raise BadBlock("an undo entry not [kind, key, value]")
        kind, key, old = u
        if kind == "f":
            undo.append(("filled", _order(key), _uint(old)))
        elif kind == "c" and isinstance(old, bool):
            undo.append(("cancelled", _order(key), old))
        elif kind == "s" and isinstance(key, str) and ADDRESS.fullmatch(key):
            undo.append(("salt", key, _uint(old)))
        else:
            raise BadBlock(f"an undo entry {str(u)[:80]!r} not as saved")
    eff = Effects()
    eff.fills = [_fill(f, number) for f in _list(raw.get("f"))]
    eff.cancelled = {_order(c) for c in _list(raw.get("c"))}
    eff.makers = {_address(m) for m in _list(raw.get("m"))}
    for a in _list(raw.get("a")):
        if not isinstance(a, list) or len(a) != 2:
            raise BadBlock("an account not [owner, token]")
        eff.funds.add((_address(a[0]), _address(a[1])))
    return Block(header, eff, undo)


def _fill(f: object, number: int) -> FillEvent:
    if not isinstance(f, list) or len(f) != 9:
        raise BadBlock("a fill not as saved")
    order, maker, taker, made, took, recipient, fee, index, tx = f
    if (
        not isinstance(tx, str)
        or not TX_HASH.fullmatch(tx)
        or type(index) is not int
        or not 0 <= index < 2**31
    ):
        raise BadBlock("a fill's transaction not as saved")
    return FillEvent(
        _order(order), _address(maker), _address(taker), _digits(made), _digits(took),
        _address(recipient), _digits(fee), number, tx, index,
    )  # fmt: skip


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise BadBlock("a list not as saved")
    return value


def _uint(value: object) -> int:
    if type(value) is not int or not 0 <= value < UINT256:
        raise BadBlock(f"{str(value)[:80]!r} is not a uint256")
    return value


def _digits(value: object) -> int:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise BadBlock(f"{str(value)[:80]!r} is not an amount")
    return _uint(int(value))


def _hash(value: object) -> bool:
    return isinstance(value, str) and MARK_HASH.fullmatch(value) is not None


def _order(value: object) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise BadBlock(f"{str(value)[:80]!r} is not an order hash")
    return bytes.fromhex(value)


def _address(value: object) -> str:
    if not isinstance(value, str) or not ADDRESS.fullmatch(value):
        raise BadBlock(f"{str(value)[:80]!r} is not an address")
    return value
