"""A settlement's own call at the chain's latest block: what its bytes would do if sent now
(``sdex.settlement.unsettled`` judges a restart's rows so; ``NonceLane`` judges again an
adopted row a start replaced by a transfer of nothing before any send of its bytes, settle84).
"""

from __future__ import annotations

from typing import Any

from sdex.chain.tx import SignedTx

REVERTS = "its call reverts at the chain's latest block"
SETTLES_NONE = "its call settles none of its matches at the chain's latest block"


def call_of(sender: str, tx: SignedTx, fees: tuple[int, int] | None = None) -> dict[str, Any]:
    """``tx``'s call as it was signed (``sender``, gas, fees and calldata), or at ``fees``
    (base fee, tip: those it would be sent again with); ``ValueError`` for one without a body
    (``sdex.settlement.adopt.pooled_tx`` sets it). Never without fee fields: a call without
    them runs at a gas price of 0, where a contract wallet may answer otherwise than mined
    (``ERC1271CallOnlyWallet``, review32); and geth refuses a call whose fee cap is under the
    block's base fee ("max fee per gas less than block base fee"; Hardhat and anvil run it):
    a row stuck under a risen base fee is judged at the fees it would go with."""
    if tx.body is None:
        raise ValueError(f"{tx.tx_hash}: no body to call")
    to, data, gas, value = tx.body
    base_fee, tip = tx.fees if fees is None else fees
    return {
        "from": sender,
        "to": to,
        "data": "0x" + data.hex(),
        "gas": hex(gas),
        "value": hex(value),
        "maxFeePerGas": hex(2 * base_fee + tip),
        "maxPriorityFeePerGas": hex(tip),
    }


def settled(answer: object) -> int | None:
    """``batchMatchOrders``' return (how many matches it settled); None if it is none (a lone
    match's is two words, its fills)."""
    if not isinstance(answer, str) or not answer.startswith("0x") or len(answer) != 66:
        return None
    try:
        return int(answer, 16)
    except ValueError:
        return None
