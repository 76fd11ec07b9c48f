"""A settlement's receipt believed only once a read on a connection of its own gives it too
(``confirmed``; settle93), before anything is done with it: its matches counted settled or
failed, its orders filled, its fills stored, its nonce counted used.

A receipt was believed on one read, through the pooled client (``poll_receipt``'s asks,
a block's receipts, a loss check's batch, the receipt that came with the send). A balancer
that pins each kept-alive connection to one backend (sticky sessions) answers every such
read from that backend: one that lies (or follows another chain) had a pooled settlement
counted mined and its orders filled, though its transaction was in no block of the chain
followed (it may never be: its orders closed for good), or counted reverted, its orders
matched again while it could still land (both mined, the second a paid revert). The second
read goes where the balancer places a new connection (``sdex.chain.apart``), as a loss's
deciding read does (settle90): its block's header (``confirmed``: the block holds the
transaction, its bloom the receipt's logs). One more request a settlement when both agree;
one that does not is asked again no sooner than ``CONFIRM_EVERY`` later (a backend that lags
the one that mined it: a receipt a moment later). Not confirmed: a status 0 told of a
transaction that succeeded in that block (its matches counted failed, their orders matched
again; the watcher applies the block's fills), nor the amounts of fills (not in a bloom), nor
one fill's order forged among many (``BLOOM_LOGS`` of them looked for); a receipt read again
would, at ~14 ms of CPU a 110-match settlement.

The node's watcher reads each block by number, and its logs, on connections of its own: a
receipt whose block the mirror applied with its hash, and whose logs (the exchange's and the
listed tokens') the watcher read there, of its transaction, at the same indexes, is confirmed
by that read (``confirmed_seen``; ``Mirror.confirming``), with no read apart; reads apart
only if the watcher has not said in ``WATCH_FIRST`` s or cannot say, never once it says it
does not (confirm97: "whichever confirms first", and the reads asked again each
``CONFIRM_EVERY``, placed anew by a round-robin balancer, reached the backend that told it;
now ``CONFIRM_READS`` in a row must give it, none ever otherwise: ``Tally``). settle95: the
mirror took the receipt only once confirmed apart, and the watcher held its block for it (up
to ``EXPECT_PATIENCE``): under load it fell 3-7 blocks behind, orders were read from the
chain instead of the mirror and a client throttled (fix93's A/B). Now the watcher does not
wait for a receipt being confirmed (it reads the block's logs itself), and its matches are
counted only once confirmed, by the watcher's read or apart: a lying backend's receipt counts
no order filled that no block of the chain followed holds."""

from __future__ import annotations

import asyncio
import logging

from sdex.chain import Receipt
from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.receiptroot import roots_hold
from sdex.chain.rpc import quantity
from sdex.chain.tx import lone_tx_root
from sdex.keccak import keccak
from sdex.mirror import Mirror
from sdex.mirror.seal import sealed
from sdex.settlement.tally import MAX_TALLIED as MAX_TALLIED  # (tests)
from sdex.settlement.tally import REJUDGE_AFTER
from sdex.settlement.tally import Tally as Tally  # (its readers: the lane, rows)
from sdex.settlement.tally import told as told

log = logging.getLogger("sdex.settlement")

CONFIRM_WAIT = 10.0
"""Seconds the confirming read may take (none in time confirms nothing: asked again)."""
CONFIRM_EVERY = 0.5
"""Seconds after a receipt not confirmed before one is confirmed again (the wait goes on
meanwhile: a receipt found sooner is not taken)."""
WATCH_FIRST = 1.0
"""Seconds a receipt waits for the watcher's read of its block to confirm it
(``confirmed_seen``) before it is asked for again (none of a block the watcher has not read
is believed)."""
CONFIRM_READS = 2
"""Reads apart (each on a connection of its own, placed anew by a balancer) that must give a
receipt, none of them or any before saying otherwise, before it is believed without the
watcher's read (confirm97: one was, the first to confirm it among reads asked again every
``CONFIRM_EVERY``)."""


