"""One range of blocks read into the mirror: headers and logs in one JSON-RPC batch, the
node's own settlements taken from their receipts (not read again), each log's block
checked against its header (``Watcher`` polls and handles reorgs around it). A range whose
logs the RPC refuses as too many or too large (``too_large``) is read again in halves by
the watcher, down to one block (``LogsTooLarge`` past that)."""

from __future__ import annotations

import itertools
import re
from typing import Any

from sdex.chain import Log
from sdex.chain.arpc import AnswerTooLarge, AsyncRpc
from sdex.errors import ChainError, RpcError
from sdex.mirror import Effects, Header, Mirror, OwnReceipt
from sdex.watch.blocks import (
    Contradicted,
    Inconsistent,
    ReceiptComing,
    Reorg,
    apply_run,
    known_parent,
    log_filter,
    only_own,
    own_alone,
    own_receipt,
    own_run,
)
from sdex.watch.feed import fee_lie

_TOO_LARGE = re.compile(
    r"more than \d+ (results|logs)|response size|too (large|big|many|wide)|block range"
    r"|range (limit|too|is|exceeds)|max(imum)? (block )?range|limited to|size exceeded"
    r"|exceeds? (the )?(max|limit)|answered HTTP 413\b",
    re.IGNORECASE,
)
"""How real providers refuse an ``eth_getLogs`` of too many blocks or logs: Infura and geth
"query returned more than 10000 results" (-32005), Alchemy "Log response size exceeded",
QuickNode "eth_getLogs is limited to a 10,000 range", Ankr "block range is too wide",
Besu "Requested range exceeds maximum range limit", Chainstack "Block range limit
exceeded", a gateway's HTTP 413."""
_RATE = re.compile(r"rate|per second|request count|too many requests|credits", re.IGNORECASE)
"""A rate limit (Infura's -32005 too): not the range's size; halving it would not help."""
LIMIT_EXCEEDED = -32005
"""EIP-1474's "limit exceeded"."""


def too_large(e: BaseException) -> bool:
    """Whether ``e`` (a range's read failed with it) says the answer is too large for one
    read: more than the client reads (``AnswerTooLarge``), or the RPC's refusal of a range
    of too many blocks or logs. Never a rate limit: that is no range's fault."""
    if isinstance(e, AnswerTooLarge):
        return True
    if not isinstance(e, RpcError) or _RATE.search(e.message):
        return False
    return e.code == LIMIT_EXCEEDED or _TOO_LARGE.search(e.message) is not None


class LogsTooLarge(ChainError):
    """One block's logs are more than the RPC answers in one read: the watcher cannot pass
    that block (``/health``: ``unreachable`` with this problem; tried again each poll)."""

    def __init__(
        self, block: int, cause: BaseException, what: str = "logs", cannot: str = "pass it"
    ) -> None:
        why = str(cause)[:160]
        super().__init__(
            f"block {block}'s {what} are too large for one eth_getLogs even alone ({why}): "
            f"the watcher cannot {cannot}; an RPC with a larger answer limit is needed"
        )
        self.block = block


