"""Names for type hints only: a network and a run, as the modules that take them read them.

The model (``model.py``) opens the runtime and the views: ``g.run_network()``,
``g.diagram()``, ``g.timeline()`` import them when called. So no module of the
runtime or the views may import the model back, not even for a type hint: that
would close an import circle. They name these two protocols instead, under
``if TYPE_CHECKING:``, so this file is read by type checkers and never imported
when a program runs. ``model.Network`` is the one :class:`Graph` there is, and
``running.Run`` the one :class:`RunRecord`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .nodes import Edge, Node


class Graph(Protocol):
    """A network, as the runtime and the views read it (``model.Network``)."""

    nodes: list[Node]
    edges: list[Edge]
    loops: list[list[Node]]
    feedback_edges: list[Edge]
    last_run: Any
    running: bool

    def name_of(self, node: Node) -> str: ...

    def node(self, name: str | Node) -> Node: ...

    def part_of(self, node: Node | str) -> str | None: ...


class RunRecord(Protocol):
    """One run of a network, as snapshots and faults read it (``running.Run``)."""

    net: Graph
    nodes: dict[str, Any]
    seed: int | None
    observers: list[Any]
    snapshots: list[Any]
    recordings: list[Any]
    started_at: float
