"""Peers' orders in: through the same intake as a wallet's (no fee check), booked without
matching, a rejection that holds for good kept (``sdex.node.refused``). Gossip's checks call
``submit_each_from_peer``: each verdict as it is known, and a signal once the orders left
wait only on chain reads (``sdex.gossip.checks``: the next group starts then, checks75)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable

from sdex.errors import OrderParseError
from sdex.gossip.checks import PartialVerdicts
from sdex.ingest import IntakeResult, Known, Rejection
from sdex.matching.match import TimeInForce
from sdex.node.forwarding import CallClock
from sdex.node.intake import NodeIntake
from sdex.node.readbudget import STRANGERS, peer_sender
from sdex.node.refused import KEPT
from sdex.order import Order


class NodePeerIntake(NodeIntake):
    """A peer's orders through the intake, judged and booked."""

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        """A peer's order, through the same intake as a wallet's (no fee check: the peer's
        node held it to its own fee). ``accepted``, ``known``, ``rejected`` or ``forged``
        (a rejection that proves bad faith: the peer pays for it)."""
        if self._known_copy(obj):  # most copies a peer sends are known: skip parse and hash
            return "known"
        spend = self.peer_read_budget.spend(
            lambda _i: peer_sender(self.gossip, peer), lambda _i: self._owner(peer)
        )
        since = self.refusals.chain_epoch  # (a reorg meanwhile: its chain verdict not kept)
        hold = self.peer_replay_hold.peers(lambda _i: peer)  # (while the mirror replays)
        got = await self.peer_intake.submit(obj, False, spend, hold=hold)
        return self._from_peer(got, peer, obj, since)

    async def submit_many_from_peer(self, objs: list[object], peer: str | list[str]) -> list[str]:
        """``submit_from_peer`` for a chunk of a peer's orders, in order (``peer``: the sender
        of them all, or each one's). Failing midway, it raises ``PartialVerdicts`` (the
        verdicts given so far) from the error."""
        results = [""] * len(objs)
        try:
            async with contextlib.aclosing(self.submit_each_from_peer(objs, peer)) as each:
                async for i, verdict in each:
                    results[i] = verdict
        except Exception as e:  # the verdicts given so far stand (accepted: held now)
            raise PartialVerdicts(results) from e
        return results

    async def submit_each_from_peer(
        self,
        objs: list[object],
        peer: str | list[str],
        reading: Callable[[], object] | None = None,
    ) -> AsyncGenerator[tuple[int, str], None]:
        """``submit_from_peer`` of each of ``objs`` (index, verdict), each as soon as it is
        known: the copies held here already (most of them) at once; the others through the
        intake together (their signatures checked in one batch, no task per order), each
        booked as its verdict comes. ``reading``: called once if some wait on chain reads,
        as they start (the others have their verdicts then). Raises what the intake raised
        (the verdicts yielded before stand)."""
        who = peer if isinstance(peer, list) else [peer] * len(objs)
        fw = self.forwarding
        clock = CallClock(fw, "peer")  # (what its new orders cost before they are passed on)
        todo: list[int] = []
        for i, o in enumerate(objs):
            if self._known_copy(o):
                yield i, "known"
            else:
                todo.append(i)
        spend = self.peer_read_budget.spend(
            lambda k: peer_sender(self.gossip, who[todo[k]]), lambda k: self._owner(who[todo[k]])
        )
        since = self.refusals.chain_epoch  # (``submit_from_peer``)
        hold = self.peer_replay_hold.peers(lambda k: who[todo[k]])  # (as ``submit_from_peer``)
        try:  # (cancelled midway: the orders passed on so far count)
            if len(todo) == 1:
                i = todo[0]
                got = await self.peer_intake.submit(
                    objs[i], False, spend, clock.handing(), reading=reading, hold=hold
                )
                before = fw.handed
                verdict = self._from_peer(got, who[i], objs[i], since)
                clock.passed(before)
                yield i, verdict
            elif todo:
                each = self.peer_intake.submit_each(
                    [objs[i] for i in todo], False, spend, clock.handing(), reading, hold
                )
                async with contextlib.aclosing(each):
                    async for k, result in each:
                        before = fw.handed
                        verdict = self._from_peer(result, who[todo[k]], objs[todo[k]], since)
                        clock.passed(before)
                        yield todo[k], verdict
        finally:
            clock.end()  # (a timed call: one in ``fw.every``)

    def _owner(self, peer: str) -> str:
        """Whose bound of pending reads ``peer``'s copies come under (the strangers' if no
        gossip), their verdict reads' submitter (``readbudget.turns_of``)."""
        return STRANGERS if self.gossip is None else self.gossip.reads_owner(peer)

    def _from_peer(self, result: IntakeResult, peer: str, obj: object, since: int) -> str:
        """A peer's order after the intake (begun in the refusals' ``chain_epoch`` ``since``):
        booked if it is new here and within limits. A
        rejection that holds for good is kept (``sdex.node.refused``): anti-entropy does not
        fetch that copy again every round."""
        if isinstance(result, Rejection):
            if result.code in KEPT:
                self._refuse(result, peer, obj, since)
            if result.bad_faith and result.no_code_at is not None and result.order_hash:
                # (no code at our block: maybe a wallet deployed in one the peer saw first;
                # charged a few blocks later if it still has none, signer78)
                self.unproven.note(peer, result.order_hash, *result.no_code_at)
                return "rejected"
            return "forged" if result.bad_faith else "rejected"  # (a contract's word: no)
        if isinstance(result, Known) or self.registry.held(result.signed.hash):
            return "known"  # (perhaps accepted, closed and evicted during the chain read)
        orphans, (signed, filled) = self.orphan_cancels, (result.signed, result.state.filled)
        if orphans and self.cancelled_on_arrival(signed, filled, "peer:" + peer):
            return "known"  # (its maker's cancel came first: held cancelled, cancel63)
        if (over := self.intake.admit(result)) is not None:  # many checked at once
            if over.code in KEPT:
                self._refuse(over.of_order(result.signed.hash), peer, obj, since)
            return "rejected"
        self._accept(result, "peer:" + peer, TimeInForce.GTC, match=False)
        return "accepted"

    def _refuse(self, rejected: Rejection, peer: str, obj: object, since: int) -> None:
        """``rejected``'s verdict on ``peer``'s copy ``obj``, kept by the hash of its body as
        this node computes it (not the one the peer named): the intake's, or (a copy it
        rejected unparsed: a signature over the bound) its body's, if that parses."""
        h = rejected.order_hash
        if h is None:
            try:
                h = self.domain.order_hash(Order.from_json(obj))
            except OrderParseError:
                return
        stranger = self.gossip is None or self.gossip.peers.get(peer) is None
        now = time.monotonic()
        self.refusals.note(rejected.code, peer, "0x" + h.hex(), now, stranger, since=since)

    def refused(self, peer: str, hash_hex: str) -> bool:
        """Whether ``peer``'s copy of ``hash_hex`` was rejected for good (anti-entropy)."""
        return self.refusals.holds(peer, hash_hex.lower(), time.monotonic())

    def known_copy(self, obj: object) -> bool:
        """``_known_copy`` for gossip: a push of copies held here skips the check's queue."""
        return self._known_copy(obj)

    def signatures_on_loop(self) -> int:
        """Peers' orders' signatures recovered on the loop so far (``EcdsaBatcher.inline``)."""
        return self.peer_intake.ecdsa.inline

    def _known_copy(self, obj: object) -> bool:
        """Is ``obj`` exactly the JSON of an order held here? (by its 65-byte signature,
        which only that order's maker could make; the fields are compared too)"""
        if not isinstance(obj, dict):
            return False
        sig = obj.get("signature")
        rec = self.registry.by_signature(sig) if isinstance(sig, str) else None
        return rec is not None and rec.json == obj
