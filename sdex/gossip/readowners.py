"""Whose bound of pending chain reads a peer's new orders count against in the check queue
(``sdex.gossip.checks``): a leading peer's own, one per host group of admitted peers below
them, or the strangers' one."""

from __future__ import annotations

STRANGERS = "(strangers)"
"""The owner whose bound of pending reads every key not in the peer table counts against,
and every admitted peer's below its own standing (``reads_owner``)."""


NEWCOMERS = "(new) "
"""The prefix of the owners of admitted peers' pending reads below the leading ones, one per
host group (``reads_owner``): together they count at most half ``reads`` toward the bound in
all (``_at_bound``)."""


def reads_owner(sender: str, leading: bool, host: str | None = None) -> str:
    """Whose bound of pending reads ``sender``'s orders count against: its own if it is one
    of the admitted peers that delivered most over time (``leading``: ``Peers.leading``,
    at least ``reads_own_score`` points, earned a point a check of accepted orders at most
    every ``EARN_SECONDS``, the ``reads_own_peers`` highest); else ``STRANGERS``' one, with
    every stranger and every peer new or of little standing (reads77: admission is cheap,
    and 16 peers admitted at once, 4 slow reads each, held all 64 pending reads, so every
    other peer's next group waited for one to end; review77c: a point a check back to back,
    so 16 sybils each reached the bar with 5 checks of one funded account's orders, free,
    and held them all again). An admitted peer not leading (``host``: its host group,
    ``Peers``' per-host bound) shares one with the peers of its host group (reads78: with
    every stranger, so a swarm of sybils of one machine held the bound of every new honest
    peer's reads too)."""
    if leading:
        return sender
    return STRANGERS if host is None else NEWCOMERS + host
