"""What a ``/p2p/`` request refused before its sender was proved may cost the node, per
client address (``sdex.httpkit.client_group``: an IPv4 address, an IPv6 /64), and per wider
network an IPv6 client is in (``client_path``: its /56 and its /48, each ``WIDER_CLIENTS``
addresses' budget in all; gate36: one /48's 65,536 /64s had a budget each, 64 refusals, each
an ECDSA recovery).

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

from sdex.httpkit import WIDER_CLIENTS, RateLimit, client_path

REFUSALS = RateLimit(rate=8.0, burst=64)
"""Refused peer requests one client address may cause: 64 at once, 8 a second after."""
SWEEP_AT = 4096
"""Budgets kept before the full ones (idle addresses) are dropped, and then, if more than
3/4 of this are left, all but the half most recently charged (limits34: many addresses each
refused a few times, a /48's /64s or a trusted proxy's clients, grew the map without bound
between refills, and each new one rebuilt it whole)."""


Budget = tuple[float, float]
"""(refusals left, when counted)."""


def _swept(budgets: dict[str, Budget], burst: float, rate: float, now: float) -> dict[str, Budget]:
    """``budgets`` without the full ones, and, if more than 3/4 of ``SWEEP_AT`` are left, all
    but the half most recently charged."""
    kept = {c: b for c, b in budgets.items() if b[0] + (now - b[1]) * rate < burst}
    if len(kept) > SWEEP_AT * 3 // 4:  # (limits34: else it grew, rebuilt each time)
        kept = dict(heapq.nlargest(SWEEP_AT // 2, kept.items(), key=lambda kv: kv[1][1]))
    return kept


class RefusalGate:
    """Per-client budgets of refused ``/p2p/`` requests, per wider network of an IPv6 client
    (its /56 and /48: ``wider`` clients' budget each), and the counts ``/health`` shows."""

    def __init__(self, limit: RateLimit = REFUSALS, wider: int = WIDER_CLIENTS) -> None:
        self.rate = limit.rate
        self.burst = float(limit.burst)
        self._budgets: dict[str, Budget] = {}
        """client -> (refusals left, when counted); a full budget may be dropped."""
        self.wider_rate = limit.rate * wider
        self.wider_burst = float(limit.burst * wider)
        self._wider: dict[str, Budget] = {}
        """An IPv6 client's /56 or /48 -> its budget, as ``_budgets``."""
        self._spent: set[str] = set()
        """Of those, the ones that had less than one refusal left when last charged or
        looked at: ``open`` looks at an IPv6 client's wider networks only while some are
        (a good peer's request costs one test more than before; gate36 measured +0.5 us
        with a lookup of its /48 and /56 on every request)."""
        self.checked = 0
        """Requests whose signature headers were checked (each at most one ECDSA recovery)."""
        self.refused = 0
        """Requests refused after that check (401, a stranger's 429, a replay)."""
        self.gated = 0
        """Requests refused from the address alone: its budget of refusals was spent."""
        self.proved: weakref.WeakSet[object] = weakref.WeakSet()
        """Connections (transports) that carried a proved request of a peer in the table:
        heard while their address is gated, until a request on one is refused."""
        self.owners: weakref.WeakKeyDictionary[object, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        """Of those, the peer whose request a connection last carried, proved, and the URL it
        signed: while its budget is spent, its next requests there claiming that URL are
        answered 429 before their signature is recovered (flood79: ``gate.signed``)."""

    def _left(self, client: str, now: float) -> float:
        left, at = self._budgets.get(client, (self.burst, now))
        return min(self.burst, left + (now - at) * self.rate)

    def _wider_left(self, group: str, now: float) -> float:
        left, at = self._wider.get(group, (self.wider_burst, now))
        return min(self.wider_burst, left + (now - at) * self.wider_rate)

    def _wider_open(self, client: str, now: float) -> bool:
        """Whether none of the wider networks IPv6 ``client`` is in is spent."""
        spent = self._spent
        *groups, _ = client_path(client)
        for group in groups:
            if group in spent:
                if self._wider_left(group, now) < 1.0:
                    break
                spent.discard(group)  # (refilled since)
        else:
            return True
        return False

    def open(self, client: str, conn: object = None) -> bool:
        """Whether ``client`` may be heard (a refusal is left in its budget and in each wider
        network's it is in, or ``conn`` is a proved connection): counted as checked if so,
        else as gated."""
        now = time.monotonic()
        if (  # (while no wider network is spent, or for an IPv4 client: its own budget alone)
            self._left(client, now) >= 1.0
            and (not self._spent or "/" not in client or self._wider_open(client, now))
        ) or (conn is not None and conn in self.proved):
            self.checked += 1
            return True
        self.gated += 1
        return False

    def retry_after(self, client: str) -> str:
        """Seconds until ``client`` may be heard again (``Retry-After``): the longest wait of
        its own budget and its wider networks'."""
        now = time.monotonic()
        wait = (1.0 - self._left(client, now)) / self.rate
        if self._wider and "/" in client:
            for group in client_path(client)[:-1]:
                wait = max(wait, (1.0 - self._wider_left(group, now)) / self.wider_rate)
        return str(max(1, math.ceil(wait)))

    def charge(self, client: str, conn: object = None) -> None:
        """``client``'s request was refused (on ``conn``): one refusal from its budget, and
        ``conn`` no longer proved."""
        self.refused += 1
        if conn is not None:
            self.proved.discard(conn)
            self.owners.pop(conn, None)
        now = time.monotonic()
        if len(self._budgets) >= SWEEP_AT and client not in self._budgets:
            self._budgets = _swept(self._budgets, self.burst, self.rate, now)
        self._budgets[client] = (max(-self.burst, self._left(client, now) - 1.0), now)
        if "/" not in client:
            return
        for group in client_path(client)[:-1]:  # (an IPv6 client's /48 and /56)
            if len(self._wider) >= SWEEP_AT and group not in self._wider:
                self._wider = _swept(self._wider, self.wider_burst, self.wider_rate, now)
                self._spent &= self._wider.keys()
            left = self._wider_left(group, now) - 1.0
            self._wider[group] = (max(-self.wider_burst, left), now)
            if left < 1.0:
                self._spent.add(group)

    def to_json(self) -> dict[str, int]:
        return {"checked": self.checked, "refused": self.refused, "gated": self.gated}
