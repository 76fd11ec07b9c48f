"""Reads what a failed settlement ran against (``Evidence``, judged by
``sdex.settlement.blame``): blocking chain calls, on the settlement's chain thread, made
only for failures that chain state read afterwards does not explain (rare).

- The transaction (``eth_getTransactionByHash``): its block, its gas and fees.
- Every order of its unexplained matches, read by ``getOrderStates`` at the block before
  the settlement's: exact when it is alone in (or first of) its block. With interval or
  batched mining an EOA's sandwich fits in one block (its funds out and back around the
  settlement's transaction), so the Transfer and Approval logs of the block's transactions
  before it are applied to that reading: each balance moved by its transfers, an allowance
  to the Exchange set by its approval. Not exact (nothing blamed on it): an account with a
  log in the settlement's own transaction (a batch's earlier matches), or with a transfer
  out before it while its allowance is not unlimited (a transfer by the Exchange spends the
  allowance, one by the maker does not; the log does not say which) or sent by another
  account (review38: another's fill of the maker's other order just before, a gift back just
  after: the shortfall was not the maker's doing), or named by any other
  log of its token earlier in the block (review38: WETH9's ``Withdrawal`` and ``Deposit``
  move a balance with no ``Transfer``; an EOA's withdraw-settlement-deposit in one block was
  read as its funds there, and blamed on the contract wallet facing it). A token that moves
  balances without logs is beyond this (the listed tokens are the operator's choice).
- Each contract-signed order's ``isValidSignature(hash, signature)``, called alone at that
  block with the Exchange as the caller and the transaction's gas and fees (the Exchange
  given a balance for them: ``eth_call``s check it).

- For a match of an own-key order and a contract-signed one: whether it settles alone, at
  that block with that gas, when the wallet's code is replaced (a state override) by code
  that answers every ``isValidSignature`` valid (``STUB``). Only if it does can the wallet's
  answer inside the settlement be what failed it (review38: a token that refuses the EOA,
  USDC's and USDT's blacklist, failed every settlement against an honest wallet, and the
  wallet was blamed).

- For a match nothing above explains (no contract side, or one whose stubbed run failed too):
  probing transfers of its legs at that block (``sdex.settlement.refusal``): a token that
  refuses one maker and moves the other's, and moves for others than that maker (review45:
  not a pause), names it (blame39); both moving, a leg that refuses to credit the maker it
  pays names that maker's order (blame44).

A match never sent (its pre-flight reverted) is read at the block its pre-flight ran at
(the settler pins it: ``SettledMatch.block``): exact, but for an account a transfer out of
which another account sent in that block (as for a sent one's block: review38). Before
(blame44) it was read at the latest block, an account exact unless a log of its token named
it in the last ``RECENT_BLOCKS`` blocks (review38: an EOA's funds out for the pre-flight and
back for the reads blamed the wallet facing it): funds out before the pre-flight and back
more than that many blocks before the reads blamed the wallet all the same. (That window is
kept for a match with no block known.) The signature call carries the batch gas bound and
the chain's gas price.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from eth_hash.auto import keccak

from sdex.chain import Exchange, OrderState, Rpc
from sdex.chain.rpc import quantity
from sdex.errors import ContractRevert, RpcError
from sdex.matching.match import Match
from sdex.order import SignedOrder
from sdex.settlement.blame import UNLIMITED, Evidence, account, contract_side, own_key
from sdex.settlement.gas import BASE_GAS, GAS_PER_MATCH
from sdex.settlement.refusal import refusals

log = logging.getLogger("sdex.settlement")

TRANSFER = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
APPROVAL = "0x" + keccak(b"Approval(address,address,uint256)").hex()
IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")
MAGIC = "0x1626ba7e" + "0" * 56
"""``isValidSignature``'s valid answer as the Exchange reads it (SignatureChecker): its
first word is the selector."""
MAX_LOGS = 10_000
"""Logs of a block read at most: past that, no account of the block counts as exact."""
MAX_SENDERS_READ = 16
"""Transactions read (for one failed settlement, all its accounts) to know who sent a
transfer out of an account before it in its block: an account whose transfers out need more
is not exact."""
RECENT_BLOCKS = 16
"""A match never sent whose pre-flight's block is not known (read at "latest"): an account a
log of its token names in this many blocks up to the one read is not exact (the pre-flight's
block is among them unless as many were mined between it and the reads)."""
RICH = hex(2**96)
"""The Exchange's balance in the signature call (fees times gas must be payable)."""
FEE_FIELDS = ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas")
STUB = "0x631626ba7e60e01b60005260206000f3"
"""Code that answers any call with ``isValidSignature``'s magic value (PUSH4 0x1626ba7e,
PUSH1 224, SHL, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN): a wallet that always says valid."""
Account = tuple[str, str]
"""(maker, token), lower case."""
Moves = dict[Account, int]