async def confirmed_seen(
    rpc: AsyncRpc,
    got: Receipt,
    mirror: Mirror | None,
    tally: Tally | None = None,
    raw: str | None = None,
) -> bool:
    """Whether ``got`` (an own settlement's receipt) is confirmed: by the watcher's read of
    its block (``Mirror.confirming``: the block at its number has its hash, the
    transaction's logs there are its own), else, once the watcher has not said in
    ``WATCH_FIRST`` s or cannot say (``watcher_said``), by reads apart (``confirmed``,
    ``tally`` kept across the wait's asks). The watcher's read decides once it says: a
    receipt of another block than the mirror's at its number, or of logs there other than
    those the watcher read, is barred (no read apart believes it). One a read apart found a
    backend behind the block of waits for the watcher to reach that number (asked again).
    confirm97: the watcher's "no", or its silence for ``WATCH_FIRST`` s, sent the receipt to
    a read apart, asked again every ``CONFIRM_EVERY``, and behind a round-robin balancer one
    of them reached the backend that told it (a block of its own making), which confirmed
    it. The watcher does not wait for ``got`` meanwhile (settle95). settle99: before reads
    apart, with ``raw`` (the signed transaction ``got`` is of) its block's sealed header
    (``proven``): one read confirms a receipt whose block holds the transaction alone, the
    block the watcher applied at its number (else one of ``CONFIRM_READS``: review99).
    Never one of a block before its transaction was sent (``Tally.floor``)."""
    tally = tally if tally is not None else Tally()
    if tally.before_sent(got):  # (below101: the watcher cannot say below its window)
        return False
    if mirror is None:
        rejudged(tally, got, mirror)
        return await proven(rpc, got, raw, tally) or await confirmed(rpc, got, tally=tally)
    seen = mirror.confirming(got)
    try:
        if seen is not None:
            await asyncio.wait({seen}, timeout=WATCH_FIRST)
            if (said := watcher_said(mirror, got, seen, tally)) is not None:
                return said
        if tally.waits(got) and (mirror.head is None or mirror.head.number < got.block_number):
            return False  # (a read apart behind its block: the watcher's read waited for)
        if (at := mirror.hash_at(got.block_number)) is not None and at != got.block_hash:
            tally.bar(got, at)  # (another block at its number on the chain followed)
            return False
        rejudged(tally, got, mirror)
        return await proven(rpc, got, raw, tally, kept=at) or await confirmed(rpc, got, tally=tally)
    finally:
        if seen is not None:
            mirror.unconfirming(got.tx_hash)


def rejudged(tally: Tally, got: Receipt, mirror: Mirror | None) -> None:
    """``got``'s bar lifted once ``due`` (``Tally.rejudge``) and, with a watcher, its read
    reached ``got``'s block number and has no other block there (a block a liar made up
    past the chain's head never is): asked apart again, ``CONFIRM_READS`` in a row
    (review97b: one honest backend's word on a short fork, or a status 0 the watcher cannot
    say of, held the settlement in flight for good, its orders never given back). One the
    watcher's read barred (``Tally.refuted``): only once the mirror has its block there."""
    at = mirror.hash_at(got.block_number) if mirror is not None else None
    tally.holding(got, at)  # (a refutation by another block lifted once its block is there)
    if not (tally.said_not(got) and tally.due(got)):
        return
    if mirror is not None and (
        mirror.head is None
        or mirror.head.number < got.block_number
        or at not in (None, got.block_hash)
        or (at is None and told(got) in tally.refuted)  # (refuted: its block left the window)
    ):
        return
    log.warning(
        "the receipt of %s (block %d, status %d) not believed for %.0f s: read apart again",
        got.tx_hash, got.block_number, got.status, REJUDGE_AFTER,
    )  # fmt: skip
    tally.rejudge(got)


