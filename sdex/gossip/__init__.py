"""Gossip between nodes: a protocol core with no I/O (``core``, ``flows``), its aiohttp driver
(``gossip``, ``client``, ``routes``), peer identity, admission and scores."""

from __future__ import annotations

from sdex.gossip.actions import GossipConfig
from sdex.gossip.client import PeerClient
from sdex.gossip.core import GossipCore
from sdex.gossip.gossip import Gossip
from sdex.gossip.identity import NodeKey
from sdex.gossip.peers import Peer, Peers

__all__ = ["Gossip", "GossipConfig", "GossipCore", "NodeKey", "Peer", "PeerClient", "Peers"]
