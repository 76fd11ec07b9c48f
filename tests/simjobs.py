"""Jobs on the simulator's machine alone (``sdex.sim.cpu.Cpu``): the runner the queue and
replay tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdex.sim.cpu import Cpu
from sdex.sim.events import Sim

Jobs = list[tuple[int, float, float]]
"""(node, CPU seconds, when submitted)."""


def run_jobs(
    jobs: Jobs, start: float = 0.0, setup: Callable[[Cpu], None] | None = None, **cpu: Any
) -> tuple[list[float], Cpu]:
    """When each job ends (in the jobs' order) on a ``Cpu(**cpu)`` whose trace starts at
    ``start`` (``setup`` given the machine first); and the machine."""
    sim = Sim()
    machine = Cpu(sim, **cpu)
    if setup is not None:
        setup(machine)
    machine.trace_start = start
    ends = [0.0] * len(jobs)

    def done(k: int) -> None:
        ends[k] = sim.now

    for k, (node, cost, at) in enumerate(jobs):
        sim.at(at, machine.submit, node, cost, done, k)
    sim.run(1e9)
    return ends, machine
