"""The fork point of a reorg: the highest kept block the chain still has. A reset (the old
chain's fills deleted, every order judged again) only on proof, never for an outage or a
chain answering from behind for a moment."""

from __future__ import annotations

import logging

import aiohttp

from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.feebounds import base_fee_of
from sdex.chain.rpc import quantity
from sdex.deployment import DEVNET_CHAIN_IDS
from sdex.errors import ChainError, RpcError
from sdex.mirror import Header, Mirror
from sdex.mirror.seal import sealed
from sdex.store import ChainIdentity
from sdex.watch.blocks import ZERO_HASH, Inconsistent
from sdex.watch.changes import ChainReset

log = logging.getLogger("sdex.watch")

HEAD_AGAIN = 10.0
"""Seconds at most the saved head's read again apart waits (``_head_fee``): the whole call's,
its copy sent again after a connection closed unanswered included (review97a: the client's
bound is each request's, and the start waited twice it)."""

BEHIND_SECONDS = 5.0
"""How long a devnet may answer a head below our blocks (same deployment) before that is
taken for a rewind or a reset: a lagging backend catches up meanwhile."""


def behind_for(since: float | None, now: float, identity: ChainIdentity) -> bool:
    """Has the chain answered from below our blocks in every poll since ``since``, for
    ``BEHIND_SECONDS``? Only a devnet is rewound or reset by that alone (an ``evm_revert``
    with nothing mined since, a reset that redeployed the very same blocks): a real chain
    never rewinds without a block of another hash, and a backend of it that lags (a load
    balancer's replica, 12 s blocks) stays ``behind`` however long, nothing undone."""
    devnet = identity.chain_id in DEVNET_CHAIN_IDS
    return devnet and since is not None and now - since >= BEHIND_SECONDS


def describe(e: BaseException) -> str:
    """An error in one line, for the log and ``/health``."""
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text[:200]}"


class Vanished(ChainReset):
    """The chain's head is below our blocks and below the Exchange's deployment block, and
    the Exchange has no code there (a devnet reset, ``hardhat_reset``): ``wrong-chain`` at
    once, nothing dropped; the reset is made once the chain proves another deployment (or
    after ``BEHIND_SECONDS``). A backend lagging below the deployment block (right after
    it) answers just as a reset does: a poll's ``wrong-chain``, and nothing else done."""


class Behind(ChainError):
    """The chain's head is below every block kept, on the same deployment (chain id and
    deployment block's hash unchanged) with our block at our checkpoint below it (or none
    that low), or is one of our kept blocks below our head: a lagging backend, a node
    rewinding after an unclean shutdown, or a devnet's reset or rewind still found after a
    while (``fork_point``'s ``behind``); or two answers disagreed (``rewound``)."""


async def fork_point(
    rpc: AsyncRpc,
    m: Mirror,
    latest: Header,
    deployed: tuple[ChainIdentity, int],
    behind: bool = False,
) -> int | None:
    """The highest block kept in ``m`` that the chain (its head ``latest``) still has, same
    hash; None only when the chain proved every kept one gone (another hash at each number,
    or all above its head): a reset. A header the chain did not answer, answered null, or
    answered with something else than that block, above the highest match, raises: the
    reorg is looked at again with the next poll. With none kept yet (a restart), our head
    itself must be proven gone, another hash said twice (``_head_gone``; raises
    ``Inconsistent`` when it is still the chain's, or the two answers disagree).

    A head that is one of our kept blocks (same hash) below our head is a chain behind (a
    lagging backend; raises ``Behind``), and a rewind to it only when the chain has answered
    so for a while (``behind``: for ``BEHIND_SECONDS``; a head with a block mined on a
    rewind has another hash: a reorg at once). A head below every kept block proves a
    reset at once with another chain id or another hash at the deployment block
    (``deployed``: the identity and that block's number; a restarted devnet), or another
    block at our checkpoint at or below it, said twice (``rewound``); with no deployment
    block and no Exchange code at all it raises ``Vanished``; else ``Behind`` (a lagging
    backend), a reset on a devnet only when it has answered from below for a while."""
    kept = [b.header for b in m.blocks if b.header.number <= latest.number]
    top = kept[-1] if kept else None
    if top is not None and (top.number, top.hash) == (latest.number, latest.hash):
        if behind:  # a chain rewound to this block (and none mined on it) for a while
            return latest.number
        raise Behind(f"the chain's head {latest.number} is our block, below our head")
    if not kept and not m.blocks and m.head is not None and m.head.number <= latest.number:
        try:
            await _head_gone(rpc, m.head)
        except Inconsistent as e:  # (one answer said it gone, the next did not: in doubt)
            m.doubt.said(str(e), (m.head.number, m.head.hash))
            raise
        return None
    if not kept:  # the chain's head below every kept block
        if behind or await _redeployed(rpc, m, *deployed, latest.number):
            return None
        if await rewound(rpc, m, latest):
            return None
        ours = m.blocks[0].header.number if m.blocks else m.head.number if m.head else 0
        raise Behind(f"the chain's head {latest.number} is below our block {ours}")
    return await _highest_kept(rpc, m, kept)


