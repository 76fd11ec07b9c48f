"""The lane's nonces that later transactions wait on, with no transaction of them the chain
holds: which are to be filled by transfers of nothing to the lane's own address
(``NonceLane._fill``). Three ways to one:

- A transaction of the lane lost (``lost_to_fill``): its nonce, if the chain has not used it,
  pools nothing at it and does not hold it pooled.
- A settlement pooled past the chain's count (``missing_below``). When blocks holding the
  lane's settlements are undone before the watcher sees it (a reorg between two polls, a
  devnet's ``evm_revert``), the lane's next settlement is signed at the old branch's count.
  Anvil and geth keep it pooled behind the gap and mine it once the count comes to it. gap76:
  before, it was signed again at rising fees, which cannot help, and counted lost at
  ``RECEIPT_TIMEOUT`` (its nonce not filled: "an earlier gap"), its matches failed, the
  wallet's IOC never traded.
- A settlement refused "nonce too high" (``unheld_below``): Hardhat, which cannot queue it
  while it automines, in the same case; or, behind a balancer, a backend that lags the one
  that took it (the send tried again there). It is sent again as signed once the nonces
  below it are filled. settle77: nonce75 signed its matches again at the count when the
  chain did not know its hash, and the lagging backend does not: both were mined.

Transfers of nothing, not the pooled (or refused) settlement's matches signed again at the
count: the bytes the chain was sent cannot be taken back (only displaced at its nonce), and
once the count came to them they would land too, the same matches settled twice (a paid
revert, or an order's rest filled again). A transfer settles nothing: the settlement lands as
signed (the contract checks each match against the chain it lands on), and the undone
settlements' matches are the watcher's to judge again when it applies the reorg. If one of
those lands again at its nonce first (another node's pool kept it), the transfer there is
refused: harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import ChainView, holds_view
from sdex.chain.tx import Sender, SignedTx, already_known, nonce_refusal
from sdex.errors import RpcError, RpcTimeout
from sdex.settlement.gas import GAP_FILL_GAS, Fees
from sdex.settlement.receipts import APART_WAIT, in_pool, quantity
from sdex.settlement.signing import count_in_view

log = logging.getLogger("sdex.settlement")

USED = "used, or an earlier gap"

MAX_GAP_FILL = 256
"""Nonces one gap's fill takes at most (``missing_below``): the lane's settlements of blocks
a reorg undid before the watcher saw it, a few a block over a reorg window. A larger gap is
none the lane left (its nonce read from a count that lied: review77a, one answer 300 too
high had 300 transfers of nothing sent and paid for, however large the lie): not filled."""


async def lost_to_fill(rpc: AsyncRpc, address: str, lost: SignedTx) -> str | None:
    """Why ``lost``'s nonce is not to be filled (None: it is): used already, or an earlier
    gap, which its own loss fills (the latest count not at it); a transaction of it pooled
    (the pending count past it: the lane's nonce read again after a reset, a reorg or a
    failed send, its next settlement took this one's nonce; a filler would displace it:
    review69a); or ``lost`` itself pooled (it may still land: a filler at higher fees would
    give its matches up for a transfer the operator pays; left61). A fill is decided by a
    second read on a connection of its own (``sdex.chain.apart``): small92, one read through
    the pooled client, whose kept-alive connections a sticky balancer pins to one backend,
    had a lagging or lying one's counts fill a nonce a pooled settlement held."""
    why = await _not_to_fill(rpc, address, lost)
    if why is not None:
        return why
    return await apart(rpc, lambda own: _not_to_fill(own, address, lost), APART_WAIT)


async def _not_to_fill(rpc: AsyncRpc, address: str, lost: SignedTx) -> str | None:
    """``lost_to_fill``'s reads, once, through ``rpc``."""
    nonce = lost.nonce
    mined, pending = await rpc.batch(
        [
            ("eth_getTransactionCount", [address, "latest"]),
            ("eth_getTransactionCount", [address, "pending"]),
        ]
    )
    if quantity(mined) != nonce:
        return USED
    if quantity(pending) > nonce:
        return "a transaction of it is pooled"
    if await rpc.call("eth_getTransactionByHash", lost.tx_hash) is not None:
        return "its settlement is pooled"
    return None


