"""Waiting for a settlement's receipt from the event loop: polled often at first, believed
once told again on a connection of its own (``sdex.settlement.confirm``), and judged lost
only once its nonce went to another transaction (one answer, one backend, giving the
sender's count past it and no receipt of it, twice half a second apart, the second on a
connection of its own: ``sdex.chain.apart``, settle90); until then its
bytes are sent again, and past a bound it is cancelled at its nonce (lost78; reconcile77).
On a chain that announces its heads and serves ``eth_getBlockReceipts`` (anvil), each new
block's receipts are read once, shared by every settlement waiting
(``sdex.settlement.blockreceipts.BlockReceipts``),
instead of each asking for its own receipt at every head."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from sdex.chain import Receipt, SignedTx
from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.chain.rpc import quantity as quantity  # (one parser: settle, peering, lane)
from sdex.errors import RpcError
from sdex.settlement.blockreceipts import MAX_BAD_READS as MAX_BAD_READS  # (tests)
from sdex.settlement.blockreceipts import BlockReceipts as BlockReceipts
from sdex.settlement.confirm import CONFIRM_EVERY, Tally, confirmed_seen, not_confirmed

log = logging.getLogger("sdex.settlement")

RECEIPT_TIMEOUT = 120.0
"""Seconds a settlement waits for its receipt, its nonce not taken, before the lane cancels
it: a transfer of nothing at its nonce, at higher fees (``NonceLane._keep_alive``); it is lost
once that (or any transaction) takes its nonce, never before. A wait without the lane's
``keep`` (``poll_receipt``) counts it lost then, as all did before lost78."""
UNKNOWN_TIMEOUT = 15.0
"""Seconds a settlement the chain does not know (at every loss check since the first that
found it so, its nonce not taken, its bytes sent again) waits before the lane cancels it as
at ``RECEIPT_TIMEOUT``: a chain that drops it at each send (an endpoint that drops what would
revert) holds its matches this long, not 120 s."""
RECEIPT_POLLS = (0.002, 0.003, 0.005, 0.005, 0.01, 0.01, 0.02)
"""Seconds between asks for a receipt, then the last one on: a chain that mines at once
(anvil answers the send first, mines a few ms later) is asked often at first."""
HEAD_WAIT = 0.02
"""Seconds a receipt waits for the next announced head before it is asked for anyway (a
notification may come before the receipt can be read), for ``QUICK_AFTER_HEAD`` after the
latest head (or the wait's start); then ``HEAD_FALLBACK``."""
QUICK_AFTER_HEAD = 0.1
"""Seconds after the latest announced head (or the wait's start) a receipt is asked for every
``HEAD_WAIT`` without a new head: a chain whose announcements lag its receipts (anvil under
load) is caught within 20 ms while blocks come."""
HEAD_FALLBACK = 0.25
"""Seconds between asks for a receipt while heads are announced and none came for
``QUICK_AFTER_HEAD`` (interval mining, a paused or stalled chain): asked at each new head and
at this pace between. Before (rcpt79) every settlement in flight asked every ``HEAD_WAIT``
for its whole wait: 50 requests a second each on a chain that mines a block a second or
less, each one more request under Hardhat's lock, before the settlements' own sends."""
LOST_CHECK = 1.0
"""Seconds between checks whether a transaction without a receipt is still known."""
LOST_RECHECK = 0.5
"""Seconds after a first sign of loss before the check that decides it."""
APART_WAIT = 10.0
"""Seconds the read that decides a loss may take (on a connection of its own: ``apart``;
none in time proves nothing, asked again)."""
KEEP_EVERY_MAX = 8.0
"""Most seconds between two loss checks of a settlement not pooled (the chain does not know
it, or it is cancelled): 1, 2, 4, 8 s from the first, each one batch (the count, its
receipts, it by hash) and one send of its bytes (or its cancel's) again."""

MAX_LOOKED = 8
"""Most new blocks a waiting settlement reads the receipts of (more: asked by hash)."""
BY_HASH_AFTER = 0.02
"""Seconds without a new head before a settlement that reads block receipts asks for its
own receipt by hash anyway (a notification late or lost). As long as ``HEAD_WAIT``: with
0.1 s the receipt came later under load on anvil (its newHeads lag its receipts)."""


async def poll_receipt(
    rpc: AsyncRpc,
    address: str,
    signed: SignedTx,
    suspect: bool = False,
    heads: HeadSignal | None = None,
    heads_before: int | None = None,
    blocks: BlockReceipts | None = None,
    hashes: Sequence[str] | None = None,
    on_pooled: Callable[[], Awaitable[None]] | None = None,
    keep: Callable[[bool], Awaitable[bool]] | None = None,
    held: Callable[[], bool] | None = None,
    resumed: Callable[[float], None] | None = None,
    said: Callable[[], int] | None = None,
    whole: Callable[[Receipt], str] | None = None,
    confirm: Callable[[Receipt], Awaitable[bool]] | None = None,
) -> Receipt | None:
    """The receipt of ``signed`` (sent from ``address``), once a read on a connection of its
    own gives it too (``sdex.settlement.confirm``; settle93: one read, a sticky backend's,
    was believed); None when it is lost. With ``heads``
    live (the chain announces its blocks), asked again when a block came, and every
    ``HEAD_WAIT`` for ``QUICK_AFTER_HEAD`` after the latest, then every ``HEAD_FALLBACK``
    (rcpt79), not on the ``RECEIPT_POLLS`` timer; ``heads_before``: the heads announced before
    the broadcast, so the first ask waits for a block after it (a chain that answers the
    send before it mines, anvil, has no receipt to give before). With ``blocks`` too, the
    receipts of each block announced since are looked in (one read a block, shared) instead
    of asking for this one's. ``hashes``: the transactions at its nonce that may land (it
    and its replacements: the receipt is any one's; a list the caller may add to);
    ``on_pooled``: called at each loss check that finds it pooled (known, in no block, its
    nonce not used) before ``RECEIPT_TIMEOUT``: the lane's replace-by-fee
    (``sdex.settlement.replace``). First checked for loss at once when ``suspect`` (its
    broadcast failed), else after ``LOST_CHECK``.

    ``keep`` (the lane's): lost only once its nonce is taken (``_judged``: one answer giving
    the sender's count past it and no receipt of ``hashes``, twice ``LOST_RECHECK`` apart,
    the second on a connection of its own: ``apart``; settle90: both went through ``rpc``'s
    pooled connections, which a balancer with sticky sessions pins to one backend, and one
    that lied, lagged or followed another chain told it twice: a pooled settlement counted
    lost, its orders matched again, both mined), never for not being known, for a chain
    that does not answer, nor at a timeout: its bytes may be pooled where the answer did not
    come from (behind a balancer, a backend that lags the one that took them; lost78,
    reconcile77). ``keep(False)`` is called at each loss
    check that finds it unknown, its nonce not taken (the lane sends its bytes again), and
    ``keep(True)`` at each one past ``RECEIPT_TIMEOUT``, or ``UNKNOWN_TIMEOUT`` unknown at
    every check, its nonce not taken (the lane cancels it: a transfer of nothing at its
    nonce, sent again at each); checks of one not pooled come 1, 2, 4, 8 s apart
    (``KEEP_EVERY_MAX``). While ``held`` is true no receipt is taken either, asked again
    after (adopt79: another chain's, a fork where its bytes reverted, counted a sound
    pooled settlement failed in a doubt, its orders matched again), nor one asked for in a
    doubt and answered after it ended (its answer may be the other chain's: the CI run of
    2026-12-06 took one and failed a sound settlement), nor one asked before a doubt said
    since (``said``: the answers of another chain so far, ``ChainDoubt.said_count``;
    doubt80: a doubt begun and proven within one ask went unseen, the answer taken; review81:
    a ``wrong-chain`` hold too). ``keep`` answering
    False: not kept any more (the chain it was signed for replaced), judged as without it
    from the next check. ``held`` (the lane's, with ``keep``: the chain's identity in
    doubt) true at a check: nothing judged nor sent
    (no ``_judged``, neither ``keep`` nor ``on_pooled`` called), checked again ``LOST_CHECK``
    later, a first sign of loss before it told again after (held79: ``_judged`` came first,
    and an answer of another chain, its count past the nonce and no receipt, twice, counted
    a sound settlement lost in the doubt, its orders matched again), nor when a doubt was
    said since the first sign was asked for (doubt81: the two answers may be two chains',
    one another chain's; a doubt said and proven between them, or while the second was in
    flight, went unseen, and a sound pooled settlement was counted lost); the time from the
    first such check to the first after it counts toward neither bound, the unknown streak
    and the 1, 2, 4, 8 s begin again there (keep78: the doubt's time counted, the first check
    after a doubt longer than ``UNKNOWN_TIMEOUT`` cancelled a settlement whose bytes it had not
    sent since, its matches failed). ``resumed`` (the lane's, with ``held``) is told the
    seconds its checks were held, at the first after them (adopt79: past a bound, its bytes
    are not sent again, ``NonceLane._keep_alive``), counted from the last check before them
    that found none (the doubt began after it; at most ``KEEP_EVERY_MAX`` more than the
    hold). settle81: counted from the first check in the doubt, a doubt begun up to
    ``KEEP_EVERY_MAX`` before it held a settlement that much past the bound and its bytes
    went again. Without ``keep``, lost
    too when the chain does not know it twice ``LOST_RECHECK`` apart (the second apart too),
    at ``RECEIPT_TIMEOUT``,
    or on a chain error when ``suspect``. ``whole``: what is wrong with a receipt as the
    transaction's ("" nothing): one it finds wrong is not believed, asked again
    ``CONFIRM_EVERY`` later (edge94: a settlement's short of its fills). With ``keep``, a
    receipt not believed (``whole``'s, or not confirmed) counts it maybe mined, never lost
    on that answer, and its checks go on: its bytes sent again, replaced, cancelled at its
    nonce at their bounds (review100a: it went straight back to asking, and while a sticky
    liar told it, no check came, no cancel at ``RECEIPT_TIMEOUT``: its orders held for
    ever). ``confirm``: how a
    receipt is confirmed (default ``confirmed``, a read apart; the lane's: the watcher's
    read first, ``confirmed_seen``, settle95)."""
    loop = asyncio.get_running_loop()
    if hashes is None:
        hashes = [signed.tx_hash]
    asks = blocks.asks if blocks is not None and blocks.rpc is rpc else None

    def doubting() -> bool:
        return held is not None and held()

    def doubts() -> int:
        return said() if said is not None else 0

    told = False  # (a receipt not confirmed: logged once as a warning)
    tally = Tally()  # (what reads apart said of its receipts: without ``confirm``, confirm97)

    async def believed(got: Receipt, asked: int) -> bool:
        """Whether ``got`` (answered through ``rpc``, no doubt said since ``asked``) is given
        again on a connection of its own (``confirmed``) with still no doubt said; not:
        asked again ``CONFIRM_EVERY`` later."""
        nonlocal told
        if whole is not None and (why := whole(got)):  # (edge94: never believed, asked again)
            (log.debug if told else log.warning)(
                "the receipt of %s (block %d) not believed, asked again: %s",
                got.tx_hash, got.block_number, why,
            )  # fmt: skip
            told = True
            await asyncio.sleep(CONFIRM_EVERY)
            return False
        if not await (
            confirm(got) if confirm is not None else confirmed_seen(rpc, got, None, tally)
        ):
            told = not_confirmed(got, told)
            await asyncio.sleep(CONFIRM_EVERY)
            return False
        return doubts() == asked and not doubting()

    start = loop.time()
    next_check = start if suspect else start + LOST_CHECK
    timeout = RECEIPT_TIMEOUT if keep is None else float("inf")
    polls = iter(RECEIPT_POLLS)
    doubted = False
    first = 0  # (kept: the doubts said before the first sign of loss was asked: ``said``)
    held_from = start  # (kept: the hold's start as ``resumed`` is told it)
    unknown_since: float | None = None  # (kept: when the chain was first found not to know it)
    every = LOST_CHECK  # (kept: seconds to the next check of one not pooled)
    paused: float | None = None  # (kept: the first check that found the chain in doubt)
    clear = start  # (kept: the last check that found no doubt, or the wait's start)
    by_count: float | None = None  # (kept: since when the pending count alone said pooled)
    not_ours = False  # (kept: pooled by the count, none of ``hashes`` by hash: settle82)
    checked = heads_before  # heads whose blocks cannot hold it, or were looked in
    last_head = start  # when blocks were last looked in (or the wait began)
    head_seen, head_at = heads_before, start  # (the latest head seen here, and when)
    if heads is not None and heads.live and heads_before is not None and not suspect:
        await heads.wait(heads_before, HEAD_WAIT)
    while True:
        seen = heads.count if heads is not None else 0  # (a head during the ask counts)
        refused = False  # (a receipt told and not believed this turn: ``believed``)
        if seen != head_seen:
            head_seen, head_at = seen, loop.time()
        try:
            looked, new = False, None
            raw: object = None
            # (an answer to an ask made in a doubt is not taken, nor one to an ask made
            # before a doubt said since, even one proven already: doubt80)
            asked = -1 if doubting() else doubts()
            if blocks is not None and blocks.supported and heads is not None and heads.live:
                new = heads.hashes_after(checked) if checked is not None else None
                if new and len(new) <= MAX_LOOKED:
                    looked, raw = await blocks.find(new, hashes)
                    if looked:
                        checked, last_head = seen, loop.time()  # (looked in: not there)
                elif new == [] and loop.time() - last_head < BY_HASH_AFTER:
                    looked = True  # no new block: nothing to look in yet
            if not looked:  # (with the other waiters' of this turn: one request, settle81)
                raw = await (
                    asks.receipt(hashes)
                    if asks is not None
                    else _any_of(rpc, "eth_getTransactionReceipt", hashes)
                )
                if new is None or len(new) > MAX_LOOKED:
                    checked = seen  # (none known, or too many: from here on)
            if isinstance(raw, dict) and doubts() == asked and not doubting():
                found = Receipt.from_rpc(raw)  # (in a doubt: another chain's, maybe; adopt79)
                if await believed(found, asked):  # (told again apart: settle93)
                    return found
                if keep is None or loop.time() < next_check:  # (asked again at once)
                    continue
                refused = True  # (on to its check: its same-nonce sends at their bounds)
            now = loop.time()
            if keep is not None and now >= next_check:
                looked_at = now  # (no doubt at it: a doubt found here began after it)
                if held is not None and held():  # (in doubt: nothing judged nor sent; held79)
                    if paused is None:
                        paused, held_from = now, clear
                    doubted, every, next_check = False, LOST_CHECK, now + LOST_CHECK
                    continue
                asked = doubts()
                ask = rpc if not doubted else None  # (the deciding one apart: settle90)
                taken, got, known = await (
                    _judged(ask, address, signed, hashes)
                    if ask is not None
                    else apart(rpc, lambda own: _judged(own, address, signed, hashes), APART_WAIT)
                )
                if got is not None and not doubting() and doubts() == asked:  # (again after)
                    if await believed(got, asked):
                        return got
                    refused = True
                if refused:  # (maybe mined, never lost on it: only sends at its nonce)
                    if got is not None or taken:  # (what is known of it: not asked)
                        known = await _any_of(rpc, "eth_getTransactionByHash", hashes)
                    taken, doubted = False, False
                now = loop.time()
                if taken:  # (anvil counts a nonce before its receipt: told twice)
                    if doubted and (doubting() or doubts() != first):  # (doubt81: two chains')
                        doubted = False  # (told twice again; held: nothing judged meanwhile)
                        continue
                    if doubted:
                        return None
                    doubted, next_check, first = True, now + LOST_RECHECK, asked
                    continue
                doubted = False
                if paused is not None:  # (its time counts toward neither bound)
                    if resumed is not None:  # (held since the last clear check: settle81)
                        resumed(now - held_from)
                    start, unknown_since, paused = start + now - paused, None, None
                    by_count = None
                clear = looked_at
                if known is not POOLED:
                    by_count, not_ours = None, False
                elif not_ours or now - (by_count := by_count or now) > UNKNOWN_TIMEOUT:
                    # (unknown from this answer on, not backdated to the count's first
                    # "pooled": review82a, one lagging backend's null cancelled a sound one)
                    known = await _any_of(rpc, "eth_getTransactionByHash", hashes)
                    by_count, not_ours = now, known is None
                due = now - start > RECEIPT_TIMEOUT
                if known is None:
                    unknown_since = now if unknown_since is None else unknown_since
                    due = due or now - unknown_since > UNKNOWN_TIMEOUT
                elif in_pool(known):
                    unknown_since = None
                if in_pool(known) and not due:
                    every = LOST_CHECK
                    if on_pooled is not None:
                        await on_pooled()
                elif known is None or due:  # (sent again, or its cancel sent: once a check)
                    if not await keep(due):  # (judged as without it from the next check)
                        keep, timeout = None, RECEIPT_TIMEOUT
                    every = min(2 * every, KEEP_EVERY_MAX)
                next_check = now + every
                if not due:  # (a check at its bound, not up to ``KEEP_EVERY_MAX`` after)
                    bound = start + RECEIPT_TIMEOUT
                    if unknown_since is not None:
                        bound = min(bound, unknown_since + UNKNOWN_TIMEOUT)
                    next_check = min(next_check, bound + LOST_RECHECK / 10)
            elif keep is None and (now >= next_check or now - start > timeout):
                next_check = now + LOST_CHECK
                if not doubted:
                    mined, known = await _gone(rpc, address, hashes)
                else:  # (the deciding one apart: settle90)
                    read = lambda own: _gone(own, address, hashes)  # noqa: E731
                    mined, known = await apart(rpc, read, APART_WAIT)
                if mined > signed.nonce or known is None or now - start > RECEIPT_TIMEOUT:
                    # A node may count a nonce or leave its pool a moment before the
                    # receipt is there (anvil): lost only if it still says so later.
                    if doubted or now - start > RECEIPT_TIMEOUT:
                        last = await _any_of(rpc, "eth_getTransactionReceipt", hashes)
                        if last is None:
                            return None
                        if await believed(found := Receipt.from_rpc(last), doubts()):
                            return found
                        continue
                    doubted = True
                    next_check = now + LOST_RECHECK
                else:
                    doubted = False
                    if on_pooled is not None and in_pool(known):
                        await on_pooled()
        except (aiohttp.ClientError, OSError, TimeoutError, RpcError, ValueError) as e:
            # The chain did not answer. A transaction it took may still land: ask
            # again (giving the matches back now could settle them twice). Without the
            # lane's ``keep``, one whose broadcast failed too counts as lost.
            if (suspect and keep is None) or loop.time() - start > timeout:
                log.warning("no receipt for %s: %s", signed.tx_hash, e)
                return None
            await asyncio.sleep(0.05)  # (a chain that is down is not asked often)
            continue
        if heads is not None and heads.live:
            await heads.wait(seen, _head_wait(loop.time(), head_at, next_check))
        else:
            await asyncio.sleep(next(polls, RECEIPT_POLLS[-1]))


async def _gone(rpc: AsyncRpc, address: str, hashes: Sequence[str]) -> tuple[int, object]:
    """(A wait without ``keep``) ``address``'s count and the first of ``hashes`` known."""
    mined = quantity(await rpc.call("eth_getTransactionCount", address, "latest"))
    return mined, await _any_of(rpc, "eth_getTransactionByHash", hashes)


def _head_wait(now: float, head_at: float, next_check: float) -> float:
    """Seconds to wait for the next announced head before the receipt is asked for anyway:
    ``HEAD_WAIT`` for ``QUICK_AFTER_HEAD`` after the latest head (``head_at``), then
    ``HEAD_FALLBACK``, never past the next loss check (``next_check``: its times hold). Each
    pace on one grid of the loop's clock (``_on_grid``), so that every settlement waiting
    asks in the same turn, one request for all (``sdex.settlement.receiptasks``; settle81:
    each asked on a timer of its own, a request each)."""
    if now - head_at < QUICK_AFTER_HEAD:
        return _on_grid(now, HEAD_WAIT)
    return max(HEAD_WAIT, min(_on_grid(now, HEAD_FALLBACK), next_check - now))


def _on_grid(now: float, step: float) -> float:
    """Seconds from ``now`` to the next multiple of ``step`` (of the loop's clock) at least
    half a ``step`` away: about ``step``, the same instant for every waiter."""
    wait = step - now % step
    return wait + step if wait < step / 2 else wait


async def _judged(
    rpc: AsyncRpc, address: str, signed: SignedTx, hashes: Sequence[str]
) -> tuple[bool, Receipt | None, object]:
    """One answer (one request: one backend behind a balancer) of ``address``'s count, its
    pending count and the receipts of ``hashes`` (``signed`` and its replacements): whether
    the count is past ``signed``'s nonce with none of them mined (its nonce taken by another
    transaction), the receipt of one that was, and whether one is known: ``POOLED`` when the
    pending count is past its nonce (a transaction of ours pooled at it, ready to be mined),
    else the first of them the chain knows as ``eth_getTransactionByHash`` gives it (None:
    none; a request of its own). Two answers could come from two backends: the count of one
    that mined it, the null receipt of one that lags. rcpt79's left (settle81): the ask by
    hash came with every check, the whole calldata in its answer (rcpt79: ~120 KB for a batch
    of 64 matches, a check a second while it is pooled) to learn that it was; now only when
    the pending count does not say so (pooled behind a gap, dropped, or a chain that does not
    count its pool). Past the count, it is a transaction of this key at the nonce: ours, the
    lane's cancel, or another user's of the key; ``poll_receipt`` asks by hash once the count
    has said so for ``UNKNOWN_TIMEOUT`` (settle82: another's held the cancel to
    ``RECEIPT_TIMEOUT``)."""
    answers = await rpc.batch(
        [
            ("eth_getTransactionCount", [address, "latest"]),
            ("eth_getTransactionCount", [address, "pending"]),
            *(("eth_getTransactionReceipt", [h]) for h in hashes),
        ]
    )
    count, pending, receipts = answers[0], answers[1], answers[2:]
    for answer in (count, *receipts):
        if isinstance(answer, Exception):
            raise answer
    if (got := next((r for r in receipts if isinstance(r, dict)), None)) is not None:
        return True, Receipt.from_rpc(got), None
    if quantity(count) > signed.nonce:
        return True, None, None  # (what is known of it does not matter: taken)
    if not isinstance(pending, Exception) and _count_past(pending, signed.nonce):
        return False, None, POOLED
    return False, None, await _any_of(rpc, "eth_getTransactionByHash", hashes)


POOLED: dict[str, object] = {"blockNumber": None}
"""``_judged``'s word for a transaction pooled at the nonce (the pending count past it), as
``in_pool`` reads an ``eth_getTransactionByHash`` answer."""


def _count_past(pending: object, nonce: int) -> bool:
    """Whether ``pending`` (a pending count's answer) is past ``nonce`` (False: not a count)."""
    try:
        return quantity(pending) > nonce
    except (TypeError, ValueError):
        return False


async def nonce_taken(rpc: AsyncRpc, address: str, signed: SignedTx) -> tuple[bool, Receipt | None]:
    """(``_judged`` of ``signed`` alone, for a restart's rows) Whether its nonce is taken by
    another transaction, and its receipt if it was mined; one answer (one backend)."""
    taken, got, _ = await _judged(rpc, address, signed, [signed.tx_hash])
    return taken, got


async def _any_of(rpc: AsyncRpc, method: str, hashes: Sequence[str]) -> Any:
    """``method``'s answer (a receipt, a transaction) for the first of ``hashes`` that has
    one, else None: one request, or one batch for a settlement and its replacements."""
    if len(hashes) == 1:
        return await rpc.call(method, hashes[0])
    answers = await rpc.batch([(method, [h]) for h in hashes])
    if (found := next((a for a in answers if isinstance(a, dict)), None)) is not None:
        return found
    if (failed := next((a for a in answers if isinstance(a, Exception)), None)) is not None:
        raise failed  # (unknown whether the one that failed has an answer: asked again)
    return None


def in_pool(known: object) -> bool:
    """Whether a transaction as ``eth_getTransactionByHash`` gives it is in no block yet."""
    return isinstance(known, dict) and known.get("blockNumber") is None