async def rewound(rpc: AsyncRpc, m: Mirror, latest: Header) -> bool:
    """Does the chain, its head ``latest`` below every kept block, prove our blocks gone
    (rewound, or replaced by another chain of the same id and deployment)? It does when it
    has another block at our highest checkpoint at or below its head
    (``Mirror.checkpoints``), said twice: the head itself or a read of that block, then a
    second read, a request of its own (a load balancer may send it to another replica).
    False when it has our block there (a lagging backend: ``behind``, nothing undone), or
    when no checkpoint is that low (after a restart: only the saved head). A second answer
    that disagrees with the first (one odd replica, a hostile RPC) raises ``Behind``, no
    reset: nothing proven. Bounded: two reads at most, whatever the chain answers.

    A chain rewound and then mined no higher than that checkpoint has our block there too:
    it is ``behind`` until its head passes a checkpoint (or our head, then a reorg that
    finds no kept block: a reset) or, on a devnet, for ``BEHIND_SECONDS``."""
    cp = m.checkpoints.at_or_below(latest.number)
    if cp is None:
        return False
    number, ours = cp
    first = latest.hash if number == latest.number else await _hash_at(rpc, number)
    if first is None or first == ours:
        return False
    second = await _hash_at(rpc, number)
    if second != first:
        said = "ours" if second == ours else second or "no block"
        m.doubt.said(f"block {number}: the chain answered {first}, then {said}", cp)
        raise Behind(f"block {number}: the chain answered {first}, then {said}: no proof")
    log.warning("the chain has block %d %s, not ours %s: rewound or replaced", number, first, ours)
    return True


async def _hash_at(rpc: AsyncRpc, number: int) -> str | None:
    """The chain's hash of block ``number`` (None: it answered none)."""
    raw = await rpc.call("eth_getBlockByNumber", hex(number), False)
    if raw is None:
        return None
    got = Header.from_rpc(raw)  # (ValueError: an answer that is no block, retried)
    if got.number != number:
        raise ValueError(f"block {got.number} answered for block {number}")
    return got.hash


