"""DisSysLab: build networks of ordinary Python functions and watch them run concurrently.

The package has rooms, and each idea lives in one of them:

* the model, what a network *is*: ``nodes.py`` (Source, Transform, Sink, Split,
  MergeSynch), ``graph.py`` (``network()``, its checks, the Network, and sub-networks:
  pieces built with ``inputs=``/``outputs=``, written flat into the network that uses them),
  ``errors.py``, ``copying.py`` (fanout copies), ``sources.py`` (ListSource),
  ``pace.py`` (``paced``: the pauses that slow a lesson's run down to watch it);
* the semantics, what each kind of node does with a message: ``semantics.py``;
* the schedulers, *when* those steps run: ``threads.py`` (a thread per node,
  with ``channels.py`` carrying messages between them) and ``seeded.py`` (one
  step at a time, in an order decided by a seed; ``g.explore()``), sharing the
  steps of every run in ``running.py``; and the Ray engine, *where* they run:
  ``ray_engine.py`` (``engine="ray"``: a process per source and transform, on
  this machine or a cluster; Ray is imported only there);
* snapshots, a consistent state of a running network and resuming from it
  (Chandy and Lamport's markers): ``snapshots.py``;
* observers and views, which watch runs through ``observers.py``: ``trace.py``,
  ``live.py`` (the live view in Jupyter), ``diagram.py``, ``timeline.py``; and, from a
  trace after the run, time and order: ``clocks.py`` (Lamport and vector clocks,
  happened-before);
* the checks for exercises and the grader: ``check/``.

To see how a run works, read ``semantics.py`` and then ``threads.py``.
"""

from .diagram import legend  # graphviz itself is imported only when a legend is drawn
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
from .faults import Faults, crash, drop, duplicate, partition
from .graph import Edge, Network, NodeStats, network
from .nodes import MergeSynch, Sink, Source, Split, Transform
from .pace import paced
from .snapshots import Snapshot, SnapshotWarning
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
    "crash", "drop", "duplicate", "partition", "Faults",
]
