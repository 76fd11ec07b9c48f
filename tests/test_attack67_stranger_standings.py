"""attack67: the standings of strangers (ids not in the peer table), a flood of fresh keys.

- Past 4,096 penalized strangers kept, each new stranger's standing walked the whole table
  for a clean one to forget (``Peers.standing``): a flood of penalties from fresh keys (a
  node key is free to make; a malformed push is enough) cost each message a walk of the
  table, ~1.1 ms of the event loop. Now the table keeps its tiers apart and forgets in O(1)
  (``sdex.gossip.standings``).
- That walk found the new stranger's own standing (clean, the newest) and forgot it at once:
  past 4,096 penalized strangers, no new stranger's penalty was kept, none could be banned.
  Now a new standing is never the one forgotten: the oldest clean one goes, else the oldest
  penalized, and a ban only when every standing kept is a ban.
- An admitted peer's standing stayed in the strangers' table as it was when it came, and
  aged there: strangers' standings forgot it, so a peer banned later and then dropped from
  the table was a clean stranger again (admitted at its next hello). Now a peer's standing
  goes back to the table when it leaves it.

Real Hardhat and a node on loopback for the flood (signed requests from fresh keys, as
``test_hostile``); the peer table itself for the rest."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import sdex.gossip.peers as peers_module
from sdex.gossip import NodeKey, PeerClient
from sdex.gossip.peers import BAN_SCORE, EVICT_SECONDS, INVALID_PENALTY, MAX_STANDINGS, Peers
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.p2putil import lines_run
from tests.test_hostile import _raw_signed_post, addressee
from tests.test_peer28_table import Clock, key

FLOOD = 40
"""Penalized requests from fresh keys sent once the table is full."""
TO_BAN = -BAN_SCORE // INVALID_PENALTY


def table_lines() -> contextlib.AbstractContextManager[list[int]]:
    """Lines of the peer table's code (``peers.py``, ``standings.py``) run meanwhile, on
    this thread (a count of its work that no load on the machine changes)."""
    here = Path(peers_module.__file__)
    return lines_run({str(here), str(here.with_name("standings.py"))})


async def test_a_flood_of_penalized_fresh_keys_costs_each_message_a_few_lines(
    chain: Chain, tmp_path: Path
) -> None:
    """``MAX_STANDINGS`` strangers penalized (the table full of them), then ``FLOOD`` signed
    malformed pushes, each from a fresh key: each 400 and penalized, each costs the table's
    code at most 200 lines (before: a walk of the table each, over 8,192)."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        gossip = node.gossip
        assert gossip is not None
        for _ in range(MAX_STANDINGS):
            gossip.penalize(NodeKey.generate().node_id)
        me = "http://127.0.0.1:9"
        senders = [PeerClient(api.session, NodeKey.generate(), me) for _ in range(FLOOD)]
        with table_lines() as lines:
            for s in senders:
                code = await _raw_signed_post(s, api.base, "/p2p/orders", b"[]", addressee(node))
                assert code == 400
        assert lines[0] <= 200 * FLOOD, lines[0] / FLOOD  # before: ~8,200 a message
        assert all(gossip.peers.standing(s.key.node_id).score < 0 for s in senders)  # before: 0


def table() -> tuple[Peers, Clock]:
    clock = Clock()
    return Peers(key(0), "http://me.test:1", clock=clock, rng=random.Random(1)), clock


def test_a_flood_of_penalized_fresh_keys_leaves_strangers_bannable() -> None:
    """A stranger banned, then twice the table of fresh keys penalized once each: it is still
    banned, and a new stranger is banned by its own penalties (before: the table full of
    penalized ones, the walk for a clean one found the new one's, and forgot it). A stranger
    banned keeps its ban through a flood of clean fresh keys."""
    peers, _ = table()
    peers.penalize(key(1), TO_BAN)
    assert peers.is_banned(key(1))
    for i in range(2 * MAX_STANDINGS):
        peers.penalize(key(10_000 + i))
    assert peers.is_banned(key(1))
    for _ in range(TO_BAN):
        peers.penalize(key(3))
    assert peers.is_banned(key(3))  # before: each penalty forgot its new standing at once
    for i in range(2 * MAX_STANDINGS):
        peers.standing(key(100_000 + i))
    assert peers.is_banned(key(1))
    assert len(peers._standings) == MAX_STANDINGS


def test_a_peer_banned_after_a_flood_of_strangers_stays_banned_when_it_leaves() -> None:
    """A peer admitted, then ``MAX_STANDINGS`` fresh strangers heard; the peer earns a ban,
    fails and leaves the table: its hello is refused (before: its standing had been forgotten
    among the strangers' when it left, and it came back a clean stranger, admitted)."""
    peers, clock = table()
    url = "http://198.51.100.7:9000"
    peer = peers.admit(key(1), url)
    assert peer is not None
    for i in range(MAX_STANDINGS):
        peers.standing(key(10_000 + i))
    peers.penalize(key(1), TO_BAN)
    for _ in range(5):
        peers.failed(peer)
    clock.t += EVICT_SECONDS
    assert peers.evict_failing() == [peer]
    assert peers.is_banned(key(1))  # before: False
    assert peers.admit(key(1), url) is None  # before: admitted again
