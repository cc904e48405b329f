"""The runtime's one entry point: ``g.run_network(...)`` comes here.

``run`` checks the options a student gave, picks the scheduler that will run
the network, and gathers the observers that watch it:

- ``threads.py``: every node in its own thread (the default);
- ``seeded.py``: one node step at a time, in an order a seed decides;
- ``ray_engine.py``: nodes in processes of their own (Ray actors);
- ``exhaustive.py``: one step at a time, following a schedule found by
  ``g.explore(exhaustive=True)`` (``schedule=``).

The seeded and exhaustive ones step the same model (``stepping.py``) and
differ only in how they choose the next step.

Each of them runs the same skeleton (``running.execute``) with the same rules
between nodes (``flow.py``) and the same node semantics (``semantics.py``).
Nothing here imports a scheduler, Ray, Jupyter or widgets until a run needs it.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .shapes import Graph


def run(net: Graph, timeout: float | None = None, capacity: int | None = None, *,
        seed: int | None = None, trace: bool = False, live: Any = None,
        snapshot_at: int | Iterable[int] | None = None, snapshot_every: float | None = None,
        resume: Any | None = None, engine: str = "threads", place: dict[str, str] | None = None,
        allow_unrecorded: bool = False, faults: Any = None, schedule: Any = None) -> None:
    """Run ``net`` to the end with the options of ``Network.run_network`` (documented there)."""
    if engine not in ("threads", "ray"):
        raise ValueError(f"engine must be \"threads\" (the default) or \"ray\", but got "
                         f"{engine!r}.")
    from .snapshots import check_snapshot_arguments, check_use

    steps = check_snapshot_arguments(seed, snapshot_at, snapshot_every, resume)
    if schedule is not None:  # exhaustive.py: replay one schedule, step by step
        from .exhaustive import replay_arguments

        start = replay_arguments(schedule, seed, engine, steps, snapshot_every, resume, faults)
    if place is not None and engine != "ray":
        raise ValueError("place= says where nodes run on Ray (engine=\"ray\"): with "
                         f"engine={engine!r} every node runs in a thread of this process, so "
                         "there is nothing to place. Add engine=\"ray\", or leave place= out.")
    if engine == "ray" or schedule is not None:  # timers.py: a node's timeout= is not for them
        from .timers import refuse_timeouts

        refuse_timeouts(net, "a Ray run" if engine == "ray" else "a replayed schedule",
                        "run it with threads (the default) or a seed." if engine == "ray" else
                        "replay a seeded run (seed=) instead.")
    if engine == "ray":  # ray_engine.py: nodes in processes (Ray actors); Ray imported there
        if seed is not None:
            raise ValueError("A seeded run (seed=...) runs every node one step at a time in "
                             "this process, so it cannot use engine=\"ray\": leave out one "
                             "of the two.")
        from .ray_engine import run as start

        start = partial(start, place=place, snapshot_every=snapshot_every, resume=resume)
    elif schedule is not None:  # exhaustive.py (set above)
        pass
    elif seed is None:  # threads.py: every node in its own thread
        from .threads import run as start

        start = partial(start, snapshot_every=snapshot_every, resume=resume)
    else:  # seeded.py: one node at a time, in an order decided by the seed
        from .seeded import check_seed, run_seeded

        start = partial(run_seeded, seed=check_seed(seed), snapshot_at=steps, resume=resume)
    check_use(net, taking=bool(steps) or snapshot_every is not None, resume=resume,
              allow_unrecorded=allow_unrecorded)
    if faults is not None:  # faults.py: checked before the run, decided by the seed
        from .faults import Plan, check_faults

        if engine == "ray":
            raise ValueError("faults= works in this process's runs only: use engine=\"threads\" "
                             "(the default) or a seed for a run with faults.")
        start = partial(start, faults=Plan(check_faults(net, faults), seed))
    observers = []
    if trace:  # trace.py: record every event of the run for g.trace and g.timeline()
        from .trace import Tracer
        observers.append(Tracer())
    # live= (live.py): the live view's observer
    if live is not False and (live is not None or "ipykernel" in sys.modules):
        from .live import live_view  # only here: plain Python never loads Jupyter code

        view = live_view(net, live)
        if view is not None:
            observers.append(view)
    start(net, timeout=timeout, capacity=capacity, observers=observers)
