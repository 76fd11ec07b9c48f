"""The gossip core in a discrete-event simulator: ``sdex simulate``."""

from __future__ import annotations

from sdex.sim.events import Sim
from sdex.sim.links import LinkModel
from sdex.sim.network import Network
from sdex.sim.node import SimNode
from sdex.sim.run import Scenario, simulate

__all__ = ["LinkModel", "Network", "Scenario", "Sim", "SimNode", "simulate"]
