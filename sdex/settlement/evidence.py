"""Reads what a failed settlement ran against (``Evidence``, judged by
``sdex.settlement.blame``): blocking chain calls, on the settlement's chain thread, made
only for failures that chain state read afterwards does not explain (rare).

- The transaction (``eth_getTransactionByHash``): its block, its gas and fees.
- Every order of its unexplained matches, read by ``getOrderStates`` at the block before
  the settlement's: exact for an account no log of the settlement's block touched before it
  (nor its own transaction: a batch's earlier matches); an account a transfer or approval
  touched there is not read exactly (with interval mining an EOA's sandwich fits in one
  block: its funds out and back around the settlement's transaction).
- Each contract-signed order's ``isValidSignature(hash, signature)``, called alone at that
  block with the Exchange as the caller and the transaction's gas and fees (the Exchange
  given a balance for them: ``eth_call``s check it).

A match never sent (its pre-flight reverted) is read at "latest", just after the
pre-flight: every account counts as exact, and the signature call carries the batch gas
bound and the chain's gas price.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

from sdex.chain import Exchange, Rpc
from sdex.chain.rpc import quantity
from sdex.errors import ContractRevert, RpcError
from sdex.matching.match import Match
from sdex.order import SignedOrder
from sdex.settlement.blame import Evidence, account, own_key
from sdex.settlement.gas import BASE_GAS, GAS_PER_MATCH

log = logging.getLogger("sdex.settlement")

TRANSFER = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
APPROVAL = "0x" + keccak(b"Approval(address,address,uint256)").hex()
IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")
MAGIC = "0x1626ba7e" + "0" * 56
"""``isValidSignature``'s valid answer as the Exchange reads it (SignatureChecker): its
first word is the selector."""
MAX_LOGS = 10_000
"""Logs of a block read at most: past that, no account of the block counts as exact."""
RICH = hex(2**96)
"""The Exchange's balance in the signature call (fees times gas must be payable)."""
FEE_FIELDS = ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas")


def gather(
    rpc: Rpc, exchange: Exchange, tx_hash: str | None, matches: Sequence[Match]
) -> Evidence | None:
    """The evidence for ``matches`` (failed in ``tx_hash``; None: never sent, the pre-flight
    reverted); None when the chain does not know the transaction (lost)."""
    orders = list({so.hash: so for m in matches for so in (m.resting, m.incoming)}.values())
    accounts = {account(so) for so in orders}
    if tx_hash is None:
        block, gas = "latest", BASE_GAS + GAS_PER_MATCH
        fees = {"gasPrice": hex(quantity(rpc.call("eth_gasPrice")))}
        touched: set[tuple[str, str]] = set()
    else:
        tx = rpc.call("eth_getTransactionByHash", tx_hash)
        if not isinstance(tx, dict) or tx.get("blockNumber") is None:
            return None  # (lost, or still pending: it says nothing yet)
        number, index = quantity(tx["blockNumber"]), quantity(tx["transactionIndex"])
        if number == 0:
            return None
        block, gas = hex(number - 1), quantity(tx["gas"])
        fees = {k: hex(quantity(tx[k])) for k in FEE_FIELDS if tx.get(k) is not None}
        if "maxFeePerGas" in fees:
            fees.pop("gasPrice", None)  # (an EIP-1559 call takes one kind)
        tokens = sorted({t for _, t in accounts})
        touched = _touched(rpc, number, index, tokens, accounts)
    states = exchange.order_states(orders, block)
    signatures = {
        so.hash: ok
        for so in orders
        if not own_key(so)
        if (ok := _valid_alone(rpc, exchange.address, so, block, gas, fees)) is not None
    }
    return Evidence(
        states={s.hash: s for s in states},
        exact=frozenset(accounts - touched),
        signatures=signatures,
    )


def _touched(
    rpc: Rpc, number: int, index: int, tokens: list[str], accounts: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The ``accounts`` a Transfer or Approval log of block ``number`` touched in a
    transaction up to ``index`` (the settlement's own included)."""
    flt = {"fromBlock": hex(number), "toBlock": hex(number), "address": tokens}
    logs = rpc.call("eth_getLogs", flt)
    if not isinstance(logs, list) or len(logs) > MAX_LOGS:
        return set(accounts)
    touched: set[tuple[str, str]] = set()
    for lg in logs:
        if not isinstance(lg, dict):
            return set(accounts)
        try:
            if quantity(lg.get("transactionIndex")) > index:
                continue
        except ValueError:
            return set(accounts)
        topics = lg.get("topics")
        if not isinstance(topics, list) or len(topics) < 3 or topics[0] not in (TRANSFER, APPROVAL):
            continue
        token = str(lg.get("address", "")).lower()
        for t in topics[1:3]:
            if isinstance(t, str) and len(t) == 66:
                touched.add(("0x" + t[-40:].lower(), token))
    return touched & accounts


def _valid_alone(
    rpc: Rpc, exchange: str, so: SignedOrder, block: str, gas: int, fees: dict[str, str]
) -> bool | None:
    """The wallet's ``isValidSignature`` of ``so``, called alone as the Exchange would
    (None: the chain did not answer)."""
    data = IS_VALID_SIGNATURE + so.hash + (64).to_bytes(32, "big")
    sig = so.signature
    data += len(sig).to_bytes(32, "big") + sig + bytes(-len(sig) % 32)
    call: dict[str, Any] = {
        "from": exchange,
        "to": so.order.maker,
        "data": "0x" + data.hex(),
        "gas": hex(gas),
        **fees,
    }
    try:
        raw = rpc.call("eth_call", call, block, {exchange: {"balance": RICH}})
    except ContractRevert:
        return False
    except (RpcError, OSError) as e:
        log.warning("a wallet's signature alone was not read (%s): no evidence", e)
        return None
    return isinstance(raw, str) and raw[:66].lower() == MAGIC