async def read_range(
    rpc: AsyncRpc,
    m: Mirror,
    announced: dict[int, Header],
    start: int,
    end: int,
    latest: Header,
    top: Header | None,
    eff: Effects,
) -> None:
    """Apply blocks ``start``..``end`` to the mirror ``m`` (``top``: its head before them,
    ``latest``: the chain's head); their effects go into ``eff`` block by block (so what
    was applied is there even if a later block fails). Raises ``Reorg`` when ``top`` is not
    on the chain any more, ``Inconsistent`` when the chain moved under the read. The store
    reads the blocks need are done before any is applied (``Mirror.preload``)."""
    tip = latest.number
    # One new block that says our head is its parent: our head is still the chain's
    # when the block read is that one (its hash checked below); no re-read of our head.
    follows = (
        top is not None
        and start == end == tip == top.number + 1
        and known_parent(latest.parent)
        and latest.parent == top.hash
    )
    alone = own_alone(m, latest) if follows else None
    if alone is not None:  # our settlement alone, its logs in its receipt: no read
        m.preload((), [alone])
        eff.merge(m.apply(latest, [], latest, [alone]))
        return
    run = own_run(m, announced, top, latest) if top and end == tip else None
    if run is not None:  # so for each of several blocks, all announced
        m.preload((), [r for _, r in run])
        apply_run(m, run, eff)
        return
    # Blocks deeper than the kept window are final: their logs without headers.
    final_end = min(end, tip - m.depth)
    recent = list(range(max(start, final_end + 1), end + 1))
    calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [hex(n), False]) for n in recent]
    marks: list[int] = []  # (a run's checkpoints: ``Mirror.checkpoints``, read with it)
    if final_end >= start:
        calls.append(("eth_getBlockByNumber", [hex(final_end), False]))
        marks = m.checkpoints.wanted(start, final_end)
        calls += [("eth_getBlockByNumber", [hex(n), False]) for n in marks]
    address = [m.address, *sorted(m.tokens)]
    # Only recent blocks while own settlements are about: headers first, then the logs
    # of the blocks that hold someone else's transactions (none, most often: the
    # settler's receipts carry our own logs, so the chain is not asked for them twice).
    # Not for receipts the settler holds while it confirms them: their logs are read
    # (settle95: the read confirms them), with the headers, in one round trip.
    awaited = any(m.awaiting(tx) for tx in m.expected) if m.expected else False
    headers_first = final_end < start and bool(m.own or awaited)
    if not headers_first:
        calls.append(("eth_getLogs", [log_filter(start, end, address)]))
    if top is not None and not follows:  # our head as the chain has it (still ours?)
        calls.append(("eth_getBlockByNumber", [hex(top.number), False]))
    results = await rpc.batch(calls)
    for r in results:
        if isinstance(r, Exception):
            raise r
    if top is not None and not follows:
        now_at_top = results.pop()
        if now_at_top is None or Header.from_rpc(now_at_top).hash != top.hash:
            raise Reorg
    if follows and results[0] is None:  # (announced, not there: sign79)
        raise Contradicted(latest)
    headers = [Header.from_rpc(r) for r in results[: len(recent)]]
    if follows and headers[0].hash != latest.hash:
        raise Inconsistent(f"block {tip} is not the one announced: chain moving")
    for h in headers:  # (an announced block read: its fee the announcement's? watch80)
        said = latest if follows and h.number == tip else announced.get(h.number)
        if said is not None and said.hash == h.hash and (why := fee_lie(said, h)) is not None:
            raise Contradicted(said, why, lag=False)
    own: dict[int, dict[str, OwnReceipt]] = {}
    """The node's own settlements by block: decoded by the settler, not again here."""
    if headers_first:
        foreign = []
        for h, r in zip(headers, results, strict=True):
            only = only_own(m, r, h)
            if only is None:
                foreign.append(h.number)
            else:
                own[h.number] = {x.tx_hash: x for x in only}
        raw_logs: object = []
        if foreign:
            raw_logs = await rpc.call(
                "eth_getLogs", log_filter(min(foreign), max(foreign), address)
            )
    else:
        raw_logs = results[-1]
    if not isinstance(raw_logs, list):
        raise Inconsistent("eth_getLogs answered something else than a list")
    first = headers[0] if headers else None
    if (
        top is not None
        and first is not None
        and known_parent(first.parent)
        and first.number == top.number + 1
        and first.parent != top.hash
    ):
        raise Reorg
    # The final part's last block is the first recent one's parent (fee94: else the recent
    # headers and their fees were linked to nothing read; a ValueError: no block, read again).
    below = [Header.from_rpc(results[len(recent)])] if final_end >= start and headers else []
    for a, b in itertools.pairwise(below + headers):
        if known_parent(b.parent) and b.parent != a.hash:
            raise Inconsistent(f"block {b.number} does not follow {a.number}: chain moving")
    by_number: dict[int, list[Log]] = {}
    final_logs: list[Log] = []
    final_blocks: dict[int, set[str]] = {}  # (the block hashes the final logs name)
    hashes = {h.number: h.hash for h in headers}
    for raw in raw_logs:
        if m.expected and isinstance(raw, dict):
            tx = raw.get("transactionHash")
            if isinstance(tx, str) and m.awaiting(tx):
                raise ReceiptComing(f"own settlement {tx}: its receipt is on its way")
        mine = own_receipt(m, raw)
        if mine is not None and hashes.get(mine.block_number, mine.block_hash) == (mine.block_hash):
            if start <= mine.block_number <= end:
                own.setdefault(mine.block_number, {})[mine.tx_hash] = mine
            continue
        try:
            lg = Log.from_rpc(raw)
            block_hash = str(raw.get("blockHash", "")).lower()
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise Inconsistent(f"a log that is not one: {e}") from None
        if lg.block_number in hashes:
            if block_hash != hashes[lg.block_number]:
                raise Inconsistent(f"a log of another block {lg.block_number}: chain moving")
            by_number.setdefault(lg.block_number, []).append(lg)
        elif start <= lg.block_number <= final_end:
            final_logs.append(lg)
            final_blocks.setdefault(lg.block_number, set()).add(block_hash)
    if final_blocks:
        await _check_final(rpc, final_blocks, Header.from_rpc(results[len(recent)]))
    final_header = Header.from_rpc(results[len(recent)]) if final_end >= start else None
    at = len(recent) + 1
    mark_headers = [Header.from_rpc(raw) for raw in results[at : at + len(marks)]]
    for n, mark in zip(marks, mark_headers, strict=True):  # (ValueError: no block, retried)
        if mark.number != n:
            raise Inconsistent(f"block {mark.number} answered for block {n}")
    # Only now, the range's checks passed (review96b: a range that failed after it, e.g. a
    # tip claimed far ahead and its final block null, left the mark of blocks passed unread
    # far past the mirror's head, every honest rise refused till the chain came that far):
    if final_end >= start:  # (fee95: blocks passed unread carry the floor, no 9/8 each)
        m.announced.passed(final_end)
    for h in headers:  # (the chain's fee: the bound of the next, watch80; each block's in
        m.announced.read(h.number, h.base_fee, placed=True)  # turn, linked: fee93)
    m.preload(final_logs, [r for n in sorted(own) for r in own[n].values()])
    for lgs in by_number.values():
        m.preload(lgs)
    if final_header is not None:
        for n, mark in zip(marks, mark_headers, strict=True):
            m.checkpoints.add(n, mark.hash)
        final_own = [r for n in sorted(own) if n <= final_end for r in own[n].values()]
        eff.merge(m.apply(None, final_logs, final_header, final_own))
    for h in headers:
        block_own = list(own.get(h.number, {}).values())
        eff.merge(m.apply(h, by_number.get(h.number, []), h, block_own))


