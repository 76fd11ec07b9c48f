"""review27: a transaction count that is not hex, answered while a settlement's receipt is
awaited, is the chain's bad answer (read again, or the settlement judged lost), never a
``TypeError`` out of the receipt's wait.

``poll_receipt`` read ``eth_getTransactionCount`` with ``int(raw, 16)``: a number, a list or
null (a broken or hostile endpoint) raised ``TypeError``, which its handler (chain errors
and ``ValueError``) let through: the settler then gave the matches back as failed, with no
transaction named, though the transaction was out and might land; the settlement's row
stayed ``pending``. Real Hardhat behind a loopback proxy that answers that one method."""

from __future__ import annotations

import pytest

from sdex.chain import Rpc, Sender
from sdex.chain.arpc import AsyncRpc
from sdex.errors import ChainError
from sdex.settlement.receipts import poll_receipt
from tests.conftest import Chain
from tests.test_hostile_quantity import HOSTILE, answering
from tests.test_node import BOB


@pytest.mark.parametrize("result", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
async def test_a_count_not_hex_while_a_receipt_is_awaited_is_no_type_error(
    chain: Chain, result: object
) -> None:
    sender = chain.sender(BOB)
    never_sent = sender.sign_at(10**6, sender.address, b"", 21_000, fees=(1, 0))
    with answering(chain.deployment.rpc, "eth_getTransactionCount", result) as url:
        rpc = AsyncRpc(url)
        try:  # suspect: its broadcast failed, so the chain is asked at once
            got = await poll_receipt(rpc, sender.address, never_sent, suspect=True)
        finally:
            await rpc.close()
    assert got is None  # (lost: no receipt, and the count not read)


@pytest.mark.parametrize("result", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_count_not_hex_at_signing_is_a_chain_error(chain: Chain, result: object) -> None:
    """``Sender.sign`` reads the next nonce (``pending``) as the chain counts it: an answer
    that is no quantity is the chain's error (a wallet's one line, the settler's failed
    batch), not a ``TypeError``."""
    with answering(chain.deployment.rpc, "eth_getTransactionCount", result) as url:
        rpc = Rpc(url)
        try:
            sender = Sender(rpc, chain.keys[BOB], chain.deployment.chain_id)
            with pytest.raises(ChainError, match="eth_getTransactionCount"):
                sender.sign(sender.address, b"", 21_000, fees=(1, 0))
            assert sender.next_nonce is None
        finally:
            rpc.close()
