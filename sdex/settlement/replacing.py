"""The nonce lane's settlements pooled and not mined (``sdex.settlement.lane`` builds on it):
one the chain keeps in its pool signed again at higher fees (``sdex.settlement.replace``),
one signed for a chain replaced since displaced there (``sdex.settlement.stale``), and a
chain that mines on the send made to mine its pool by a transfer of nothing (``_nudge``).
Split from ``sdex.settlement.lane`` (adopt79: the lane over 500 lines)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sdex.chain import SignedTx
from sdex.chain.asend import ChainView, holds_view, not_served
from sdex.chain.tx import already_known, nonce_refusal
from sdex.errors import ContractRevert, RpcError, RpcTimeout
from sdex.mirror import Mirror
from sdex.settlement.gas import GAP_FILL_GAS
from sdex.settlement.receipts import in_pool, quantity
from sdex.settlement.replace import STUCK_IDLE, Pooled, bumped
from sdex.settlement.rowcall import SETTLES_NONE, call_of, settled
from sdex.settlement.signing import NOT_ITS_CHAIN, SigningLane, Unsendable
from sdex.settlement.stale import displace
from sdex.store import Store

log = logging.getLogger("sdex.settlement")
TRANSFER_TRIES = 5
"""Sends of a stuck settlement's transfer instead at most (``_transfer_instead``), one a check
that finds it stuck (``LOST_CHECK``, 1 s, apart): past them its wait's bound cancels it
(``RECEIPT_TIMEOUT``)."""


class ReplacingLane(SigningLane):
    """The replacements, displacements and pool nudges of ``NonceLane``, after the signing
    and broadcasts of ``sdex.settlement.signing``."""

    mirror: Mirror | None
    given_up: set[str]
    store: Store
    in_flight: set[str]
    superseded: set[str]
    """Settlements in flight the lane signed or adopted a later one over at their nonce:
    their waits send nothing more (``NonceLane._keep_alive``); their replacements at higher
    fees (``_replace``, still sent when stuck) are too (review100d: one not marked held the
    nonce for ``_released`` and hid the earlier pooled from ``_earlier_pooled``)."""
    cancels: dict[str, SignedTx]
    rejudged: frozenset[str]
    withheld: dict[str, str]
    unsendables: dict[str, Unsendable]
    replaced = 0
    """Settlements signed again at higher fees, pooled and not mined (``replace``)."""
    _replacing: asyncio.Lock | None = None
    """Held while a replacement is signed, recorded and sent (``_replace``)."""
    automine_unserved = False
    """The chain said it does not serve ``hardhat_getAutomine`` (a live chain)."""
    replace_refused = 0
    """Replacements the chain refused (Hardhat while it automines: "Nonce too low")."""
    _transfer_tries: dict[str, int] | None = None
    """Of pooled settlements awaited, the sends of their transfers instead so far
    (``_transfer_instead``)."""
    _transfer_unsent: dict[str, SignedTx] | None = None
    """Of them, the transfer whose send failed, not refused (sent again as it is)."""
    pool_nudges = 0
    """Transfers of nothing sent to make a chain that mines on the send mine its pool
    (``_nudge``)."""

    async def _fill_gap(self, stuck: SignedTx, view: ChainView | None) -> bool:
        """(``NonceLane``'s) The nonces below ``stuck`` the chain holds nothing of filled."""
        raise NotImplementedError

    async def _automines(self) -> bool:
        """Whether the chain mines on the send (``hardhat_getAutomine``: anvil and Hardhat
        serve it); a chain that says it does not serve it is not asked again."""
        if self.automine_unserved:
            return False
        try:
            return await self.receipts.call("hardhat_getAutomine") is True
        except Exception as e:
            self.automine_unserved = not_served(e)
            raise

    async def _replace_if_stuck(self, pooled: Pooled) -> None:
        """(``poll_receipt``'s hook: ``pooled``'s latest transaction is pooled, its nonce not
        used) If the chain is not mining it (``sdex.settlement.replace``), sign it again at
        higher fees, record it beside the first (a restart sends both: one lands), send it.
        One at a time, each asked again first whether still pooled: on anvil one
        replacement's block may take the others too. Errors are logged: it waits as before.
        None while the chain's identity is in doubt (``AsyncSends.doubted``; kept77: the lane
        kept paying higher fees, and filling gaps, on a chain that may be gone)."""
        if pooled.done or pooled.latest.body is None:
            return
        try:
            head = quantity(await self.receipts.call("eth_blockNumber"))
            why = pooled.seen(head, asyncio.get_running_loop().time())
            if why is None or (why == "idle" and not await self._automines()):
                return
            if self._replacing is None:
                self._replacing = asyncio.Lock()
            async with self._replacing:
                if self.async_sends.doubted():  # (kept77: asked again at the next check)
                    return
                if await self._replace(pooled, why) and why == "idle":
                    await self._head_past(head)
        except Exception as e:  # (no answer: asked again at the next check)
            log.debug("settlement %s pooled, not replaced: %s", pooled.latest.tx_hash, e)

    async def _head_past(self, head: int) -> None:
        """Until the chain's head is past ``head`` (``STUCK_IDLE`` at most): a chain that
        mines on the send mines the replacement's block, which may take the other pooled
        settlements too, before the next is asked whether it is still pooled (anvil tells
        it pooled a moment after: its replacement was refused, "nonce too low")."""
        loop = asyncio.get_running_loop()
        until = loop.time() + STUCK_IDLE
        while loop.time() < until:
            if quantity(await self.receipts.call("eth_blockNumber")) > head:
                return
            await asyncio.sleep(0.01)

    async def _replace(self, pooled: Pooled, why: str) -> bool:
        """(``_replacing`` held) ``pooled``'s latest, still pooled, replaced at higher fees:
        whether one was sent. Not if the watcher saw the chain replaced since it was signed
        (settle74: one sent to the new chain before the watcher saw it, which queues a nonce
        ahead of its count, anvil or geth, was found pooled there and signed again for it up
        to ``MAX_REPLACEMENTS`` times, compared with the view of now), nor since it was found
        pooled (resend68: the old chain's match sent at higher fees to the new chain, mined
        there at the nonce it has free): the replacement's row dropped. Nor if the chain
        behind the URL does not hold the view's block, asked in the same batch as whether it
        is pooled and the latest block's fees (settle69: the watcher had not seen it yet, the
        old one's bytes sent there by another), and asked again once the replacement is
        recorded, right before its send (hold70: replaced between that batch and the send,
        the replacement went to the new chain, mined there). Three round trips, as before
        (the fees were a request of their own)."""
        rpc, last = self.receipts, pooled.latest
        now = self.async_sends.viewed()
        view = self.signed_views.get(pooled.txs[0].tx_hash, (now,))[0] or now  # (adopted)
        if view != now:  # settle74: signed for a chain the watcher saw replaced since
            log.warning("settlement %s pooled, not replaced: %s", last.tx_hash, NOT_ITS_CHAIN)
            return await self._displace(pooled, now)
        asks: list[tuple[str, list[Any]]] = [
            ("eth_getTransactionByHash", [last.tx_hash]),
            ("eth_getTransactionCount", [self.sender.address, "latest"]),
            ("eth_getBlockByNumber", ["latest", False]),
        ]
        if view is not None:
            asks.append(("eth_getBlockByNumber", [hex(view[0]), False]))
        known, count, latest, *at = await rpc.batch(asks)
        if view is not None and not holds_view(view, at[0]):
            log.warning("settlement %s pooled, not replaced: %s", last.tx_hash, NOT_ITS_CHAIN)
            return False
        # (anvil tells a transaction pooled a moment after its block counts its nonce)
        if not in_pool(known) or quantity(count) > last.nonce or not last.body:
            return False  # (mined meanwhile, or gone: the receipt's wait tells)
        if quantity(count) < last.nonce and await self._fill_gap(last, view):
            return True  # (pooled behind a gap: fees cannot help; gap76)
        # the fees of the latest block, read now (those the lane signs with may be a second
        # old: a base fee that outran the fee cap is why a live chain leaves one pooled)
        fees = bumped(last.fees, self.fees.of(latest))  # (its fee bounded: fee87)
        if gone := self._gone(pooled):  # (settle96: re-priced, the chain filled it all the same)
            start, why = gone
            self.withheld.setdefault(start, f"not sent again ({why})")
            return await self._transfer_instead(pooled, fees, why)
        if not self.rejudged.isdisjoint(pooled.hashes):  # (judged at the fees it would go at:
            if (settles := await self._settles_now(last, fees)) is None:  # settle86)
                return False  # (not judged: not replaced this time, review86b)
            start = next(h for h in pooled.hashes if h in self.rejudged)
            if not settles:
                # (a start's replaced row: never its bytes at higher fees)
                self.withheld.setdefault(start, f"not sent again ({SETTLES_NONE})")
                return await self._transfer_instead(pooled, fees, SETTLES_NONE)
            self.withheld.pop(start, None)  # (sent: its bound's cancel no start's; settle86)
        to, data, gas, value = last.body
        again = self.sender.sign_at(last.nonce, to, data, gas, value, fees=fees)
        first = pooled.txs[0].tx_hash
        await asyncio.wrap_future(
            self.store.add_replacement(first, again.tx_hash, again.nonce, again.raw)
        )
        try:  # (the watcher's view, then the chain behind the URL: the last ask before it)
            same = self.async_sends.viewed() == view and await self.async_sends.on_chain(view)
        except BaseException:  # (unknown: not sent; its row would send it at a restart)
            self.store.set_settlement_status(again.tx_hash, "dropped")
            raise
        if not same:  # (a reset the watcher saw: its re-judging has the orders)
            self.store.set_settlement_status(again.tx_hash, "dropped")
            log.warning("settlement %s pooled, not replaced: %s", last.tx_hash, NOT_ITS_CHAIN)
            return False
        self.in_flight.add(again.tx_hash)
        self.ours.add(again.tx_hash)
        if last.tx_hash.lower() in self.given_up:  # (review68: its fills counted as its own)
            self.given_up.add(again.tx_hash.lower())
        if self.mirror is not None:
            self.mirror.expect(again.tx_hash)
        self.signed_views[again.tx_hash] = (view, again)
        if not self.superseded.isdisjoint(pooled.hashes):  # (released with it: review100d)
            self.superseded.add(again.tx_hash)
        try:
            await self.async_sends.rpc.call("eth_sendRawTransaction", again.raw)
        except RpcError as e:
            if refused(e):  # the chain's answer: it cannot land
                self.in_flight.discard(again.tx_hash)
                self.ours.discard(again.tx_hash)
                if self.mirror is not None:
                    self.mirror.unexpect(again.tx_hash)
                self.store.set_settlement_status(again.tx_hash, "dropped")
                self.replace_refused += 1
                pooled.done = True  # (Hardhat refuses any: the lane's next send mines its pool)
                log.warning("settlement %s pooled, its replacement refused: %s", last.tx_hash, e)
                return why == "idle" and await self._nudge()
            log.warning("replacement %s of %s: %s", again.tx_hash, last.tx_hash, e)
        except Exception as e:  # (fate unknown: it may land, so it is waited for too)
            log.warning("replacement %s of %s: %s", again.tx_hash, last.tx_hash, e)
        pooled.replaced_by(again)
        self.replaced += 1
        log.warning(
            "settlement %s pooled (%s), not mined: sent again as %s at fees %s",
            last.tx_hash, why, again.tx_hash, fees,
        )  # fmt: skip
        return True

    def _gone(self, pooled: Pooled) -> tuple[str, str] | None:
        """(``_replace``'s) The settlement of ``pooled`` and why its bytes must not go at
        higher fees: an order of its matches soft-cancelled (its cancel acknowledged), cancelled
        or filled on chain, or expiring since (``unsendables``, as before its first send and
        any send of its bytes again: ``NonceLane._keep_alive``, doubt80); None: they may.
        settle96 (fix93): a pooled one was re-priced unjudged, and the chain filled an order
        whose soft cancel the node had acknowledged, the node's own doing."""
        for h in pooled.hashes:
            if (check := self.unsendables.get(h)) is not None and (why := check(0.0)):
                return h, why
        return None

    async def _settles_now(
        self, signed: SignedTx, fees: tuple[int, int] | None = None
    ) -> bool | None:
        """Whether ``signed``'s own call at the chain's latest block settles any of its
        matches (``sdex.settlement.rowcall``): neither reverts nor, a batch, settles none.
        None: unknown, the call not answered (an RPC error, no revert): the caller sends
        nothing this time and asks again at its next check. review86b: taken as "settles
        nothing", one flapping answer sent a sound row's transfer, its matches failed.
        Called at ``fees`` (a replacement's), else at its own raised to the lane's of now
        (``judged_at``). settle86: at its own, a row stuck under a risen base fee was never
        judged on geth (which refuses such a call), so never replaced, for good."""
        try:
            if fees is None:
                fees = judged_at(signed.fees, await self.fees.current(self.receipts))
            call = call_of(self.sender.address, signed, fees)
            answer = await self.receipts.call("eth_call", call, "latest")
        except ContractRevert:
            answer = None
        except Exception as e:
            log.warning("settlement %s not judged again: %s", signed.tx_hash, e)
            return None
        ok = answer is not None and settled(answer) != 0
        if not ok:
            log.warning("settlement %s would settle nothing now: its transfer instead",
                        signed.tx_hash)  # fmt: skip
        return ok

    async def _transfer_instead(self, pooled: Pooled, fees: tuple[int, int], why: str) -> bool:
        """(``_replace``'s: ``pooled``'s latest pooled, stuck, a start's replaced row that
        would settle nothing now, or one ``_gone`` finds must not go again: ``why``) A
        transfer of nothing at its nonce at ``fees`` (over the one sent before, ``cancels``:
        the pool's bump rule) sent in its place, its cancel from here on; no replacement of
        it after (``done``). A send that fails (not "already known", its nonce not told
        taken) leaves it not ``done``: sent again at the next check that finds it stuck,
        the same bytes (signed again over them if the chain refused them), ``TRANSFER_TRIES``
        sends at most. restart97: nothing sent again till ``RECEIPT_TIMEOUT`` (120 s), its
        orders held."""
        last, flying = pooled.latest, self.in_flight  # (those of settlements awaited kept)
        tries_of = {h: n for h, n in (self._transfer_tries or {}).items() if h in flying}
        unsent = {h: t for h, t in (self._transfer_unsent or {}).items() if h in flying}
        self._transfer_tries, self._transfer_unsent = tries_of, unsent
        before = self.cancels.get(last.tx_hash)
        if before is not None and unsent.get(last.tx_hash) is before:
            got = before  # (its send failed, not refused: the same bytes again)
        else:
            fees = fees if before is None else bumped(before.fees, fees)
            got = self.sender.sign_at(last.nonce, self.sender.address, b"", GAP_FILL_GAS, fees=fees)
        self.cancels[last.tx_hash] = got
        unsent.pop(last.tx_hash, None)
        tries = tries_of[last.tx_hash] = tries_of.get(last.tx_hash, 0) + 1
        pooled.done = True
        try:
            await self.async_sends.rpc.call("eth_sendRawTransaction", got.raw)
        except Exception as e:
            if not isinstance(e, RpcError) or not already_known(e):
                again = tries < TRANSFER_TRIES and nonce_refusal(e) != "low"
                pooled.done = not again  # (its nonce taken, or tried enough: the wait tells)
                if not isinstance(e, RpcError) or not refused(e):
                    unsent[last.tx_hash] = got
                log.warning("settlement %s pooled, not sent again (%s): its transfer %s not "
                            "sent (%s)%s", last.tx_hash, why, got.tx_hash, e,
                            ": sent again at the next check" if again else "")  # fmt: skip
                return False
        log.warning("settlement %s pooled, not sent again (%s): %s sent at its nonce instead",
                    last.tx_hash, why, got.tx_hash)  # fmt: skip
        return True

    async def _displace(self, pooled: Pooled, view: ChainView | None) -> bool:
        """(``_replace``'s) ``pooled``'s latest, signed for a chain the watcher saw replaced
        since, displaced on the chain behind the URL if pooled there
        (``sdex.settlement.stale``; once, unless the nonce read after the reset did)."""
        pooled.done = True
        last = pooled.latest
        if view is None or last.tx_hash in self.displaced:
            return False
        sends, fees = self.async_sends.rpc, self.fees.of
        done = await displace(self.receipts, sends, self.sender, [last], view, fees)
        self.displaced.update(done)
        return bool(done)

    async def _nudge(self) -> bool:
        """(A replacement refused on a chain that mines on the send: Hardhat, its automine
        resumed over a pool, mines nothing of it until it is sent a transaction) A transfer
        of nothing to ourselves at the lane's next nonce, after every pooled one: Hardhat
        mines it with the pool. Before (reorg63), a node with nothing more to send left its
        settlements pooled until ``RECEIPT_TIMEOUT``, then counted them lost and matched
        their orders again, the new settlement reverting once it mined the pool. Whether it
        was sent (its nonce read again if its fate is unknown)."""
        async with self._send_lock:
            try:
                nudge = await self._sign_next(self.sender.address, b"", GAP_FILL_GAS)
                await self.broadcast_after(None, nudge, None)
            except Exception as e:  # (an unknown nonce state: read again for the next one)
                log.warning("a transfer of nothing to mine the pool failed: %s", e)
                self.sender.forget_nonce()
                return False
        self.pool_nudges += 1
        log.warning("pool not mined: transfer of nothing %s sent to mine it", nudge.tx_hash)
        return True


def judged_at(own: tuple[int, int], now: tuple[int, int]) -> tuple[int, int]:
    """The fees a row signed with ``own`` is judged at (``_settles_now``), the lane signing
    with ``now``: its own, each raised to ``now``'s (a fee cap over the chain's base fee)."""
    return max(own[0], now[0]), max(own[1], now[1])


def refused(e: RpcError) -> bool:
    """Whether a send's error is the chain's refusal (an answer that is no "already known"):
    not a timeout nor this client's own error (code 0), after which it may have landed."""
    return not isinstance(e, RpcTimeout) and e.code != 0 and not already_known(e)
