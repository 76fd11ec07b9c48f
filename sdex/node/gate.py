"""Matching and signing held while the chain's identity is in doubt (``sdex.mirror.doubt``):
an answer said another chain and a second read did not repeat it (a flapping endpoint, one
backend still on a replaced chain), or the watcher says ``wrong-chain``. gate77: the node
went on matching a book that kept the gone chain's fills and signed settlements against a
chain that may be gone (paid reverts, or settlements landing on the other chain).

Meanwhile orders are still taken (their chain state judged as before): a wallet's GTC order
rests unmatched (``MatchingEngine.held``), an IOC or FOK one, which cannot rest, is refused
503 ``CHAIN_UNAVAILABLE`` before it is stored (try again); nothing resting is matched again;
the settler signs no queued match (``Settler.held``: every order held back, ``EVERY_ORDER``).
Once proven either way (a reset made, or polls on our blocks again) the book is uncrossed
and the settler woken; ``/health`` says ``unproven`` (or ``wrong-chain``, a hold the watcher's
``wrong-chain`` began, at every poll till it ends: signer78) and why meanwhile, since when,
and once it has stood ``LONG``, what to do (``sdex.mirror.doubt``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from collections.abc import Set as AbstractSet

from sdex.ingest import Accepted, Rejection
from sdex.ingest.rejections import RejectionCode
from sdex.matching.match import TimeInForce
from sdex.node.records import SubmitResult
from sdex.node.verdicts import NodeVerdicts

log = logging.getLogger("sdex.node")


class _Every(AbstractSet[bytes]):
    """Every order hash (``in`` is always true): the settler's hold of every match."""

    def __contains__(self, x: object) -> bool:
        return True

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def __len__(self) -> int:
        return 1  # (not empty: ``held_back`` and ``still`` look at it)


EVERY_ORDER: AbstractSet[bytes] = _Every()


class NodeGate(NodeVerdicts):
    """Matching held while the chain's identity is in doubt."""

    _start_held = ""
    """Why a start holds matching and signing ("": it does not): stored orders it could not
    read from our chain in a doubt, or a doubt with no head of ours (``sdex.node.reload``)."""

    def held_why(self) -> str:
        """Why matching and signing are held now ("" when they are not)."""
        return self.mirror.doubt.held or self._start_held

    def held_status(self) -> tuple[str, str]:
        """The chain status a hold says (``unproven``: the chain's identity in doubt;
        ``wrong-chain``: the watcher said so, and two polls in a row on our blocks have not
        come since, signer78) and why in words; ("", "") when not held."""
        d = self.mirror.doubt
        if d.why:
            return "unproven", f"the chain's identity is in doubt ({d.why})"
        if d.wrong:
            return "wrong-chain", f"the RPC endpoint's chain is not this node's ({d.wrong})"
        if self._start_held:
            return "unproven", self._start_held
        return "", ""

    def chain_health(self) -> dict[str, object]:
        """``/health``'s ``chainMirror``, with ``startHold``: why a start holds matching and
        signing (None: it does not), with what it retries meanwhile, or the defect that keeps
        it held (``sdex.node.reload``'s ``_held_step``, ``_judge_held``). ``identity.proven``
        is false while one holds, ``held`` saying why (watch89: it said ``proven`` once the
        start's doubt ended, the stored orders still not read from the chain, ``/health``
        saying ``unproven``)."""
        health = super().chain_health()
        identity = health.get("identity")
        if self._start_held and isinstance(identity, dict):
            held = identity.get("held") or self._start_held
            health["identity"] = {**identity, "proven": False, "held": held}
        return {**health, "startHold": self._start_held or None}

    def _gate_changed(self) -> None:
        """The doubt began or ended (``ChainDoubt.changed``): the engine held or let go;
        let go, the crossings that rested meanwhile are matched and the settler looks at
        its queue again."""
        held = bool(self.held_why())
        self.engine.held = held
        if held:
            return
        try:
            self._uncross()
        except Exception:  # (the watcher's poll called this: the uncross loop tries again)
            log.exception("uncross after the chain's identity was proven failed")
        self.settler.wake()

    def _accept(
        self, accepted: Accepted, source: str, tif: TimeInForce, match: bool = True
    ) -> SubmitResult:
        """A wallet's IOC or FOK order while matching is held: refused before it is stored
        (it cannot rest, and nothing may trade now); a GTC one rests (``engine.held``)."""
        if match and tif is not TimeInForce.GTC and self.engine.held:
            status, why = self.held_status()
            why = f"{why or 'matching held'}: nothing is matched"
            said = f"the node does not follow the chain now: {why}; try again"
            r = Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, said)
            detail = {"chainStatus": status or "unproven", "why": why}
            body = Rejection(r.code, r.errors, detail=detail)
            return SubmitResult(503, body.to_json())
        return super()._accept(accepted, source, tif, match)