def watcher_said(
    mirror: Mirror, got: Receipt, seen: asyncio.Future[bool], tally: Tally
) -> bool | None:
    """What the watcher's read of ``got``'s block says of it (``seen``, once done:
    ``Mirror.seen_as``; None before): True it is the chain's; False not (barred in
    ``tally``): the mirror has another block at its number, or read logs of its transaction
    in its block that are not its own; None it cannot say (the block at its number is not
    among those kept, or the watcher kept no log of the transaction there: it was not
    expected when the block was applied)."""
    if not seen.done():
        return None
    if seen.result():
        return True
    at = mirror.hash_at(got.block_number)
    read = mirror.seen_logs.get(got.tx_hash.lower(), {})
    if at is None or (at == got.block_hash and at not in read):
        return None
    tally.bar(got, at)
    return False


async def confirmed(
    rpc: AsyncRpc, got: Receipt, timeout: float = CONFIRM_WAIT, tally: Tally | None = None
) -> bool:
    """Whether ``got`` is believed on reads apart (``read_apart``, each on a connection of
    its own): ``CONFIRM_READS`` of them in a row gave it, counted in ``tally`` (a fresh one:
    in this call; a read that says nothing begins the count again), and none said otherwise
    (one that did bars it, ``REJUDGE_AFTER`` s at least: ``rejudged``; confirm97: "the first
    read to confirm it" was believed, and behind a round-robin balancer the reads asked again
    every ``CONFIRM_EVERY`` reached the backend that told it within a few asks). A read that
    says nothing (none in ``timeout``, junk, a backend behind the block): False, asked
    again."""
    tally = tally if tally is not None else Tally()
    while not tally.said_not(got):
        said = await read_apart(rpc, got, timeout)
        if said is BEHIND:
            tally.behind(got)
            return False
        if said is None:  # (the reads giving it counted again from the next: one after another)
            tally.agreed.pop(told(got), None)
            return False
        if not said:
            tally.bar(got)
            log.warning(
                "the receipt of %s (block %d) is not the chain's on a read apart: not believed"
                " on any other", got.tx_hash, got.block_number,
            )  # fmt: skip
            return False
        if tally.agree(got) >= CONFIRM_READS:
            return True
    return False


async def read_apart(
    rpc: AsyncRpc, got: Receipt, timeout: float = CONFIRM_WAIT
) -> bool | Behind | None:
    """What the chain behind ``rpc`` read on a connection of its own (``apart``) says of
    ``got``: True it holds ``got``'s transaction in ``got``'s block (``eth_getBlockByHash``:
    its number, and the transaction among the block's), and the address and topics of a
    sample of ``got``'s logs in that block's ``logsBloom`` (``in_bloom``: a status 1
    receipt's fills told of a transaction that reverted there are not in it but by a bloom's
    false positive); False it does not (no such block, or a receipt that is not ``got``, from
    a backend whose head is at ``got``'s block or past it); ``BEHIND`` no such block, from a
    backend whose head is below it (a lagging backend's word, or the only one about a block
    its teller made up past the chain's head); None nothing (no answer in ``timeout``
    seconds, junk). A block header, not the
    receipt again: a settlement's receipt is ~3 KB a match (~350 KB for 110), its parse
    ~14 ms of CPU on the bench's machine. A chain whose blocks' bloom is empty while the
    receipt has logs (``holds`` None: such blooms are not kept everywhere), or whose receipt
    names no block hash: the receipt itself read again apart, the same (``same``). No answer:
    the head's number asked on the same connection (the same backend)."""

    async def read(own: AsyncRpc, method: str, arg: list[object]) -> tuple[object, object]:
        if (answer := await own.call(method, *arg)) is not None:
            return answer, None
        try:  # (on the same connection: the same backend's head)
            return None, await own.call(HEAD)
        except Exception as e:  # (its head unknown: taken as behind)
            return None, e

    def behind(head: object) -> bool:
        return isinstance(head, Exception) or quantity(head) < got.block_number

    try:
        if got.block_hash:
            args: list[object] = [got.block_hash, False]
            block, head = await apart(rpc, lambda own: read(own, BLOCK, args), timeout)
            if block is None:
                return BEHIND if behind(head) else False
            if (held := holds(block, got)) is not None:
                return held
        again, head = await apart(rpc, lambda own: read(own, RECEIPT, [got.tx_hash]), timeout)
        if again is None:
            return BEHIND if behind(head) else False
        return isinstance(again, dict) and same(got, Receipt.from_rpc(again))
    except Exception as e:  # (no answer, or junk: nothing said, asked again)
        log.debug("the receipt of %s not read apart: %s", got.tx_hash, e)
        return None


