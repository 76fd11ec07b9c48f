"""What a ``/p2p/`` request refused before its sender was proved may cost the node, per
client address (``sdex.httpkit.client_group``: an IPv4 address, an IPv6 /64).

A refused peer request (no or junk signature, stale, replayed, a body that is not the one
signed, a stranger over the strangers' budget) costs its node a header parse, often an
ECDSA recovery (~50 us: any 65 bytes with v 27/28 and a low s recover to *some* key) and,
for a keep-alive connection, the reading of the body it sent. attack27 flooded a node with
such requests (60 KB bodies, 425 a second) and held its ``/health`` at 258 ms p50.

So each client address has a budget of refusals (``REFUSALS``: a burst, then a rate): one
that spent it is answered 429 from the address alone, before any header is parsed or key
recovered, until it refills; and every such refusal closes the connection (its body is not
read). An honest peer is refused rarely (a clock far off, a restart's replay) and its
proved requests cost nothing here. Peers sharing an address with a flooder (one host, one
NAT; a devnet's nodes on 127.0.0.1) share its budget of refusals: a connection that carried
a proved request of a peer in the table is heard while its address is gated (its requests
still verified; a refusal on it ends that), a new one is not (review28: every request of
theirs was answered 429). Refusals are counted here (``/health`` ``gossip.refusals``),
never logged one by one.
"""

from __future__ import annotations

import heapq
import math
import time
import weakref

from sdex.httpkit import RateLimit

REFUSALS = RateLimit(rate=8.0, burst=64)
"""Refused peer requests one client address may cause: 64 at once, 8 a second after."""
SWEEP_AT = 4096
"""Budgets kept before the full ones (idle addresses) are dropped, and then, if more than
3/4 of this are left, all but the half most recently charged (limits34: many addresses each
refused a few times, a /48's /64s or a trusted proxy's clients, grew the map without bound
between refills, and each new one rebuilt it whole)."""


class RefusalGate:
    """Per-client budgets of refused ``/p2p/`` requests, and the counts ``/health`` shows."""

    def __init__(self, limit: RateLimit = REFUSALS) -> None:
        self.rate = limit.rate
        self.burst = float(limit.burst)
        self._budgets: dict[str, tuple[float, float]] = {}
        """client -> (refusals left, when counted); a full budget may be dropped."""
        self.checked = 0
        """Requests whose signature headers were checked (each at most one ECDSA recovery)."""
        self.refused = 0
        """Requests refused after that check (401, a stranger's 429, a replay)."""
        self.gated = 0
        """Requests refused from the address alone: its budget of refusals was spent."""
        self.proved: weakref.WeakSet[object] = weakref.WeakSet()
        """Connections (transports) that carried a proved request of a peer in the table:
        heard while their address is gated, until a request on one is refused."""

    def _left(self, client: str, now: float) -> float:
        left, at = self._budgets.get(client, (self.burst, now))
        return min(self.burst, left + (now - at) * self.rate)

    def open(self, client: str, conn: object = None) -> bool:
        """Whether ``client`` may be heard (a refusal is left in its budget, or ``conn`` is
        a proved connection): counted as checked if so, else as gated."""
        if self._left(client, time.monotonic()) >= 1.0 or (
            conn is not None and conn in self.proved
        ):
            self.checked += 1
            return True
        self.gated += 1
        return False

    def retry_after(self, client: str) -> str:
        """Seconds until ``client`` may be heard again (``Retry-After``)."""
        return str(max(1, math.ceil((1.0 - self._left(client, time.monotonic())) / self.rate)))

    def charge(self, client: str, conn: object = None) -> None:
        """``client``'s request was refused (on ``conn``): one refusal from its budget, and
        ``conn`` no longer proved."""
        self.refused += 1
        if conn is not None:
            self.proved.discard(conn)
        now = time.monotonic()
        if len(self._budgets) >= SWEEP_AT and client not in self._budgets:
            kept = {
                c: (left, at)
                for c, (left, at) in self._budgets.items()
                if self._left(c, now) < self.burst
            }
            if len(kept) > SWEEP_AT * 3 // 4:  # (limits34: else it grew, rebuilt each time)
                kept = dict(heapq.nlargest(SWEEP_AT // 2, kept.items(), key=lambda kv: kv[1][1]))
            self._budgets = kept
        self._budgets[client] = (max(-self.burst, self._left(client, now) - 1.0), now)

    def to_json(self) -> dict[str, int]:
        return {"checked": self.checked, "refused": self.refused, "gated": self.gated}
