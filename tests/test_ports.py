"""``sdex.chainnode.free_port``: a port for a server started a moment later, picked below the
kernel's ephemeral range (where any outgoing connection may take it first), and free."""

from __future__ import annotations

import socket

from sdex.chainnode import PORTS_FROM, _ephemeral_low, free_port


def test_free_ports_are_below_the_ephemeral_range_and_bindable() -> None:
    low = _ephemeral_low()
    ports = {free_port() for _ in range(50)}
    if low - PORTS_FROM >= 1_000:  # (else the kernel picks: a range that starts that low)
        assert all(PORTS_FROM <= p < low for p in ports), sorted(ports)
    assert len(ports) > 40  # at random: two tests asking at once rarely get the same one
    for p in list(ports)[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_a_taken_port_is_not_given() -> None:
    taken = []
    try:
        for _ in range(200):
            s = socket.socket()
            s.bind(("127.0.0.1", free_port()))
            s.listen()
            taken.append(s)
        held = {s.getsockname()[1] for s in taken}
        assert len(held) == 200
        assert all(free_port() not in held for _ in range(200))
    finally:
        for s in taken:
            s.close()