async def gas_believed(
    rpc: AsyncRpc, got: Receipt, raw: str, mirror: Mirror | None, timeout: float = CONFIRM_WAIT
) -> bool:
    """Whether ``got``'s ``gasUsed`` (a believed receipt of the signed transaction ``raw``)
    is the chain's: its block's header read apart (any backend's word: it is checked) is
    sealed (its hash Keccak-256 of its fields: ``sdex.mirror.seal``) with ``got``'s block
    hash, the block the watcher applied at its number (``applied``; confirm98: one not read
    yet was taken: a liar's sealed block of its own making taught its gas), holding the
    transaction alone with ``got`` its receipt (``roots_hold``: its ``transactionsRoot``
    and ``receiptsRoot``, its ``gasUsed`` ``got``'s; settle99: before, ``gasUsed`` alone was
    compared). Not (a block of other transactions too, no answer): the figure is not
    learned (confirm97: the watcher's read confirms logs, not gas, and a receipt's made-up
    ``gasUsed`` raised the gas a match learned, ``BatchGas.learn``: smaller batches at
    higher limits)."""
    if not got.block_hash or (mirror is not None and not await applied(mirror, got, timeout)):
        return False
    try:
        block = await apart(rpc, lambda own: own.call(BLOCK, got.block_hash, False), timeout)
        if not isinstance(block, dict) or not sealed(block):
            return False
        # (settle99: its receiptsRoot ``got``'s too: status, logs, gas; before, gasUsed alone)
        return roots_hold(block, got, bytes.fromhex(raw.removeprefix("0x")))
    except Exception as e:  # (no answer, or junk: not learned)
        log.debug("the gas of %s not read again: %s", got.tx_hash, e)
        return False


async def applied(mirror: Mirror, got: Receipt, timeout: float) -> bool:
    """Whether the watcher applied ``got``'s block at its number (its head there waited for,
    ``timeout`` s at most)."""
    for _ in range(int(timeout / APPLIED_LOOK)):
        if mirror.head is not None and mirror.head.number >= got.block_number:
            break
        await asyncio.sleep(APPLIED_LOOK)
    return mirror.hash_at(got.block_number) == got.block_hash


APPLIED_LOOK = 0.1
"""Seconds between looks at the watcher's head (``applied``)."""


async def proven(
    rpc: AsyncRpc,
    got: Receipt,
    raw: str | None,
    tally: Tally,
    timeout: float = CONFIRM_WAIT,
    *,
    kept: str | None = None,
) -> bool:
    """(settle99) Whether ``got`` is the chain's by its block's header alone, read apart (any
    backend's word: it is checked): sealed (``sealed``) with ``got``'s block hash, holding
    ``raw`` alone with ``got`` its receipt (``roots_hold``), that block the one the watcher
    applied at its number (``kept``: ``Mirror.hash_at``). A sealed header shows the receipt
    is that block's, not that the block is the chain's: the liar that tells the receipt
    names a block hash of its choice and seals a header of its own making (review99: one
    read apart reaching it counted a pooled settlement mined). So a block not ``kept``:
    the read counts as one read apart giving ``got`` (``Tally.agree``; ``CONFIRM_READS`` in
    a row believe it). A sealed header of that block holding ``raw`` alone with another
    receipt bars ``got`` in ``tally`` (that block, whoever made it, is not ``got``'s); a
    block of other transactions too, no header, junk: False (reads apart decide,
    ``confirmed``)."""
    if raw is None or not got.block_hash or tally.said_not(got):
        return False
    signed = bytes.fromhex(raw.removeprefix("0x"))
    try:
        block = await apart(rpc, lambda own: own.call(BLOCK, got.block_hash, False), timeout)
        if not isinstance(block, dict) or not sealed(block):
            return False
        if roots_hold(block, got, signed):  # (a block not kept: perhaps its teller's own)
            applied = kept is not None and kept == got.block_hash  # (the watcher's block)
            return applied or tally.agree(got) >= CONFIRM_READS
        alone = str(block.get("transactionsRoot", "")).lower() == lone_tx_root(signed)
        if alone and str(block.get("hash", "")).lower() == got.block_hash:
            tally.bar(got)  # (its block holds the transaction alone with another receipt)
        return False
    except Exception as e:  # (no answer, or junk: reads apart decide)
        log.debug("the header of %s's block not read: %s", got.tx_hash, e)
        return False