async def _redeployed(
    rpc: AsyncRpc, m: Mirror, identity: ChainIdentity, number: int, head: int
) -> bool:
    """Does the chain (its head ``head``, below our blocks) prove itself another one:
    another chain id, or another block at the deployment block's number, each said twice
    (the second a request of its own: review74a, a lagging backend's head and one flapped
    answer in the batch reset the store of an unchanged chain; review75, the chain id's: the
    reset read it again, found ours, and went on)? An error or a null answer proves
    nothing. Raises ``Vanished`` for a chain with no deployment block (its head below it)
    and no Exchange code at its head. One answer of another, not repeated, puts the
    chain's identity in doubt (``m.doubt``: matching held till proven either way)."""
    chain_id, raw, code = await rpc.batch(
        [
            ("eth_chainId", []),
            ("eth_getBlockByNumber", [hex(number), False]),
            ("eth_getCode", [identity.exchange, "latest"]),
        ]
    )
    other = _other_id(chain_id, identity)  # (said twice, the second asked alone: review75)
    if other is not None:
        again = _other_id(await rpc.call("eth_chainId"), identity)
        if again == other:
            return True
        m.doubt.said(f"chain id {other}, then {again or identity.chain_id}")
    if raw is None and head < number and code == "0x":  # (one picture: none of it there)
        why = f"head {head} below the deployment block {number}, no Exchange at {identity.exchange}"
        raise Vanished(f"chain reset: {why}")
    if raw is None or isinstance(raw, Exception):
        return False
    got = Header.from_rpc(raw)  # (ValueError: an answer that is no block, retried)
    if got.number != number or got.hash == identity.deploy_block_hash.lower():
        return False
    if (second := await _hash_at(rpc, number)) == got.hash:
        return True
    why = f"deployment block {number}: the chain answered {got.hash}, then {second}"
    m.doubt.said(why, (number, identity.deploy_block_hash))
    return False


async def _head_gone(rpc: AsyncRpc, head: Header) -> None:
    """(A restart: no block kept, only the saved ``head``) Returns when the chain proves
    ``head`` gone: another block at its number, said twice, the second a request of its
    own (as ``check_head``'s; nonce75: after one answer that signalled the reorg, one more
    of another hash reset the store of an unchanged chain, every fill dropped and read
    again, the pending settlements given up). Raises ``Inconsistent`` when it is still the
    chain's, or the two answers disagree (read again with the next poll); a head zeroed at
    the start (``check_head`` proved it gone, or the saved mirror was unreadable) is gone."""
    if head.hash == ZERO_HASH:
        return
    first = await _hash_at(rpc, head.number)
    if first is None:  # below the head it just reported: moving, or a lagging backend
        raise RpcError(0, f"the chain answered no block {head.number}, below its head")
    second = first if first == head.hash else await _hash_at(rpc, head.number)
    if head.hash in (first, second):
        raise Inconsistent(f"block {head.number} is ours after all: read again")
    if second != first:
        raise Inconsistent(f"block {head.number}: the chain answered {first}, then {second}")


def _other_id(raw: object, identity: ChainIdentity) -> int | None:
    """The chain id ``raw`` answers if it is another than ``identity``'s (None: the same,
    or no answer: no proof)."""
    try:
        said = int(raw, 16) if isinstance(raw, str) else None
    except ValueError:
        return None
    return None if said is None or said == identity.chain_id else said


async def _highest_kept(rpc: AsyncRpc, m: Mirror, kept: list[Header]) -> int | None:
    """The highest of ``kept`` the chain still has; None when it has another hash at each,
    the lowest's said twice, the second a request of its own (kept77: one batch of a backend
    on another branch, a lagging or flapping one, reset the store of an unchanged chain,
    every fill dropped and read again, the pending settlements given up). Every kept block
    descends from the lowest: another block there, proven, is every one gone. A second
    answer of ours there, or of a third hash, proves nothing: ``Inconsistent`` (read again
    with the next poll), the chain's identity in doubt meanwhile (``m.doubt``)."""
    results = await rpc.batch([("eth_getBlockByNumber", [hex(h.number), False]) for h in kept])
    said: dict[int, str] = {}
    for h, r in zip(reversed(kept), reversed(results), strict=True):
        if isinstance(r, ChainError):
            raise r
        if isinstance(r, Exception):
            raise RpcError(0, f"block {h.number} not read: {type(r).__name__}: {r}"[:300]) from r
        if r is None:  # below the head it just reported: moving, or a lagging backend
            raise RpcError(0, f"the chain answered no block {h.number}, below its head")
        got = Header.from_rpc(r)  # (ValueError: an answer that is no block, retried)
        if got.number != h.number:
            raise ValueError(f"block {got.number} answered for block {h.number}")
        if got.hash == h.hash:
            return h.number
        said[h.number] = got.hash
    low = kept[0]
    second = await _hash_at(rpc, low.number)
    if second is None:  # (a backend below it: no proof either way)
        raise RpcError(0, f"the chain answered no block {low.number}, below its head")
    if second != said[low.number]:
        again = "ours" if second == low.hash else second
        why = f"block {low.number}: the chain answered {said[low.number]}, then {again}"
        m.doubt.said(why, (low.number, low.hash))
        raise Inconsistent(f"{why}: no proof our blocks are gone")
    return None