def gather(
    rpc: Rpc,
    exchange: Exchange,
    tx_hash: str | None,
    matches: Sequence[Match],
    operator: str,
    at: int | None = None,
) -> Evidence | None:
    """The evidence for ``matches`` (failed in ``tx_hash``; None: never sent, the pre-flight
    reverted, by ``operator``, at block ``at`` when known); None when the chain does not know
    the transaction (lost)."""
    orders = list({so.hash: so for m in matches for so in (m.resting, m.incoming)}.values())
    accounts = {account(so) for so in orders}
    tokens = sorted({t for _, t in accounts})
    if tx_hash is None:
        latest = quantity(rpc.call("eth_blockNumber")) if at is None else at
        block, gas = hex(latest), BASE_GAS + GAS_PER_MATCH
        fees = {"gasPrice": hex(quantity(rpc.call("eth_gasPrice")))}
        delta: Moves = {}
        allowance: Moves = {}
        if at is None:  # (not pinned: anything its token's logs name lately is unsure)
            unsure, others = _moved_lately(rpc, latest, tokens, accounts)
        else:  # (what the pre-flight met, but a transfer out by another in that block)
            others = _moved_lately(rpc, latest, tokens, accounts, 1)[1]
            unsure = set(others)
        spent: set[Account] = set()
    else:
        tx = rpc.call("eth_getTransactionByHash", tx_hash)
        if not isinstance(tx, dict) or tx.get("blockNumber") is None:
            return None  # (lost, or still pending: it says nothing yet)
        number, index = quantity(tx["blockNumber"]), quantity(tx["transactionIndex"])
        if number == 0:
            return None
        block, gas = hex(number - 1), quantity(tx["gas"])
        operator = str(tx.get("from") or operator).lower()
        fees = {k: hex(quantity(tx[k])) for k in FEE_FIELDS if tx.get(k) is not None}
        if "maxFeePerGas" in fees:
            fees.pop("gasPrice", None)  # (an EIP-1559 call takes one kind)
        delta, allowance, unsure, spent, others = _in_block(
            rpc, number, index, tokens, accounts, exchange.address
        )
    states: dict[bytes, OrderState] = {}
    raw: dict[bytes, OrderState] = {}  # (as read at ``block``: what a probe there meets)
    for so, st in zip(orders, exchange.order_states(orders, block), strict=True):
        got = account(so)
        raw[so.hash] = st
        if got in delta or got in allowance:  # (the block's earlier transactions moved them)
            limit = allowance.get(got, st.maker_allowance)
            balance = max(0, st.maker_balance + delta.get(got, 0))
            st = replace(st, maker_balance=balance, maker_allowance=limit)
        if got in spent and st.maker_allowance != UNLIMITED:
            unsure.add(got)
        states[so.hash] = st
    signatures = {
        so.hash: ok
        for so in orders
        if not own_key(so)
        if (ok := _valid_alone(rpc, exchange.address, so, block, gas, fees)) is not None
    }
    stubbed: dict[tuple[bytes, bytes], bool] = {}
    for m in matches:
        c = contract_side(m)
        if c is None or signatures.get(c.hash) is False:
            continue
        ok = _settles_stubbed(rpc, exchange, operator, m, c, block, gas, fees)
        if ok is not None:
            stubbed[(m.resting.hash, m.incoming.hash)] = ok
    # (a match never sent is probed at its pre-flight's block (or "latest", a moment after
    # it): a token refusing its maker there is like its funds short there; a sent one at the
    # block before its own: only an account nothing moved before it in its block is named)
    doubtful = set() if tx_hash is None and at is None else unsure | others
    refused = refusals(rpc, exchange.address, matches, block, raw, doubtful, signatures, stubbed)
    return Evidence(
        states=states,
        exact=frozenset(accounts - unsure),
        moved_by_others=frozenset(others),
        signatures=signatures,
        stubbed=stubbed,
        refused=refused,
    )


