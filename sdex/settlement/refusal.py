"""Whether a failed match's token refused one of its makers (``Evidence.refused``): probing
``transferFrom`` calls from the Exchange at the state the settlement met, for the matches
nothing else explains (``sdex.settlement.evidence``).

- Each leg's ``transferFrom(maker, FRESH, amount)`` (refused there, asked again to the maker
  itself: a permissioned token credits no fresh address). A token that refuses one maker
  and moves the other's funds names the one it refuses (blame39: an EOA a listed token
  blocks was never blamed, and its order stayed for ever, each new honest order facing it
  one reverted transaction) — only if that token moves for another sender at that state:
  ``transferFrom(CONTROL, FRESH, 0)`` (else to itself), or one unit of another funded
  maker of the failure that sells it (review45: during a token admin's global pause,
  USDC's and USDT's ``pause()``, every transfer of it reverts, and the honest maker of the
  paused token was blamed, its order removed; a pause refuses the control too).
- When both move: each leg's ``transferFrom(maker, <the other maker>, amount)``, and a leg
  refused names the order of the maker it pays, who asked for a token that will not credit
  it (blame44: nobody was blamed, the pair barred, the order kept) — only if the token
  refuses to credit it ``CONTROL``'s nothing too (review45: a token that refuses a transfer
  for its sender's sake alone, a lock-up that lets it send only to itself, which the sender
  probe's second ask passes, had the honest maker it pays named, its order removed), and a
  transfer of nothing moves there at all, to ``FRESH`` or else to the payer (review48: a
  token refusing any, BNB's on Ethereum, named the receiver so).
- When both legs move and credit: each fee's ``transferFrom(<the other maker>,
  feeRecipient, fee)``, a refused one (judged as a refused receiver above) naming the order
  whose fee recipient it is (attack48: an order naming a recipient its fee's token will not
  credit failed every settlement, nobody blamed, the order kept).

Two to four calls per match (eleven at most), for at most ``MAX_PROBED`` matches of a
failure, and at most ``2 + 2 * MAX_HOLDERS`` per (token, maker) refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from eth_hash.auto import keccak

from sdex.chain import OrderState, Rpc
from sdex.errors import ContractRevert, RpcError
from sdex.matching.match import Match
from sdex.order import SignedOrder
from sdex.settlement.blame import account, contract_side

log = logging.getLogger("sdex.settlement")

TRANSFER_FROM = bytes.fromhex("23b872dd")
FRESH = "0x" + keccak(b"sdex.settlement.evidence.fresh").hex()[-40:]
"""The recipient of the probing ``transferFrom``: an address no token blocks (none holds its
key), so that only the sender can be refused."""
CONTROL = "0x" + keccak(b"sdex.settlement.refusal.control").hex()[-40:]
"""A second address nobody holds the key of: the sender of the control transfer (of
nothing), which no token refuses one by one; a pause refuses it as it does everyone."""
MAX_PROBED = 8
"""Matches of one failure whose legs' transfers are probed (two to eleven ``eth_call``s
each)."""
Account = tuple[str, str]
"""(maker, token), lower case."""
MAX_HOLDERS = 2
"""Other funded makers of a failure selling a refused maker's token whose transfer is tried
when the control's is refused (a token that refuses transfers of nothing)."""


