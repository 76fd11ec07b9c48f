"""The simulated network's measured inputs: link latency and bandwidth, and what each piece
of a node's work costs its CPU (``sdex.sim.network`` runs them; ``bench/gossip_sim.py``
measures them from real nodes)."""

from __future__ import annotations

from dataclasses import dataclass

from sdex.sim.spells import SpellModel


@dataclass
class LinkModel:
    latency_median: float = 0.050
    latency_sigma: float = 0.5
    bandwidth: float = 10e6 / 8
    """Bytes per second, each way, per node."""
    check_cost: float = 0.002
    """CPU seconds a node's intake spends on a new order before it is accepted and passed on
    (parse, signature, chain state, book and registry). ``bench/gossip_sim.py`` calibrates
    it from the real nodes: by default their event loop's CPU per order (an upper bound);
    ``--split measured``, the loop's CPU from the intake's start to the order's hand-over
    to gossip per peer's order (``forwardTiming`` in ``/health``, ``sdex.node.forwarding``:
    a lower bound) and the ECDSA worker's CPU per order, which that waits for; ``--split
    sent``, the loop's CPU from the same start to the turn that wrote the order's pushes,
    less the sender's half of those messages' ``message_cost`` (charged apart)."""
    handover_share: float = 0.0
    """The share of a peer's group's ``check_cost`` a node spends before the intake's first
    wait, its signatures' hand-over to the ECDSA batcher (measured: ``forwardTiming``'s
    ``handCpuS`` over ``sentCpuS``, sim48); the rest runs as a job of its own, behind the
    node's jobs that came meanwhile (the real loop reads what arrived before the intake goes
    on), and waits for a core again. 0: one job."""
    post_handover_share: float = 0.0
    """The same for a wallet's order (its ``post_cost`` and ``check_cost``)."""
    wake_shape: list[float] | None = None
    """Queued: equally likely seconds a node's job waits when its node starts it idle (its
    loop woken by a message, a wallet's request), before its spells (measured: the woken
    tasks' lateness in the same window, ``bench/runqueue.py``'s probe; sim48). None: none."""
    known_cost: float = 0.00005
    after_cost: float = 0.0
    """CPU seconds a node spends on a new order after it was accepted, passed on and
    delivered (the websocket event the watcher hears goes out with the push): the rest of
    its work (the store writer's insert and commit, the events' encoding, copies held
    already). It delays the node's next work, neither the order's push nor its delivery."""
    post_cost: float = 0.0
    """CPU seconds a wallet's order costs the node it is posted to besides ``check_cost``
    (its HTTP request, and measured: what a wallet's intake costs more than a peer's),
    before it is passed on."""
    post_wait: float = 0.0
    """Wall seconds a wallet's order then spends at its node off the CPU before it is passed
    on, the node's loop stalled meanwhile (measured: ``forwardTiming``'s wallet
    ``sentWallS - sentCpuS`` per order, a mean only; likely the loop waiting for the GIL
    while the store writer commits the order's row, which a wallet's intake awaits)."""
    post_wait_shape: list[float] | None = None
    """Equally likely wall seconds a wallet's order waits there instead (measured per order:
    ``forwardTiming``'s ``sentSleepUs``, the span to its pushes' writes neither on the loop's
    CPU nor waiting for a core, which the shared machine's model draws apart); each wallet's
    order draws one. None: ``post_wait`` every order."""
    peer_wait_shape: list[float] | None = None
    """The same for a chunk of a peer's push with new orders: after its check, before its
    orders are passed on (measured the same way, per intake call of a peer's chunk). None:
    no wait."""
    watch_cost: float = 0.0
    """CPU seconds an observer spends on one node's event of a new order (the real bench's
    watcher: one process reading every node's websocket). 0: an order counts as delivered
    at a node when the node passes it on; else when the observer, one more single-threaded
    task on the shared machine (``WATCHER`` in ``sdex.sim.cpu``), has read that event
    behind the ones before it, as the real watcher stamps it."""
    message_cost: float = 0.0
    """CPU seconds one request and its answer cost the two nodes together (framing, the
    socket, MACs or signatures): half is spent by the caller before the request leaves, half
    by the receiver before it serves it."""
    cores: float = 0.0
    """0: every node has a core of its own; else the nodes share a machine of this many."""
    background: float = 0.0
    """Cores of that shared machine busy with other work (the chain, the load generator)."""
    timeslice: float = 0.0
    """Seconds a node runs on a core of the shared machine before others waiting get it (0:
    processor sharing; ``sdex.sim.cpu``)."""
    sliced: bool = False
    """With ``others``: the fair shares given in slices of ``timeslice`` (a node's job runs on
    a core until it ends or its slice does, the nodes waiting for a core in turn), as the
    kernel's scheduler does (a CPU-bound task runs a tick, 4 ms here, before it is switched
    out): jobs shorter than a slice end one after another, not all together."""
    others: float | None = None
    """Other tasks runnable on that shared machine, on average (measured): given, the
    machine is shared as Linux's fair scheduler does, each runnable task an equal share of ``cores``
    (``background`` and ``timeslice`` then unused; ``sdex.sim.cpu``)."""
    others_trace: list[float] | None = None
    """How ``others`` varied, one value per ``others_step`` seconds from the first order's
    post on (measured; its first value before, its last after)."""
    others_step: float = 0.0
    others_groups: list[list[int]] | None = None
    """With the trace: the runnable tasks of each other active task group at each step (the
    trace is then of the nodes' own group; ``sdex.sim.cpu``)."""
    cost_shape: list[float] | None = None
    """How a new order's cost varies (measured: equally likely multiples of ``check_cost``,
    mean 1; each new order draws one, from a random source of its own so the mesh and the
    orders' targets stay those of the seed). None: every new order costs ``check_cost``."""
    spells: SpellModel | None = None
    """Nodes with a core each (``cores == 0``), or in line for a shared machine's
    (``queued``): their waits for a core, in spells (measured: ``sdex.sim.spells``); a job
    that would start in one of its node's spells starts at its end. None: no such waits."""
    queued: bool = False
    """With ``cores``: the nodes wait in one line for the ``cores - background`` cores, a
    job to its end on the core it gets (its node keeping the core for its next ready jobs
    for ``timeslice``), ``spells`` on top (``sdex.sim.cpu``; ``others`` unused). With
    ``others_trace`` the other processes wait in that line too: the trace's runnable tasks
    (``others_groups``' added), replayed step by step as tasks that each run a slice and go
    back in line while the trace has them runnable (sim16)."""
    waking_first: bool = False
    """Replayed: a node's job joins the line ahead of the other tasks waiting in it (the
    kernel's pick of a woken task owed service; ``sdex.sim.cpu``)."""
    others_bursts: list[list[float]] | None = None
    """Queued: the other processes' measured CPU seconds each step of ``bursts_step`` (per
    step, one value a process), replayed in the line as bursts of that much work (sim23;
    ``sdex.sim.line``); the count trace (``others_trace``) is then unused."""
    bursts_step: float = 0.0
    bursts_whole: bool = False
    """With ``others_bursts``: a burst runs to its end when it gets a core (else a slice of
    ``timeslice`` a turn)."""
    bursts_groups: list[list[int]] | None = None
    """Each burst's task group (as ``others_bursts``; the nodes' own 0)."""
    bursts_fair: bool = False
    """With ``bursts_groups``: the line picks by group, the least run first (``sdex.sim.line``)."""
    node_delays: list[list[float]] | None = None
    """Nodes with a core each: per node and step of ``bursts_step``, seconds each job waits
    before it starts (the real node's ``run_delay`` per run then; ``sdex.sim.delays``)."""
    delays_woken: bool = True
    """With ``node_delays``: a job waits only when its node starts it idle (its thread woken),
    not when it goes on with it after another (else every job waits)."""
    node_speeds: list[list[float]] | None = None
    """Nodes with a core each: per node and step of ``bursts_step``, the share of a core it
    runs at (its real thread's CPU over CPU and ``run_delay`` then; ``sdex.sim.delays``)."""
    group_shares: list[float] | None = None
    """Queued: per step of ``group_step`` from the first post on, the share of a core the
    nodes' group gets while its jobs run (sim25: from the other task groups' runnable tasks,
    measured, by the kernel's group scheduling, ``sdex.sim.shares``); None: whole cores."""
    group_step: float = 0.0
    group_own: list[float] | None = None
    """With ``group_shares``: per step, the nodes' group's other runnable tasks (measured),
    sharing the group's time with its busy nodes equally (``sdex.sim.line``)."""
