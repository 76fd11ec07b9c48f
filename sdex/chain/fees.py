"""The fees a transaction is signed with (base fee, tip: the fee cap twice the base fee plus
the tip), from a block's ``baseFeePerGas``, at most a ceiling.

Two ways to them. The node's lane: ``sdex.settlement.gas.Fees``, each read bounded by the
mirror's own reads (``sdex.chain.headsignal``: EIP-1559's bounds of the last fee read, the
head the node knows) and the ceiling, never an answer's word alone (bounds84, fee86-fee88).
Off the node: ``latest_fees``, the latest block's as the endpoint answers, bounded by the
ceiling alone: ``sdex devnet``'s deployment (its own chain), an on-chain cancel from a user's
own key (``sdex.walletcancel``, the user's endpoint), tests. No node path reads it: the
node's ``Sender`` is built with ``reads_fees=False`` and refuses a signature without fees
given (settle89: ``Sender.sign`` read the latest block itself when none were given)."""

from __future__ import annotations

from sdex.chain.rpc import Rpc
from sdex.errors import ChainError

MAX_BASE_FEE = 100_000 * 10**9
"""The highest base fee (wei a gas: 100,000 gwei) a transaction is signed with: above it
the block is not believed, nothing is signed (the settlement waits and reads again).
bounds84: any 256-bit fee an endpoint answered was signed with, its fee cap twice it: a
lie made every settlement refused (its cap past the operator's funds) for as long as it
lied, or had the operator agree to pay up to that. Mainnet's highest was under 2,000 gwei;
a chain of higher fees: ``sdex node --max-base-fee`` (fee86; ``fees_of``'s ``ceiling``)."""


def fees_of(block: object, ceiling: int = MAX_BASE_FEE) -> tuple[int, int]:
    """(base fee, tip) to sign with, from a block as ``eth_getBlockByNumber`` gives it, its
    base fee at most ``ceiling``; the fee cap signed is twice it plus the tip (``sign``)."""
    raw = block.get("baseFeePerGas", "0x0") if isinstance(block, dict) else None
    if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) > 66:
        raise ChainError(f"a block without a readable baseFeePerGas: {raw!r}")
    if (base_fee := int(raw, 16)) > ceiling:  # (bounds84: the operator's fee cap followed it)
        raise ChainError(f"the chain's baseFeePerGas {base_fee} is above {ceiling} wei")
    return fees_for(base_fee)


def fees_for(base_fee: int) -> tuple[int, int]:
    """(base fee, tip) to sign with on a chain whose latest block has ``base_fee``."""
    return base_fee, 1_000_000_000 if base_fee else 0


def latest_fees(rpc: Rpc, ceiling: int = MAX_BASE_FEE) -> tuple[int, int]:
    """(Off the node only: see above) The fees of the latest block ``rpc`` answers, its base
    fee at most ``ceiling``, not bounded by any read before."""
    return fees_of(rpc.call("eth_getBlockByNumber", "latest", False), ceiling)
