"""The node's start, before it reads a stored order: the chain checked to be the one its
store is bound to (the deployment block's hash, read again where an answer differs), the
chain's clock from its pending block, and the operator's nonce floor for soft cancels.
``sdex.node.core`` runs these in ``prepare`` and ``load``."""

from __future__ import annotations

import logging
import time
from typing import Any

from sdex.chain.asend import not_served
from sdex.errors import ChainError, RpcError
from sdex.mirror import Header
from sdex.node.peering import NodePeering
from sdex.node.records import MAX_PENDING_LEAD
from sdex.store import bound_deploy_hash

log = logging.getLogger("sdex.node")


class NodeStartChain(NodePeering):
    """The chain read at a start: what ``prepare`` binds the store to, and what ``load``
    reads before it signs anything."""

    async def _deploy_hash(self, block: dict[str, Any]) -> str:
        """The deployment block's hash the node binds its store to: ``block``'s, unless the
        database is bound to another that the chain still holds at that height (the answer
        was wrong, not the chain replaced: kept). review73: one answer of another hash from
        an endpoint that flapped made ``Store._bind`` reset the store, its pending settlements
        (pooled, or mined before a kill) given up and their matches signed again, a paid
        revert, its fills dropped and read again. A chain truly replaced does not hold it:
        the reset stands (and one the chain's word kept wrongly, the watcher's first poll
        finds: ``Watcher._deployed_here``). An endpoint that does not serve
        ``eth_getBlockByHash`` (``not_served``: a method allowlist's; no other read needs it)
        is asked for the block by its number again (review74a: the start failed at every try)."""
        got = str(block["hash"])
        bound = bound_deploy_hash(self.config.db)
        if bound is None or bound == got.lower():
            return got
        number = hex(self.config.deploy_block)
        try:
            try:
                held = await self.rpc.call("eth_getBlockByHash", bound, False)
            except RpcError as e:
                if not not_served(e):
                    raise
                held = await self.rpc.call("eth_getBlockByNumber", number, False)
            kept = Header.from_rpc(held) if isinstance(held, dict) else None
        except (ChainError, ValueError) as e:
            raise ChainError(f"the chain's deployment block not read again: {e}") from None
        if kept is None or kept.hash.lower() != bound or kept.number != self.config.deploy_block:
            return got  # (replaced: ``Store._bind``'s reset)
        if not await self._canonical(kept):  # (held by hash, yet not the chain's: replaced)
            return got
        log.warning(
            "the chain answered %s for the deployment block %d, yet holds the database's %s "
            "there: not a replaced chain, kept", got, kept.number, bound,
        )  # fmt: skip
        return bound

    async def _canonical(self, block: Header) -> bool:
        """Whether the chain's block above ``block`` by number names it as its parent: held
        by hash is no proof that it is the chain's (geth serves a replaced branch's blocks by
        hash; a backend of the endpoint still on the old chain answers it), a second answer
        by number is (reset74: the database's deployment block found by hash alone was kept,
        no reset at the start, the first poll's finding it). No block above it yet (a chain
        whose head it is) proves nothing: kept, as the chain's answer by hash says."""
        try:
            raw = await self.rpc.call("eth_getBlockByNumber", hex(block.number + 1), False)
            child = Header.from_rpc(raw) if isinstance(raw, dict) else None
        except (ChainError, ValueError) as e:
            raise ChainError(f"the chain's deployment block not read again: {e}") from None
        return child is None or child.parent == block.hash

    async def _pending_clock(self) -> None:
        """The chain's clock from its pending block's stamp: an idle chain whose clock runs
        ahead (Hardhat after a burst of blocks) shows it no other way until it mines. A
        pending block is a guess, nothing mined: its lead counts at most ``MAX_PENDING_LEAD``
        and only until a newer block shows the chain's clock (``pending_lead``: an endpoint
        stamping it hours ahead had every order expiring before then refused and closed,
        review46). An endpoint without one, or a stamp before the latest block's, leaves the
        lead as the latest block showed it."""
        try:
            pending = await self.rpc.call("eth_getBlockByNumber", "pending", False)
            stamp = int(pending["timestamp"], 16)
        except (ChainError, OSError, TypeError, KeyError, ValueError):
            return
        if not 0 <= stamp < 1 << 63:  # (review83: past a float, the start's OverflowError)
            return
        if stamp >= self.latest_timestamp:
            self.pending_lead = min(max(0.0, stamp - time.time()), MAX_PENDING_LEAD)
            self.pending_before = self.latest_timestamp

    async def _nonce_floor(self) -> None:
        """The operator's transaction count (its pending block's) read at a start, for the
        nonce a soft cancel names before this run signs anything (``cancel_position``:
        ``Sender.signed_past``, one past every nonce an earlier run signed; reconcile's rows
        count too). chaos66: it named none, and a reset (a reorg took the saved head, the
        chain read anew) stood the watcher at block 0, so the audit took the count at block 0
        and held the node's settlement of an earlier run, 14 s before the cancel, against
        it (``node_settled_after_cancel``). Unread (the chain unreachable, or two reads past
        what the rows say signed that differ: ``_operator_count``): none, as before."""
        count = await self._operator_count("at start", self.sender.signed_past)
        if count:
            self.sender.signed(count - 1)
