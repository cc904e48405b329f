"""DisSysLab: build networks of ordinary Python functions and watch them run concurrently.

The package has rooms, and each idea lives in one of them:

* the model, what a network *is*: ``nodes.py`` (Source, Transform, Sink, Split,
  MergeSynch, their ports and counters, and the Edge between two of them),
  ``build.py`` (``network()``: every check of the edges, and sub-networks, pieces
  built with ``inputs=``/``outputs=`` and written flat into the network that
  uses them), ``model.py`` (the network as a value: the Network that
  ``network()`` returns, what you can ask of it, and the doors to running,
  drawing and tracing it), ``loops.py`` (finding loops and
  the edges that close them), ``errors.py``, ``copying.py`` (fanout copies),
  ``sources.py`` (ListSource), ``pace.py`` (``paced``: the pauses that slow a
  lesson's run down to watch it). Not ``network.py``: that name belongs to the
  function ``network``;
* the semantics, what each kind of node does with a message: ``semantics.py``;
* the flow, the rules between nodes (room in front of a node, the end of the
  stream, loops, failures, snapshot markers), written once: ``flow.py``;
* the schedulers, *when* those steps run: ``runtime.py`` (what
  ``g.run_network()`` calls: it checks the options and picks one),
  ``threads.py`` (a thread per node, with ``channels.py`` carrying messages
  between them), ``seeded.py`` (one step at a time, in an order decided by a
  seed) and ``exhaustive.py`` (every order, or one schedule replayed), both
  stepping the one model of ``stepping.py`` (a queue per edge, one step at a
  time), all sharing one run skeleton in ``running.py``; ``explore.py``
  (``g.explore()``: many seeds, their different outcomes); and the Ray engine,
  *where* they run: ``ray_engine.py`` (``engine="ray"``: a process per source
  and transform, on this machine or a cluster; Ray is imported only there), its
  hub routing batches between processes that ``ray_pool.py`` keeps and that run
  ``ray_hosts.py`` over ``ray_wire.py``, with ``ray_snapshots.py`` and ``ray_reports.py``;
* snapshots, a consistent state of a running network and resuming from it
  (Chandy and Lamport's markers): ``snapshots.py``;
* faults on purpose (``run_network(faults=[crash(...), drop(...), ...])``): a
  crashed node, lost, duplicated, late or cut-off messages, decided by a seed: ``faults.py``;
* time: ``Timer`` (a source that ticks) and a node's ``timeout=``: ``timers.py``;
  the virtual clock of a seeded run: ``vclock.py``;
* observers and views, which watch runs through ``observers.py``: ``trace.py``,
  ``live.py`` (the live view in Jupyter), ``diagram.py``, ``timeline.py``; and, from a
  trace after the run, time and order: ``clocks.py`` (Lamport and vector clocks,
  happened-before);
* the checks for exercises and the grader: ``check/``;
* ``shapes.py``: a network and a run as the other rooms name them in type hints,
  so nothing imports the model back (read by type checkers only).

To see how a run works, read ``semantics.py``, then ``flow.py``, then ``threads.py``.

``import dissyslab`` loads the model's rooms only: everything else (running, drawing,
snapshots, ``legend``) is imported when first used, so the import stays quick
(``benchmarks/import_time.py``).
"""

from .build import network
from .errors import (
    CopyError,
    DroppedEverythingWarning,
    DuplicateEdgeWarning,
    MergeSynchWarning,
    NetworkError,
    NetworkTimeout,
    NodeFailure,
    NodeStillRunningWarning,
    SourceUsedUpWarning,
    ThreadStillRunningWarning,
)
from .model import Network
from .nodes import Edge, MergeSynch, NodeStats, Sink, Source, Split, Transform
from .pace import paced
from .sources import ListSource

__version__ = "0.1.0"

__all__ = [
    "network", "Network", "Edge", "NodeStats",
    "Source", "Transform", "Sink", "Split", "MergeSynch", "ListSource",
    "NetworkError", "NetworkTimeout", "NodeFailure", "CopyError",
    "DuplicateEdgeWarning", "MergeSynchWarning", "NodeStillRunningWarning",
    "DroppedEverythingWarning", "ThreadStillRunningWarning", "SourceUsedUpWarning",
    "Snapshot", "SnapshotWarning",
    "legend", "paced",
    "crash", "drop", "duplicate", "partition", "delay", "Faults",
    "Timer", "Timeout",
]


#: names loaded at their first use, and the module each lives in: the drawing code
#: (``diagram.py``), the snapshots (``snapshots.py``) and the faults a run may be given
#: (``faults.py``) are not needed to build a network
_LOADED_LATER = {"legend": "diagram", "Snapshot": "snapshots", "SnapshotWarning": "snapshots",
                 "crash": "faults", "drop": "faults", "duplicate": "faults",
                 "partition": "faults", "delay": "faults", "Faults": "faults",
                 "Timer": "timers", "Timeout": "timers"}


def __getattr__(name: str) -> object:
    """``dissyslab.legend``, ``dissyslab.Snapshot``...: each loaded from its module at its first use.

    ``from dissyslab import legend`` works as for any other name; ``import
    dissyslab`` alone does not load the module behind it, so it stays quick.
    A module of the package is found the same way: ``dissyslab.diagram.text(g)``.
    """
    from importlib import import_module

    module = _LOADED_LATER.get(name)
    if module is not None:
        value = getattr(import_module(f".{module}", __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    if name.isidentifier() and not name.startswith("_"):
        try:
            return import_module(f".{name}", __name__)  # importing it makes it an attribute
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise  # the module exists but needs one that is missing
    raise AttributeError(f"module 'dissyslab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LOADED_LATER))
