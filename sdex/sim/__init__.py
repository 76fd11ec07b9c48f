"""The gossip core in a discrete-event simulator: ``sdex simulate``."""

from __future__ import annotations

from sdex.sim.links import LinkModel
from sdex.sim.network import Network, Sim, SimNode
from sdex.sim.run import Scenario, simulate

__all__ = ["LinkModel", "Network", "Scenario", "Sim", "SimNode", "simulate"]
