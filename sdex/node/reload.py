"""The reload of the stored open orders at a start (``_reload_orders``): each put back in the
book as the saved mirror has it, or as the chain's word has it where the mirror cannot judge
it (at "latest"; in a chain doubt at the mirror's head named by its hash, ``_stored_states``).
``sdex.node.core``'s ``load`` runs it; ``sdex.node.settle`` builds on it."""

from __future__ import annotations

import asyncio
import itertools
import logging

import aiohttp

from sdex.book import RemovalReason
from sdex.chain import OrderState
from sdex.errors import ChainError
from sdex.ingest import judge, removal_of
from sdex.ingest.verdicts import taker_never_trades
from sdex.ingest.verify import ecdsa_ok
from sdex.matching.match import TimeInForce
from sdex.model import OPEN_STATUSES, OrderStatus, closed_status
from sdex.node.adoption import NodeAdoption
from sdex.node.chainstate import yielding
from sdex.node.held import hash_of
from sdex.node.registry import Record
from sdex.node.rejudge import restart_reason
from sdex.node.verdicts import _message
from sdex.order import SignedOrder
from sdex.watch.blocks import ZERO_HASH

log = logging.getLogger("sdex.node")


class NodeReload(NodeAdoption):
    """A start's reload of the stored open orders (``_reload_orders``)."""

    async def _reload_orders(self) -> None:
        """Put the stored open orders back in the book, as the saved mirror has them (the
        chain, for makers whose funds it does not hold); ``load`` then has the watcher catch
        up. The closed ones stay on disk: only their hashes pass, into the registry's filter."""
        self._seq = max(self._seq, self.store.last_seq())
        await self._undone.attach(self.store)  # (fills a reorg undid before a restart)
        await self.load_orphans()  # (peers' cancels of orders not held yet: cancel63)
        # (the port is open meanwhile, answering 503 "starting": each step below hands the
        # loop back every SLICE seconds, so that /health answers at once)
        unparseable: list[str] = []
        rows = [s async for s in yielding(self.store.orders(OPEN_STATUSES, skipped=unparseable))]
        # an open row that cannot be parsed is closed: known as stored (the filter below),
        # so that a peer's gossip of it is not accepted again over the row
        self.store.close_unparseable([h for h in unparseable if hash_of(h) is not None])
        closed = self.store.count_except(OPEN_STATUSES)
        self.registry.forget_stored(closed, ())
        hashes = self.store.hashes_except(OPEN_STATUSES)
        while chunk := list(itertools.islice(hashes, 2000)):  # (a hash costs ~10 us)
            self.registry.forget(chunk)
            await asyncio.sleep(0)
        async for s in yielding(rows):
            self.registry.hold(Record.of_stored(s), OrderStatus(s.status))
        stored = list(self.registry.open_records())
        if not stored:
            return
        read_at = self.mirror.head.number if self.mirror.head is not None else -1
        # orders not signed by ECDSA are read through the EIP-1271 batcher: it caches their
        # verdicts and tracks their makers, so later blocks judge them by the cache
        ecdsa = {r.signed.hash async for r in yielding(stored) if ecdsa_ok(r.signed) is True}
        plain = [r.signed for r in stored if r.signed.hash in ecdsa]
        contract = [r.signed for r in stored if r.signed.hash not in ecdsa]
        # From the saved mirror, at its head (on the chain: ``check_head``), where it holds
        # the maker's funds: no chain read. ``load`` then has the watcher apply the blocks
        # since (``Watcher.catch_up``) before the node is ready. Else, the chain's word now.
        by_hash: dict[bytes, OrderState] = {}
        if self.watcher.resumed:
            async for so in yielding(plain):
                if (st := self.mirror.state(so)) is not None:
                    by_hash[so.hash] = st
        unread = [so for so in plain if so.hash not in by_hash]
        self.reloaded_from_chain = len(unread)
        read = zip(unread + contract, await self._stored_states(unread, contract), strict=True)
        by_hash.update((so.hash, st) for so, st in read)
        states = [by_hash[r.signed.hash] for r in stored]
        now = self.chain_time()  # (expired by the chain's clock: landing49)
        close = self.registry.close
        async for rec, state in yielding(zip(stored, states, strict=True)):
            self.mirror.learn(rec.signed, state, read_at)
            verdict = judge(rec.signed, state)
            removal = removal_of(verdict)
            o = rec.signed.order
            if removal is not None:
                close(rec, closed_status(removal, False), _message(verdict), state.filled)
            elif now >= o.expiry:
                close(rec, OrderStatus.EXPIRED, "expired", state.filled)
            elif why := taker_never_trades(o, self.domain.verifying_contract):
                close(rec, OrderStatus.REMOVED, why, state.filled)  # (an older version took it)
            elif rec.tif is not TimeInForce.GTC:  # its match was settled or not: it never rests
                why = restart_reason(rec.tif, state.filled)
                close(rec, OrderStatus.REMOVED, why, state.filled)
            else:  # the book has its filled amount now; sync stores it if it moved
                funds = min(state.maker_balance, state.maker_allowance)
                self.registry.set_funds(o.maker, o.maker_token, funds)
                if self.registry.rests(rec.signed, state.filled):
                    self._announce_if_resting(rec)  # (gossip starts later: marks it only)
                else:  # what the chain leaves is dust: nothing it can trade
                    self.registry.book_closed(rec.signed.hash, RemovalReason.DUST, state.filled)
        self._persist_open()

    async def _stored_states(
        self, plain: list[SignedOrder], contract: list[SignedOrder]
    ) -> list[OrderState]:
        """(``_reload_orders``) The chain's word on the stored orders the saved mirror cannot
        judge: at "latest"; while the chain's identity is in doubt, at the mirror's head named
        by its hash (EIP-1898), which another chain does not hold and cannot answer for.
        doubt82: read at "latest" in a doubt, another chain's "filled" or "cancelled"
        closed an acknowledged order for good, and ``Mirror.learn`` kept that chain's funds.
        An error (another chain's backend, a balancer's turn) is asked again, ``DOUBT_READS``
        times at most, the pause doubled from ``DOUBT_READ_STEP``; then the start fails (its
        orders kept as stored: the next start reads them again)."""
        head = self.mirror.head
        if not (why := self.mirror.doubt.held) or head is None or head.hash == ZERO_HASH:
            return await self.batcher.get_many(plain) + await self.contract_sigs.get_many(contract)
        pause = DOUBT_READ_STEP
        for _ in range(DOUBT_READS - 1):
            try:
                return await self._states_in(plain, contract, head.number, head.hash)
            except (aiohttp.ClientError, OSError, TimeoutError, ChainError, ValueError) as e:
                log.warning("stored orders not read at block %d in doubt (%s): %s; again",
                            head.number, why, e)  # fmt: skip
            await asyncio.sleep(pause)
            pause *= 2
        return await self._states_in(plain, contract, head.number, head.hash)

    async def _states_in(
        self, plain: list[SignedOrder], contract: list[SignedOrder], block: int, block_hash: str
    ) -> list[OrderState]:
        """``plain``'s and ``contract``'s states at the block of hash ``block_hash``."""
        states = await self.batcher.get_many_in(plain, block, block_hash)
        return states + await self.contract_sigs.get_many_in(contract, block, block_hash)


DOUBT_READS = 5
"""Reads a start in a chain doubt makes at most of the stored orders the saved mirror cannot
judge, at the mirror's head by its hash (``_stored_states``): an endpoint that flaps between
two chains answers ours at one of them, maybe."""
DOUBT_READ_STEP = 0.5
"""Seconds before the second such read (doubled before each next: 7.5 s in all)."""