async def _check_final(rpc: AsyncRpc, named: dict[int, set[str]], final: Header) -> None:
    """The final blocks' logs (read without their headers) against the chain's headers of
    the blocks they name, read in one batch with the range's last final block again (the
    chain the range was read from: its hash must not have moved). Raises ``Inconsistent``
    for a log naming another block hash than its block's header (logs of one chain, headers
    of another: an endpoint whose backends disagree; reset74, the old chain's fills kept
    through a reset's re-read) or a header of another number. One header a block holding
    logs, at most the range's span."""
    numbers = sorted(named)
    calls: list[tuple[str, list[Any]]] = [
        ("eth_getBlockByNumber", [hex(n), False]) for n in numbers
    ]
    calls.append(("eth_getBlockByNumber", [hex(final.number), False]))
    results = await rpc.batch(calls)
    for r in results:
        if isinstance(r, Exception):
            raise r
    try:
        headers = [Header.from_rpc(r) for r in results]
    except (KeyError, TypeError, ValueError) as e:  # (no block: the chain moved under us)
        raise Inconsistent(f"a block of the range's logs not read: {e}") from None
    if headers.pop().hash != final.hash:
        raise Inconsistent(f"block {final.number} answered two hashes: chain moving")
    for n, h in zip(numbers, headers, strict=True):
        if h.number != n:
            raise Inconsistent(f"block {h.number} answered for block {n}")
        if named[n] != {h.hash}:
            raise Inconsistent(
                f"logs of block {n} name another block than the chain's {h.hash}: "
                "answers of two chains"
            )
