"""Gossip between nodes over HTTP: push, bootstrap, anti-entropy, peer scores."""

from __future__ import annotations

from sdex.gossip.gossip import NODE_HEADER, Gossip, GossipConfig
from sdex.gossip.peers import Peer, Peers

__all__ = ["NODE_HEADER", "Gossip", "GossipConfig", "Peer", "Peers"]
