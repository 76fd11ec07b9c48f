"""The lane's settlements signed for a chain the watcher saw replaced since, sent to the chain
that replaced it before the watcher saw it: there at the old chain's nonces, ahead of the new
chain's count, which anvil and geth keep pooled and mine once the count comes to them (the
lane's own settlements on the new chain bring it there). Each found pooled is displaced by a
transfer of nothing to the lane's own address at its nonce and higher fees (settle74: at
``bench/settle74_send_window.py``'s pace, a match each 20 ms, the old chain's match was mined
on the new chain within ~200 ms of the reset, before its receipt wait's first look at it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import ChainView, holds_view
from sdex.chain.tx import Sender, SignedTx
from sdex.errors import RpcError
from sdex.settlement.gas import GAP_FILL_GAS
from sdex.settlement.receipts import in_pool, quantity
from sdex.settlement.replace import bumped

log = logging.getLogger("sdex.settlement")


async def displace(
    reads: AsyncRpc,
    sends: AsyncRpc,
    sender: Sender,
    stale: Sequence[SignedTx],
    view: ChainView,
    believed: Callable[[object], tuple[int, int]],
) -> list[str]:
    """Each of ``stale`` that the chain behind ``reads`` holds pooled at a nonce its count has
    not reached, while it holds ``view``'s block (all asked in one batch): a transfer of
    nothing at its nonce, its fees 1/8 over its own and never under the latest block's, sent
    through ``sends``, the latest block's fees as ``believed`` reads them (the lane's
    ``Fees.of``: bounded as the lane's own reads, at most ``--max-base-fee``; fee87: the
    ceiling alone bounded them; settle89: no default, which was ``fees_of``, the ceiling's).
    The hashes displaced; a refused send logged (an answer's error raised, nothing sent;
    ``ChainError``: its fee not believed, nothing sent)."""
    if not stale:
        return []
    answers = await reads.batch(
        [
            ("eth_getBlockByNumber", [hex(view[0]), False]),
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_getTransactionCount", [sender.address, "latest"]),
            *(("eth_getTransactionByHash", [tx.tx_hash]) for tx in stale),
        ]
    )
    at, latest, count, *known = answers
    for answer in (at, latest, count):
        if isinstance(answer, Exception):
            raise answer
    if not holds_view(view, at):
        return []
    done: list[str] = []
    for tx, k in zip(stale, known, strict=True):
        if tx.nonce < quantity(count) or isinstance(k, Exception) or not in_pool(k):
            continue
        fees = bumped(tx.fees, believed(latest))
        filler = sender.sign_at(tx.nonce, sender.address, b"", GAP_FILL_GAS, fees=fees)
        try:
            await sends.call("eth_sendRawTransaction", filler.raw)
        except RpcError as e:
            log.warning("%s of a replaced chain not displaced: %s", tx.tx_hash, e)
            continue
        sender.taken_ahead(tx.nonce)  # (the lane's nonce read again there: review77a)
        done.append(tx.tx_hash)
        log.warning("%s of a replaced chain displaced by %s", tx.tx_hash, filler.tx_hash)
    return done