def refusals(
    rpc: Rpc,
    exchange: str,
    matches: Sequence[Match],
    block: str,
    raw: dict[bytes, OrderState],
    doubtful: set[Account],
    signatures: dict[bytes, bool],
    stubbed: dict[tuple[bytes, bytes], bool],
) -> dict[tuple[bytes, bytes], bytes]:
    """For the matches nothing else explains (no contract side, or one whose stubbed run
    failed too; no signature invalid alone), both legs funded in ``raw`` (so that a refusal
    is not a shortfall): the order whose maker its token refuses while the other's moves
    and others' of that token move (``_refused``), unless its account is ``doubtful``. At
    most ``MAX_PROBED`` matches."""
    sellers: dict[str, list[SignedOrder]] = {}  # (token -> funded makers of it, one order each)
    for m in matches:
        for so in (m.resting, m.incoming):
            have = sellers.setdefault(so.order.maker_token.lower(), [])
            if _funded(raw.get(so.hash), 1) and all(h.order.maker != so.order.maker for h in have):
                have.append(so)
    others: dict[Account, bool] = {}  # (whether the token moves for others than the maker)

    def moves_for_others(so: SignedOrder) -> bool:
        got = account(so)
        if got not in others:
            holders = [h for h in sellers.get(got[1], ()) if h.order.maker != so.order.maker]
            others[got] = _others_send(rpc, exchange, got[1], holders[:MAX_HOLDERS], block)
        return others[got]

    refused: dict[tuple[bytes, bytes], bytes] = {}
    probed = 0
    for m in matches:
        key, sides = (m.resting.hash, m.incoming.hash), (m.resting, m.incoming)
        c = contract_side(m)
        if c is not None and stubbed.get(key) is not False:
            continue  # (the wallet may be what failed it, or nothing was run)
        if any(signatures.get(so.hash) is False for so in sides):
            continue  # (explained: a signature invalid alone)
        need = (m.left_filled, m.right_filled)
        if not all(_funded(raw.get(so.hash), n) for so, n in zip(sides, need, strict=True)):
            continue
        if probed >= MAX_PROBED:
            break
        probed += 1
        who = _refused(rpc, exchange, m, block, moves_for_others)
        if who is not None and account(sides[0 if who == key[0] else 1]) not in doubtful:
            refused[key] = who
    return refused


def _funded(st: OrderState | None, amount: int) -> bool:
    return st is not None and min(st.maker_balance, st.maker_allowance) >= max(1, amount)


def _refused(
    rpc: Rpc, exchange: str, m: Match, block: str, moves_for_others: Callable[[SignedOrder], bool]
) -> bytes | None:
    """The hash of the order of ``m`` whose maker its token refuses to move ``amount`` from
    (``transferFrom(maker, FRESH, amount)`` from the Exchange at ``block`` reverts, or
    answers false) while the other leg's token moves the other maker's, and that token
    moves for others (``moves_for_others``: not a pause, review45); when both move there,
    the order whose maker a leg refuses to credit (``transferFrom(maker, <the other
    maker>, amount)`` refused: that maker asked for a token that will not pay it; blame44:
    nobody was blamed, the pair barred, the order kept), if it refuses to credit that maker
    from another sender too (``CONTROL``'s nothing: not a refusal for its payer's sake, a
    lock-up; review45) while that nothing moves to ``FRESH`` or the payer (not a token
    refusing any transfer of nothing, review48). None when both or neither are refused, or
    a call was not answered."""
    legs = ((m.resting, m.left_filled), (m.incoming, m.right_filled))
    moves = [_sends(rpc, exchange, so.order.maker_token, so.order.maker, max(1, n), block)
             for so, n in legs]  # fmt: skip
    if moves in ([False, True], [True, False]):
        so = legs[moves.index(False)][0]
        return so.hash if moves_for_others(so) else None
    if moves != [True, True]:
        return None
    # (each leg pays the other maker, less that one's fee: the Exchange's first two transfers)
    pays = [(m.resting, m.left_filled - m.right_fee, m.incoming)]
    pays.append((m.incoming, m.right_filled - m.left_fee, m.resting))
    paid = tuple(
        _moves(
            rpc, exchange, so.order.maker_token, so.order.maker, max(1, n), block, to.order.maker
        )
        for so, n, to in pays
    )
    if paid == (True, True):
        return _fee_refused(rpc, exchange, m, block)
    if paid not in ((False, True), (True, False)):
        return None
    payer, _, paid_to = pays[paid.index(False)]
    token = payer.order.maker_token
    refused = _refuses_credit(rpc, exchange, token, paid_to.order.maker, block, payer.order.maker)
    return paid_to.hash if refused else None


