"""The fork point of a reorg: the highest kept block the chain still has. A reset (the old
chain's fills deleted, every order judged again) only on proof, never for an outage."""

from __future__ import annotations

from sdex.chain.arpc import AsyncRpc
from sdex.errors import ChainError, RpcError
from sdex.mirror import Header, Mirror
from sdex.watch.blocks import Inconsistent


async def fork_point(rpc: AsyncRpc, m: Mirror, latest: Header) -> int | None:
    """The highest block kept in ``m`` that the chain (its head ``latest``) still has, same
    hash; None only when the chain proved every kept one gone (another hash at each number,
    or all above its head): a reset. A header the chain did not answer, answered null, or
    answered with something else than that block, above the highest match, raises: the
    reorg is looked at again with the next poll. With none kept yet (a restart), our head
    itself must be proven gone (raises ``Inconsistent`` when it is still the chain's)."""
    kept = [b.header for b in m.blocks if b.header.number <= latest.number]
    if not kept and not m.blocks and m.head is not None and m.head.number <= latest.number:
        if await _highest_kept(rpc, [m.head]) is not None:
            raise Inconsistent(f"block {m.head.number} is ours after all: read again")
        return None
    if not kept:  # the chain's head below every kept block: a reset
        return None
    return await _highest_kept(rpc, kept)


async def _highest_kept(rpc: AsyncRpc, kept: list[Header]) -> int | None:
    """The highest of ``kept`` the chain still has; None when it has another hash at each."""
    results = await rpc.batch([("eth_getBlockByNumber", [hex(h.number), False]) for h in kept])
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
    return None
