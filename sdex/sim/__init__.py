"""The gossip core in a discrete-event simulator: ``sdex simulate``."""

from __future__ import annotations

from sdex.sim.network import LinkModel, Network, Sim, SimNode
from sdex.sim.run import Scenario, simulate

__all__ = ["LinkModel", "Network", "Scenario", "Sim", "SimNode", "simulate"]