async def check_head(rpc: AsyncRpc, m: Mirror) -> tuple[str | None, bool]:
    """At start: is the saved head still on the chain? (The problem, if any, and whether the
    saved blocks are to be undone.) Another block at its number proves
    it gone: the next poll undoes the saved blocks (``sdex.watch.savedblocks``) to the fork
    point, as a running watcher does; with none saved (an older version's store, or an
    unreadable one) it resets, the head's hash zeroed here. No answer, or null (a lagging
    backend), proves nothing: the head is kept as it is, and the problem returned (the
    status says so), and the first poll looks again (``fork_point``). A head already zeroed
    (the saved mirror was unreadable: ``Watcher._load`` zeroes it, and says so) is not
    checked, nor said again.

    Another hash proves it only said twice, the second a request of its own (as
    ``rewound``'s): undone or zeroed, the head matches no block, and the first poll undoes
    or resets (review74a: one flapped answer reset an unchanged chain, the pending
    settlements given up, a mined or pooled one's matches signed again, every fill dropped
    and read again). Two answers that disagree prove nothing: the head is kept, the problem
    returned.

    fee91 (fee90's left): the saved head's fee read as placed (the start's first bound) was the
    answer's word: its hash proves the head's other fields only if it is theirs. The fee is
    read only from a sealed header (``sdex.mirror.seal``: the hash is Keccak of its RLP); else
    the bound stays the deploy block's. fee93: read only when no fee floor was saved with the
    head (an older version's store): the floor saved (``HeadSignal.resume``) is the bound, and
    the answer's fee is not read at all (review92: with its hash kept, the lie unsealed).
    fee95: with none saved, no fee is believed till this read, or the first range's
    (``FeeFloor.unproven``: the deploy block's reach was the bound of an unsealed answer)."""
    if m.head is None or m.head.hash == ZERO_HASH:  # (a hostile chain's hash: not hex)
        return None, False  # (none saved, or an unreadable one: ``Watcher._load`` said so)
    hashes: list[str] = []
    for _ in range(2):  # (bounded: two reads at most, whatever the chain answers)
        try:
            raw = await rpc.call("eth_getBlockByNumber", hex(m.head.number), False)
            got = Header.from_rpc(raw)
        except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
            return f"our head {m.head.number} not read: {describe(e)}", False
        if got.number != m.head.number:
            return f"block {got.number} answered for {m.head.number}", False
        if got.hash == m.head.hash:
            break
        hashes.append(got.hash)
    if len(hashes) == 2 and hashes[0] != hashes[1]:
        why = f"block {m.head.number}: the chain answered {hashes[0]}, then {hashes[1]}"
        m.doubt.said(why, (m.head.number, m.head.hash))
        return why, False
    if len(hashes) == 1:  # (another hash, then ours: not proven, nor is ours yet)
        why = f"block {m.head.number}: the chain answered {hashes[0]}, then ours"
        m.doubt.said(why, (m.head.number, m.head.hash))
    if len(hashes) == 2 and m.blocks:  # (the saved blocks: the first poll undoes them)
        log.warning("the saved chain head %d is not on the chain any more: its blocks are "
                    "undone to the last one the chain has", m.head.number)  # fmt: skip
    elif len(hashes) == 2:
        log.warning("the saved chain head %d is not on the chain any more", m.head.number)
        m.head = Header(m.head.number, ZERO_HASH, "", m.head.timestamp)
    elif not m.blocks:  # (the chain's: a checkpoint, ``rewound``'s after a restart)
        m.checkpoints.add(m.head.number, m.head.hash)
    if not hashes and not m.announced.resumed:  # (no floor saved: its fee the first bound)
        await _head_fee(rpc, m, raw, got)
    return None, len(hashes) == 2 and bool(m.blocks)


