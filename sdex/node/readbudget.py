"""Budgets of chain reads per sender (attack30's "Left", budget33).

An order the mirror cannot judge alone costs the chain an ``eth_call``: a contract maker's
(EIP-1271) signature, an account the mirror has not seen yet, an order whose state it does
not hold. A contract maker's orders each need one (every order has its own signature), and
one whose ``isValidSignature`` burns the gas it gets makes each call as dear as the view
allows (``SIGNATURE_VIEW_GAS``; on Hardhat ~7.5 MB of RSS never given back). So each sender
has a token bucket of such reads, spent only when an order needs a read (after every
off-chain check, the ECDSA recovery, the mirror and the cached EIP-1271 verdicts):

- a wallet client, by its address (``client_group``: an IPv6 client by its /64; behind a
  ``--trusted-proxy``, the address it names), ``NodeConfig.chain_read_limit`` (10 a second,
  bursts of 100), an IPv6 client's /56 and /48 each ``WIDER_READS`` times that in all
  (``client_path``; review33: a /48's 65,536 /64s had a full bucket each): past it
  ``POST /v1/orders`` is answered 429, code 103, ``Retry-After``,
  the order neither stored nor gossiped (the wallet may post it again);
- a peer node, by the key it proves, ``NodeConfig.peer_chain_read_limit`` (100 a second,
  bursts of 1,000: a peer passes on its wallets' orders); all strangers (keys not in the peer
  table, free to make) share one bucket. Past it a copy is ``rejected`` for now: no penalty,
  no verdict kept (``sdex.node.refused`` keeps none for ``THROTTLED``), so anti-entropy
  fetches it again later; the order is not lost, its own node holds it.

The budget is per sender, never per maker: a bound per maker would let anyone shut an honest
contract maker out by posting bad signatures in its name."""

from __future__ import annotations

import math
from collections.abc import Callable

from sdex.gossip import Gossip
from sdex.httpkit import NetworkLimiter, RateLimit, client_group
from sdex.ingest.intake import Spend
from sdex.ingest.rejections import RejectionCode
from sdex.model import THROTTLED, error_body

STRANGERS = "(strangers)"
"""The one sender every stranger's copies are charged to."""

WIDER_READS = 4
"""An IPv6 wallet client's /56, and its /48, hold this many clients' budget of chain reads in
all (as ``sdex.httpkit.IPV6_WIDER_PREFIXES`` bounds connections): a site is routinely given
a /56 or a /48, and its /64s counted apart read the chain at 256 or 65,536 times the rate."""


class ReadBudget:
    """Token buckets of chain reads per sender (``Intake.throttled`` counts the refused)."""

    def __init__(self, limit: RateLimit) -> None:
        self._buckets = NetworkLimiter(limit, WIDER_READS)
        self.rate = limit.rate

    def take(self, sender: str) -> bool:
        """One read for ``sender``, if its bucket holds a token."""
        return self._buckets.own.take(sender)[0]

    def spend(self, sender: Callable[[int], str]) -> Spend:
        """The ``Spend`` of an intake call: the order at index ``i`` is ``sender(i)``'s
        (worked out only for an order that needs a read: most never ask)."""
        return lambda i: self.take(sender(i))

    def wallet(self, address: str | None) -> Spend:
        """The ``Spend`` of a wallet's post from ``address``: a token of its ``client_group``
        and one of each wider network it is in (``client_path``), or none at all (the one
        helper of every such budget, ``sdex.httpkit.NetworkLimiter``)."""
        return lambda _i: self._buckets.take(client_group(address))[0]

    def headers(self) -> dict[str, str]:
        """A refused sender's ``Retry-After``: seconds until its next token at most."""
        return {"Retry-After": str(max(1, math.ceil(1.0 / self.rate)))}


def throttled_body() -> dict[str, object]:
    """A wallet's answer (429, with ``ReadBudget.headers``) when its budget is spent."""
    body = error_body(THROTTLED, f"Throttled: {RejectionCode.THROTTLED.message}")
    body["rejection"] = RejectionCode.THROTTLED.name
    return body


def peer_sender(gossip: Gossip | None, peer: str) -> str:
    """Whose budget of chain reads ``peer``'s copies spend: its own, or (a key not in the
    peer table: free to make) all strangers' one."""
    return peer if gossip is not None and gossip.peers.get(peer) is not None else STRANGERS