def _refuses_credit(rpc: Rpc, exchange: str, token: str, to: str, block: str, payer: str) -> bool:
    """``token`` refuses to credit ``to`` for ``to``'s sake: it refuses ``CONTROL``'s
    nothing to ``to`` too (not a refusal for its payer's sake alone, a lock-up on it;
    review45), while a transfer of nothing moves at all, to ``FRESH`` or, a permissioned
    token's, to ``payer``, who holds it (some tokens refuse any, BNB's on Ethereum, whoever
    receives it; review48: the receiver was named by that)."""
    if _moves(rpc, exchange, token, CONTROL, 0, block, to) is not False:
        return False
    return any(_moves(rpc, exchange, token, CONTROL, 0, block, t) for t in (FRESH, payer))


def _fee_refused(rpc: Rpc, exchange: str, m: Match, block: str) -> bytes | None:
    """The hash of the order of ``m`` whose ``feeRecipient`` its fee's token refuses to
    credit (``transferFrom(<the other maker>, feeRecipient, fee)`` refused, and
    ``CONTROL``'s nothing to it too), in the Exchange's order of the fee transfers (the
    incoming order's fee first); None when neither is refused. attack48: an order naming a
    fee recipient its taker token will not credit (a blacklisted address of USDC's) failed
    every settlement with both maker legs moving, nobody was blamed, the pair was barred
    and the order stayed for the next honest counterparty."""
    fees = ((m.resting, m.right_fee, m.incoming), (m.incoming, m.left_fee, m.resting))
    for payer, fee, charged in fees:
        if fee <= 0:
            continue  # (the Exchange skips a zero transfer)
        token, to = payer.order.maker_token, charged.order.fee_recipient
        if _moves(rpc, exchange, token, payer.order.maker, fee, block, to) is False:
            refused = _refuses_credit(rpc, exchange, token, to, block, payer.order.maker)
            return charged.hash if refused else None
    return None


def _others_send(
    rpc: Rpc, exchange: str, token: str, holders: Sequence[SignedOrder], block: str
) -> bool:
    """Whether ``token`` moves for a sender that is not the refused maker at ``block``:
    nothing of ``CONTROL``'s, or one unit of one of ``holders``' (funded makers of it) —
    a per-account refusal (a blacklist) lets them, a pause (or a token that refuses the
    Exchange itself) does not. Not answered: no."""
    if _sends(rpc, exchange, token, CONTROL, 0, block):
        return True
    return any(_sends(rpc, exchange, token, h.order.maker, 1, block) for h in holders)


def _sends(rpc: Rpc, exchange: str, token: str, owner: str, amount: int, block: str) -> bool | None:
    """Whether ``token`` lets ``owner`` send ``amount``: it moves to ``FRESH``, or, refused
    there, to the owner itself (a permissioned token credits only the addresses it allows,
    and a fresh one is not: its sender is not the one refused; blame44)."""
    sends = _moves(rpc, exchange, token, owner, amount, block)
    if sends is False:
        return _moves(rpc, exchange, token, owner, amount, block, owner)
    return sends


def _moves(
    rpc: Rpc, exchange: str, token: str, owner: str, amount: int, block: str, to: str = FRESH
) -> bool | None:
    """Whether ``token`` moves ``amount`` (a maker's: at least 1) of ``owner``'s to ``to``
    when the Exchange asks (SafeERC20's rules: a revert or a false answer is a refusal);
    None: the chain did not answer. No gas bound: the node's own, the call's cost is not
    the question."""
    data = TRANSFER_FROM + bytes(12) + bytes.fromhex(owner[2:])
    data += bytes(12) + bytes.fromhex(to[2:]) + amount.to_bytes(32, "big")
    call = {"from": exchange, "to": token, "data": "0x" + data.hex()}
    try:
        raw = rpc.call("eth_call", call, block)
    except ContractRevert:
        return False
    except (RpcError, OSError) as e:
        log.warning("a maker's transfer was not probed (%s): no evidence", e)
        return None
    try:  # (no answer data: a token that returns nothing, success)
        word = int(raw[2:66] or "1", 16) if isinstance(raw, str) else None
    except ValueError:
        return None
    return None if word is None else word != 0