async def _head_fee(rpc: AsyncRpc, m: Mirror, raw: object, got: Header) -> None:
    """(``check_head``: a store saved without a fee floor, its head ours) The saved head's fee
    read as the first bound (fee91) when its header seals (``sdex.mirror.seal``); else read
    once more, apart (a backend of its own: ``sdex.chain.apart``), and believed only if that
    one seals with our hash. fee97 (left44's): an unsealed answer was dropped silently, and
    on an idle automining devnet no block came to be read by number: no fee believed, nothing
    signed, nothing said why; now the refusal is logged with what would end it. review97a:
    the fee believed is the sealed answer's (the first's, unsealed, was: its lie proven)."""
    how = ""
    if not sealed(raw):

        async def again(own: AsyncRpc) -> object:
            n, bound = hex(got.number), HEAD_AGAIN  # (the whole call's: a copy sent again too)
            return await own.call("eth_getBlockByNumber", n, False, timeout=bound)

        how = "and so again, read apart"  # (review97a: "twice" was said of a failed read too)
        try:
            raw = await apart(rpc, again, HEAD_AGAIN)
        except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
            how = f"and not read again apart ({describe(e)})"
        if not (isinstance(raw, dict) and str(raw.get("hash", "")).lower() == got.hash):
            how = "and read again apart as another block, or none"
            raw = None
    if sealed(raw):  # (the sealed answer's fee: review97a, the first's was, a lie when not)
        m.announced.read(got.number, base_fee_of(raw), placed=True)
        return
    log.warning(
        "the saved chain head %d (%s) was answered with a header whose hash is not "
        "Keccak-256 of its fields (a field this version does not know, or a lie), %s: its "
        "base fee %s is not believed, and no fee is signed with (nothing settles) till the "
        "chain mines a block the mirror reads by its number (an idle devnet: mine one)",
        got.number, got.hash, how, got.base_fee,
    )  # fmt: skip


async def still_ours(rpc: AsyncRpc, number: int, ours: str) -> bool:
    """Whether the chain's block ``number``, read (a request of its own), is ours (hash
    ``ours``); no answer, an error or a null proves nothing (False)."""
    try:
        return await _hash_at(rpc, number) == ours.lower()
    except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
        log.debug("block %d not read again: %s", number, describe(e))
        return False


async def head_number(rpc: AsyncRpc) -> int | None:
    """The chain's head as ``eth_blockNumber`` answers it; no answer, an error or one that
    is no number proves nothing (None)."""
    try:
        return quantity(await rpc.call("eth_blockNumber"))
    except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
        log.debug("the chain's head not read again: %s", describe(e))
        return None


async def ours_again(rpc: AsyncRpc, m: Mirror, deployed: tuple[int, str]) -> bool:
    """(In doubt, a poll that found our head unchanged) The block the doubt was said of
    (``ChainDoubt.at``; else the deployment block, ``deployed``) read again, a request of
    its own: whether our hash (evidence of our chain: ``ChainDoubt.through``). Another hash
    there says the doubt again; no answer, an error or a null proves nothing (doubt78: a
    backend stuck at our head, read as the chain's latest, lifted the doubt while another
    still answered another hash there). Our hash there is the mirror's block's now, if it
    keeps one (watch84: a reorg applied since replaced the block the doubt was said of,
    and its old hash, read again each poll, said the doubt again for as long as the chain
    stayed idle: matching held for good)."""
    number, ours = m.doubt.at or deployed
    ours = next((b.header.hash for b in m.blocks if b.header.number == number), ours)
    try:
        got = await _hash_at(rpc, number)
    except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
        log.debug("block %d not read again in doubt: %s", number, describe(e))
        return False
    if got is not None and got != ours.lower():
        m.doubt.said(f"block {number}: the chain answered {got}, ours before", (number, ours))
    return got == ours.lower()
