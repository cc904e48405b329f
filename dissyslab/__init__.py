"""DisSysLab: build networks of ordinary Python functions and watch them run concurrently."""

from .errors import (
    CopyError,
    DuplicateEdgeWarning,
    MergeSynchWarning,
    NetworkError,
    NetworkTimeout,
    NodeFailure,
    NodeStillRunningWarning,
)
from .graph import Edge, Network, NodeStats, network
from .nodes import MergeSynch, Sink, Source, Split, Transform
from .sources import ListSource
from .diagram import legend  # graphviz itself is imported only when a legend is drawn

__version__ = "0.1.0"

__all__ = [
    "network", "Network", "Edge", "NodeStats",
    "Source", "Transform", "Sink", "Split", "MergeSynch", "ListSource",
    "NetworkError", "NetworkTimeout", "NodeFailure", "CopyError",
    "DuplicateEdgeWarning", "MergeSynchWarning", "NodeStillRunningWarning",
    "legend",
]
