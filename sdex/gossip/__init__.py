"""Gossip between nodes over HTTP: push, bootstrap, anti-entropy, peer scores."""

from __future__ import annotations

from sdex.gossip.client import PeerClient
from sdex.gossip.gossip import Gossip, GossipConfig
from sdex.gossip.identity import NodeKey
from sdex.gossip.peers import Peer, Peers

__all__ = ["Gossip", "GossipConfig", "NodeKey", "Peer", "PeerClient", "Peers"]
