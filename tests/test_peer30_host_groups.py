"""IPv6 host groups are /32s (peer30; Bitcoin Core's netgroup): they were /64s, so a home's /56
was 256 groups, and a tunnel broker's free /48 65,536, each with 8 slots of the table. An
IPv6 address that carries an IPv4 one (6to4, Teredo's client, NAT64) counts as that IPv4
address's /24, the group it has when it comes over IPv4: one machine is one group either way."""

from __future__ import annotations

import random

import pytest

from sdex.gossip.peers import MAX_PER_HOST, Peers, host_group
from tests.test_peer28_table import Clock, key


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("2001:db8:1:2:3::9", "2001:db8::/32"),
        ("2001:db8:ffff:ff00::1", "2001:db8::/32"),  # another /48 of the same /32: one group
        ("2001:db9::1", "2001:db9::/32"),
        ("2a01:4f8:c0c:1234::2", "2a01:4f8::/32"),
        ("2a01:4f9::2", "2a01:4f9::/32"),
        ("::ffff:203.0.113.7", "203.0.113.0/24"),  # IPv4-mapped: as IPv4
        ("2002:cb00:7109::1", "203.0.113.0/24"),  # 6to4 of 203.0.113.9
        ("2002:cb00:71ff:1::1", "203.0.113.0/24"),
        ("2001:0:c000:201:0:f227:34ff:8ef6", "203.0.113.0/24"),  # Teredo: its client
        ("64:ff9b::cb00:7109", "203.0.113.0/24"),  # NAT64 (well-known prefix)
        ("2002:7f00:1::1", "2002:7f00::/32"),  # (6to4 "of loopback": not loopback)
        ("64:ff9b::7f00:1", "64:ff9b::/32"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("203.0.113.9", "203.0.113.0/24"),
    ],
)
def test_host_groups_of_addresses(address: str, group: str) -> None:
    url = f"http://[{address}]:9000" if ":" in address else f"http://{address}:9000"
    assert host_group(url) == group


def test_one_ipv6_allocation_is_one_host_group() -> None:
    """64 keys answering from 64 /48s of one /32 (a tunnel broker's, a hosting provider's):
    ``MAX_PER_HOST`` admitted; the rest of the table stays for other networks."""
    peers = Peers(key(0), "http://me.test:1", clock=Clock(), rng=random.Random(1))
    admitted = [
        peers.admit(key(i), f"http://n{i}.example{i}.net:9000", f"2001:db8:{i:x}::1") is not None
        for i in range(1, 65)
    ]
    assert sum(admitted) == MAX_PER_HOST
    assert peers.admit(key(100), "http://o.example.org:9000", "2001:db9::1") is not None