class Behind:
    """``read_apart``'s word for a backend behind the receipt's block."""


BEHIND = Behind()
BLOCK = "eth_getBlockByHash"
HEAD = "eth_blockNumber"
BLOOM_LOGS = 8
"""Logs of a receipt whose address and topics ``holds`` looks for in its block's bloom (a
Keccak each distinct one: all of a 110-match settlement's ~440 logs cost ~8 ms of CPU on the
bench's machine, as much as the receipt read again; a receipt of a transaction that reverted
there, told with fills, has none of them in it)."""
RECEIPT = "eth_getTransactionReceipt"


def holds(block: object, got: Receipt) -> bool | None:
    """Whether ``block`` (an ``eth_getBlockByHash`` answer, transactions by hash) is
    ``got``'s block, holds its transaction and has the address and topics of ``BLOOM_LOGS``
    of its logs, spread over them, and its last, in its bloom; None when its bloom is empty
    and ``got`` has logs (it cannot tell).
    ``ValueError``, ``TypeError``...: an answer that is no such block."""
    if not isinstance(block, dict) or str(block.get("hash", "")).lower() != got.block_hash:
        return False
    if int(block["number"], 16) != got.block_number:
        return False
    txs = block["transactions"]
    want = got.tx_hash.lower()
    if not isinstance(txs, list) or not any(isinstance(t, str) and t.lower() == want for t in txs):
        return False
    bloom = bytes.fromhex(str(block["logsBloom"])[2:])
    if len(bloom) != 256:
        return False
    if got.logs and not any(bloom):
        return None
    seen: set[bytes] = set()
    logs = got.logs
    for entry in (*logs[:: max(1, len(logs) // BLOOM_LOGS)], *logs[-1:]):
        for item in (bytes.fromhex(entry.address[2:]), *entry.topics):
            if item not in seen:
                seen.add(item)
                if not in_bloom(bloom, item):
                    return False
    return True


def same(a: Receipt, b: Receipt) -> bool:
    """Whether two answers are one receipt (hashes' case aside: two backends may differ)."""
    return (
        a.tx_hash.lower() == b.tx_hash.lower()
        and (a.status, a.block_number, a.block_hash, a.gas_used)
        == (b.status, b.block_number, b.block_hash, b.gas_used)
        and len(a.logs) == len(b.logs)
        and all(
            (x.address, x.topics, x.data, x.block_number, x.log_index)
            == (y.address, y.topics, y.data, y.block_number, y.log_index)
            for x, y in zip(a.logs, b.logs, strict=True)
        )
    )


def in_bloom(bloom: bytes, item: bytes) -> bool:
    """Whether ``item`` (a log's address or a topic) is in a 2048-bit ``logsBloom`` (the
    yellow paper's M3:2048: three bits from the first six bytes of its Keccak-256)."""
    h = keccak(item)
    for i in (0, 2, 4):
        bit = ((h[i] << 8) | h[i + 1]) & 2047
        if not bloom[255 - bit // 8] & (1 << (bit % 8)):
            return False
    return True


def not_confirmed(got: Receipt, told: bool) -> bool:
    """Logs a receipt not confirmed (a warning the first time for a settlement, ``told``
    False; then at debug): True, ``told`` from here on."""
    (log.debug if told else log.warning)(
        "the receipt of %s (block %d, status %d) not given again on a connection of its own:"
        " not believed yet, asked again", got.tx_hash, got.block_number, got.status,
    )  # fmt: skip
    return True