def _in_block(
    rpc: Rpc,
    number: int,
    index: int,
    tokens: list[str],
    accounts: set[Account],
    exchange: str,
) -> tuple[Moves, Moves, set[Account], set[Account], set[Account]]:
    """What block ``number``'s transactions before ``index`` (the settlement's) did to
    ``accounts``: each one's balance change (from its Transfer logs), its allowance to the
    Exchange where an Approval set it, and the accounts that cannot be told exactly: any log
    of them in the settlement's own transaction (a batch's earlier matches), or a transfer
    out of one (a transfer by the Exchange spends its allowance, one by the maker does not:
    the log does not say which; exact only while the allowance is unlimited, and only if its
    maker sent each such transaction itself: ``_moved_by_others``), or any other
    log of its token naming it (a topic or the data: ``Withdrawal``, ``Deposit``, a
    ``Transfer`` with no indexed addresses)."""
    flt = {"fromBlock": hex(number), "toBlock": hex(number), "address": tokens}
    logs = rpc.call("eth_getLogs", flt)
    if not isinstance(logs, list) or len(logs) > MAX_LOGS:
        return {}, {}, set(accounts), set(), set(accounts)
    delta: Moves = {}
    allowance: Moves = {}
    unsure: set[Account] = set()
    spent: set[Account] = set()
    sent_out: dict[Account, set[str]] = {}
    named = _by_token(accounts)
    for lg in logs:
        try:
            at = quantity(lg["transactionIndex"])
            topics, token = lg["topics"], str(lg["address"]).lower()
            if at > index:
                continue
            kind = topics[0] if isinstance(topics, list) and topics else None
            if at == index or len(topics) != 3 or kind not in (TRANSFER, APPROVAL):
                # (any other log of the token naming an account: WETH9's Withdrawal and
                # Deposit move a balance with no Transfer; review38)
                unsure |= _named_by(lg, named)
                continue
            value = quantity(lg["data"])
            tx = str(lg["transactionHash"]).lower()
        except (KeyError, TypeError, ValueError):
            return {}, {}, set(accounts), set(), set(accounts)
        a, b = (("0x" + str(t)[-40:].lower(), token) for t in topics[1:3])
        if kind == TRANSFER:
            delta[a] = delta.get(a, 0) - value
            delta[b] = delta.get(b, 0) + value
            spent.add(a)
            if a in accounts:
                sent_out.setdefault(a, set()).add(tx)
        elif b[0] == exchange.lower():  # (an Approval to the Exchange)
            allowance[a] = value
            spent.discard(a)  # (set anew: what was spent before it does not count)
    others = _moved_by_others(rpc, sent_out)
    return delta, allowance, unsure | others, spent & accounts, others


def _moved_by_others(rpc: Rpc, sent_out: dict[Account, set[str]]) -> set[Account]:
    """The accounts of ``sent_out`` (each one's transactions with a transfer out of it) one
    of whose transfers out was sent by another account (or not known to be its own): a fill
    by someone else, a spender's ``transferFrom`` (review38: another's fill just before a
    settlement and a gift back just after made an honest maker short there, and blamed)."""
    out: set[Account] = set()
    senders: dict[str, str] = {}  # (tx hash -> its sender, lower case; "" if not known)
    for acct, txs in sorted(sent_out.items()):
        for h in sorted(txs):
            if h not in senders:
                if len(senders) >= MAX_SENDERS_READ:  # (the reads' bound: all of a failure)
                    out.add(acct)
                    break
                tx = rpc.call("eth_getTransactionByHash", h)
                senders[h] = str(tx.get("from", "")).lower() if isinstance(tx, dict) else ""
            if senders[h] != acct[0]:
                out.add(acct)
                break
    return out