async def missing_below(
    rpc: AsyncRpc, address: str, stuck: SignedTx, ours: Collection[int], view: ChainView | None
) -> range:
    """The nonces below ``stuck``'s (pooled, its nonce not used) that the chain holds no
    transaction of: from its pending count (anvil and geth count the pooled ones in a row
    from the latest count, none past a gap) up to ``stuck``'s, all asked in one batch. None
    (an empty range) when ``stuck`` is not pooled any more, the chain behind the URL does
    not hold ``view``'s block (not the chain it was signed for: ``NonceLane._replace``), a
    transaction of ``ours`` (the nonces of the lane's in flight) is among them: its own
    wait decides it (lost: its nonce filled, or this gap's next check fills it), or they
    are more than ``MAX_GAP_FILL``."""
    asks: list[tuple[str, list[Any]]] = [
        ("eth_getTransactionCount", [address, "pending"]),
        ("eth_getTransactionByHash", [stuck.tx_hash]),
    ]
    if view is not None:
        asks.append(("eth_getBlockByNumber", [hex(view[0]), False]))
    pending, known, *at = await rpc.batch(asks)
    for answer in (pending, known, *at):
        if isinstance(answer, Exception):
            raise answer
    if not in_pool(known) or (view is not None and not holds_view(view, at[0])):
        return range(0)
    gap = range(quantity(pending), stuck.nonce)
    if len(gap) > MAX_GAP_FILL:
        why = "more than the lane leaves (a count that lied?)"
        log.warning("%s pooled past %d free nonces: not filled, %s", stuck.tx_hash, len(gap), why)
        return range(0)
    return range(0) if any(n in gap for n in ours) else gap


async def unheld_below(
    rpc: AsyncRpc,
    address: str,
    refused: SignedTx,
    ours: Collection[int],
    view: ChainView | None,
    viewed: Callable[[], ChainView | None],
) -> range:
    """The nonces below ``refused``'s (a send the chain behind ``rpc`` answered "nonce too
    high") from the chain's pending count, read only where the chain holds ``view``'s block
    (``sdex.settlement.signing.count_in_view``: its errors raised); none (an empty range)
    when a transaction of ``ours`` (the nonces of the lane's in flight) is among them: its
    own send decides it, and this one is sent again after it."""
    pending = await count_in_view(rpc, address, view, viewed)
    gap = range(pending, refused.nonce)
    return range(0) if any(n in gap for n in ours) else gap


async def fill(
    rpc: AsyncRpc,
    sender: Sender,
    fees: Fees,
    nonces: range,
    send: Callable[[SignedTx], Awaitable[None]],
) -> int:
    """A transfer of nothing to ``sender``'s own address at each of ``nonces``, in order, at
    the lane's fees, each sent by ``send``: how many were. A failure is logged and the
    lane's nonce read again (the later ones are judged lost in their turn), as it is when
    the lane's next nonce is one of them or below (review77a: the watcher saw the undoing
    first, the lane's nonce read again at the gap's first nonce and its next settlement
    signed there; the lane's next one took a filler's nonce: "nonce too low", signed again,
    or pooled beside the filler at its fees, "replacement transaction underpriced", counted
    lost, its matches failed). A refusal that says the chain holds a transaction at the
    nonce already ("nonce too low", "replacement transaction underpriced", "already known":
    ``held_already``: the gap closed meanwhile, nothing to fill) is logged at info, not as a
    failure (settle93: a warning each, a node's log full of harmless ones)."""
    sent = 0
    nonce = nonces.start
    try:
        now = await fees.current(rpc)
        for nonce in nonces:
            filler = sender.sign_at(nonce, sender.address, b"", GAP_FILL_GAS, fees=now)
            await send(filler)
            sent += 1
            log.warning("nonce %d filled by %s: later ones go on", nonce, filler.tx_hash)
    except Exception as e:
        if held_already(e):
            log.info("nonce %d not filled: the chain holds a transaction at it already (%s)",
                     nonce, e)  # fmt: skip
        else:
            log.warning("filling nonces %s failed: %s", nonces, e)
        sender.forget_nonce()
    if sent and (lane := sender.next_nonce) is not None and lane < nonces.stop:
        sender.forget_nonce()  # (read from the chain once the fillers' sends ended)
    return sent


def held_already(e: BaseException) -> bool:
    """Whether ``e`` is a chain's refusal of a send because it holds a transaction at its
    nonce already: mined ("nonce too low"), pooled at fees the send does not outbid
    ("replacement transaction underpriced"), or the same bytes ("already known"). Not a
    timeout nor this client's own error (code 0): the send may have gone."""
    if not isinstance(e, RpcError) or isinstance(e, RpcTimeout) or e.code == 0:
        return False
    return nonce_refusal(e) == "low" or "underpriced" in e.message.lower() or already_known(e)