def _moved_lately(
    rpc: Rpc, latest: int, tokens: list[str], accounts: set[Account], blocks: int = RECENT_BLOCKS
) -> tuple[set[Account], set[Account]]:
    """The accounts a log of their token names in its first or second indexed topic in the
    ``blocks`` blocks up to ``latest``, and of those the ones a transfer out of was
    sent by another account (``_moved_by_others``) (all of them: too many logs, or an answer
    that is not logs): a pre-flight ran at "latest" a moment before the reads, and an account
    moved meanwhile (out for the pre-flight, back for the reads: review38) is not read as it
    met it. Two ``eth_getLogs`` filtered by those topics: only the makers' logs come back."""
    first = max(0, latest - blocks + 1)
    words = sorted({"0x" + "00" * 12 + maker[2:] for maker, _ in accounts})
    named = _by_token(accounts)
    out: set[Account] = set()
    sent_out: dict[Account, set[str]] = {}
    for topics in ([None, words], [None, None, words]):  # (an indexed address: 1st or 2nd)
        flt = {"fromBlock": hex(first), "toBlock": hex(latest), "address": tokens, "topics": topics}
        logs = rpc.call("eth_getLogs", flt)
        if not isinstance(logs, list) or len(logs) > MAX_LOGS:
            return set(accounts), set(accounts)
        for lg in logs:
            try:
                out |= _named_by(lg, named)
                t = lg["topics"]
                if len(t) == 3 and t[0] == TRANSFER:  # (a transfer out of a maker)
                    a = ("0x" + str(t[1])[-40:].lower(), str(lg["address"]).lower())
                    if a in accounts:
                        sent_out.setdefault(a, set()).add(str(lg["transactionHash"]).lower())
            except (KeyError, TypeError, ValueError):
                return set(accounts), set(accounts)
    return out, _moved_by_others(rpc, sent_out)


def _by_token(accounts: set[Account]) -> dict[str, list[Account]]:
    named: dict[str, list[Account]] = {}
    for acct in accounts:
        named.setdefault(acct[1], []).append(acct)
    return named


def _named_by(lg: Any, named: dict[str, list[Account]]) -> set[Account]:
    """The accounts of log ``lg``'s token (``named``: by token) that it names, in a topic
    past the first or in its data (its text: an unaligned match only errs towards unsure)."""
    topics = lg["topics"]
    if not isinstance(topics, list):
        raise TypeError("topics are not a list")
    text = ("".join(str(t) for t in topics[1:]) + str(lg["data"])).lower()
    return {a for a in named.get(str(lg["address"]).lower(), ()) if a[0][2:] in text}


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


def _settles_stubbed(
    rpc: Rpc,
    exchange: Exchange,
    operator: str,
    m: Match,
    contract: SignedOrder,
    block: str,
    gas: int,
    fees: dict[str, str],
) -> bool | None:
    """Whether ``m`` settles alone, sent by ``operator`` at ``block`` with ``gas`` and
    ``fees``, when ``contract``'s wallet answers every signature valid (``STUB``); None: the
    chain did not answer."""
    data = exchange.encode_settlement([(m.resting, m.incoming, m.amounts.left_filled)])
    call: dict[str, Any] = {
        "from": operator,
        "to": exchange.address,
        "data": "0x" + data.hex(),
        "gas": hex(gas),
        **fees,
    }
    override = {contract.order.maker: {"code": STUB}, operator: {"balance": RICH}}
    try:
        rpc.call("eth_call", call, block, override)
    except ContractRevert:
        return False
    except (RpcError, OSError) as e:
        log.warning("a match with its wallet stubbed was not run (%s): no evidence", e)
        return None
    return True
