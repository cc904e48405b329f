"""The network as a value: its nodes and edges, and everything you can ask of it.

``network([...])`` (``build.py``) checks a list of edges and returns a
:class:`Network`. This file says what that value *is*:

* :class:`Part`: a sub-network used inside a network, as that network sees it;
* :class:`Network`: the nodes, the edges, the loops (``loops.py``), and the
  questions you can ask of them (``g.upstream(node)``, ``g.paths()``,
  ``g.describe()``...); after a run, what the run did (``g.stats``,
  ``g.edge_counts``...); and the doors to everything else: running it
  (``g.run_network()``), drawing it (``g.diagram()``), its snapshots, its trace
  and timeline, and exploring its schedules (``g.explore()``). Each door
  imports the module behind it only when it is opened, so ``import dissyslab``
  stays light.

The nodes, and the :class:`~dissyslab.nodes.Edge` objects that connect them,
are defined in ``nodes.py``. Running a network records what happened in
``g.last_run`` and leaves its nodes and edges as they were, so it can be run
again.
"""

from __future__ import annotations

from .errors import short_repr, shown_without_our_frames
from .loops import feedback_edges, find_loops
from .nodes import Edge, Node, NodeStats, Port, function_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Any, Iterable

    from .errors import NodeFailure


class Part:
    """A sub-network used inside a network, as that network sees it.

    ``name``: its name in the network (``"cleaner"``, or ``"pipeline/cleaner"``
    for one nested inside another); ``network``: the sub-network itself;
    ``nodes``: every node inside it, nested ones included; ``parent``: the
    name of the part it is nested in, or None.
    """

    name: str
    network: Network
    nodes: tuple[Node, ...]
    parent: str | None

    def __init__(self, name: str, network: Network, nodes: tuple[Node, ...],
                 parent: str | None = None) -> None:
        for attr, value in (("name", name), ("network", network), ("nodes", nodes),
                            ("parent", parent)):
            object.__setattr__(self, attr, value)

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"a Part cannot be changed once made (tried to set {attr!r}).")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"a Part cannot be changed once made (tried to delete {attr!r}).")

    def __repr__(self) -> str:
        return f"Part(name={self.name!r}, parent={self.parent!r})"


class Network:
    """A checked set of nodes and edges, ready to run. Make one with :func:`network`.

    ``g.nodes`` and ``g.edges`` list what it is made of, in the order the edges
    were given; ``g.loops`` and ``g.feedback_edges`` its loops (``loops.py``).
    Ask it about its shape (``g.upstream(node)``, ``g.paths()``,
    ``print(g.describe())``), run it (``g.run_network()``), then ask what the
    run did (``g.stats``, ``g.edge_counts``, ``g.failures``).

    Built with ``inputs=`` or ``outputs=`` it is a *sub-network*: a piece to
    wire into a larger network like a node (see :func:`network`), not run alone.
    """

    def __init__(self, nodes: Iterable[Node], edges: Iterable[Edge],
                 names: dict[int, str] | None = None, *, parts: Iterable[Part] = (),
                 inputs: Iterable[tuple[Node, int | None]] = (),
                 outputs: Iterable[tuple[Node, int | None]] = (), name: str | None = None) -> None:
        """Hold nodes and edges that :func:`~dissyslab.build.network` has already checked.

        Call ``network([...])`` to make a Network: it checks the edges first,
        and this does not. ``names`` is the network's name for a node (by
        ``id``) where it differs from the node's own.
        """
        self.nodes = list(nodes)
        self.edges = list(edges)
        #: the name given with network(..., name=...), or None
        self.given_name = name
        #: the sub-networks inside this one (outer ones first, each followed by those it holds)
        self.parts = list(parts)
        self._part_of = {id(n): part.name for part in self.parts for n in part.nodes}  # innermost
        #: where messages come in from outside: (node, input port or None) per input in_0, in_1, ...
        self.inputs = tuple(inputs)
        #: where messages leave: (node, output port or None) per output out_0, out_1, ...
        self.outputs = tuple(outputs)
        self.ports = (tuple(Port(self, i, "in") for i in range(len(self.inputs)))
                      + tuple(Port(self, i, "out") for i in range(len(self.outputs))))
        for port in self.ports:
            setattr(self, port.name, port)
        # this network's name for each node (by identity): the node's own name, except
        # when another node of this network has that name too (see network()).
        self._names = {id(n): n.name for n in self.nodes}
        self._names.update(names or {})
        self._by_name = {self._names[id(n)]: n for n in self.nodes}
        self._down = {name: [] for name in self._by_name}
        self._up = {name: [] for name in self._by_name}
        for e in self.edges:
            if e.dst not in self._down[self.name_of(e.src)]:
                self._down[self.name_of(e.src)].append(e.dst)
            if e.src not in self._up[self.name_of(e.dst)]:
                self._up[self.name_of(e.dst)].append(e.src)
        #: the loops (feedback cycles): lists of nodes that can all reach one another
        self.loops = find_loops(self.nodes, self.edges)
        #: the edges that close a loop, seen from the sources (their messages come back round)
        self.feedback_edges = feedback_edges(self.nodes, self.edges) if self.loops else []
        self.last_run = None  # the Run of the last (or current) run_network, if any
        #: True while run_network is going on (set and cleared by the run, running.py)
        self.running = False

    @property
    def name(self) -> str:
        """The name given with ``network(..., name=...)``, else ``"network"``.

        A network that holds this one as a sub-network may call it by a name
        of its own, made unique there (``cleaner_2``): see ``outer.parts``.
        """
        return self.given_name if self.given_name is not None else "network"

    @property
    def is_piece(self) -> bool:
        """True for a sub-network: one built with ``inputs=`` or ``outputs=``."""
        return bool(self.inputs or self.outputs)

    def part_of(self, node: Node | str) -> str | None:
        """The name of the innermost sub-network that holds ``node`` here, or None."""
        return self._part_of.get(id(self.node(node)))

    def __getattr__(self, attr: str) -> Port:
        # Only called for attributes that do not exist, such as a port out of range.
        if attr.startswith(("out_", "in_")) and "ports" in self.__dict__:
            direction, _, index = attr.partition("_")
            if index.isdigit():
                have = [p for p in self.__dict__["ports"] if p.direction == direction]
                words = "inputs" if direction == "in" else "outputs"
                name = self.__dict__.get("given_name") or "network"
                if not have:
                    declare = "inputs=[...]" if direction == "in" else "outputs=[...]"
                    raise AttributeError(
                        f"sub-network '{name}' has no {words}, so there is no {attr}. Declare "
                        f"them when you build it: network(edges, {declare}, name={name!r}).")
                raise AttributeError(
                    f"sub-network '{name}' has {len(have)} {words if len(have) > 1 else words[:-1]} "
                    f"({have[0].name}{' to ' + have[-1].name if len(have) > 1 else ''}), so there "
                    f"is no {attr}. Ports are numbered from 0.")
        raise AttributeError(f"'Network' object has no attribute {attr!r}")

    # --- what the last run did (see running.py) -----------------------------
    @property
    def stats(self) -> dict[str, NodeStats]:
        """Per node name, the :class:`NodeStats` of the last run (zeros before any run)."""
        if self.last_run is None:
            return {name: NodeStats() for name in self._by_name}
        return self.last_run.stats

    @property
    def state(self) -> dict[str, str]:
        """Per node name: "waiting" (before any run), "busy", "done", "failed" or "stopped"."""
        if self.last_run is None:
            return {name: "waiting" for name in self._by_name}
        return self.last_run.state

    @property
    def edge_counts(self) -> dict[Edge, int]:
        """Per :class:`Edge`, the messages sent along it in the last run."""
        if self.last_run is None:
            return {e: 0 for e in self.edges}
        return self.last_run.edge_counts

    @property
    def edge_received(self) -> dict[Edge, int]:
        """Per :class:`Edge`, the messages its receiver took and handled in the last run.

        At the end of a run, ``edge_counts[e] == edge_received[e] + edge_discarded[e]``
        for every edge: each message sent was handled, or thrown away after a failure.
        """
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_received

    @property
    def edge_discarded(self) -> dict[Edge, int]:
        """Per :class:`Edge`, the messages that reached a receiver after it failed (thrown away)."""
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_discarded

    # --- faults (faults.py)
    @property
    def crashed(self) -> dict[str, int]:
        """Per node that a ``crash`` fault crashed in the last run: the messages it had handled."""
        return {} if self.last_run is None else self.last_run.crashed

    @property
    def edge_lost(self) -> dict[Edge, int]:
        """Per :class:`Edge`, the messages faults lost along it in the last run."""
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_lost

    @property
    def edge_duplicated(self) -> dict[Edge, int]:
        """Per :class:`Edge`, the extra copies ``duplicate`` faults delivered along it in the last run."""
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_duplicated
    # --- end of faults

    @property
    def failures(self) -> list[NodeFailure]:
        """The :class:`NodeFailure` of each node that failed in the last run."""
        return [] if self.last_run is None else self.last_run.failures

    @property
    def unpaired(self) -> dict[str, dict[str, list]]:
        """Per MergeSynch name, per input, the messages it could not pair in the last run."""
        return {} if self.last_run is None else self.last_run.unpaired

    # --- introspection -------------------------------------------------
    def name_of(self, node: Node) -> str:
        """This network's name for ``node`` (its own name, unless two of its nodes share one)."""
        try:
            return self._names[id(node)]
        except KeyError:
            raise KeyError(f"{short_repr(node)} is not a node of this network; its nodes are: "
                           f"{', '.join(self._by_name)}") from None

    def node(self, name: str | Node) -> Node:
        """The node called ``name`` (or, given a node of this network, that node)."""
        if isinstance(name, Node):
            return self._by_name[self.name_of(name)]
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(
                f"this network has no node named {name!r}; its nodes are: "
                f"{', '.join(self._by_name)}"
            ) from None

    @property
    def sources(self) -> list[Node]:
        """The Source nodes, in the order of ``g.nodes``."""
        return [n for n in self.nodes if n.kind == "source"]

    @property
    def sinks(self) -> list[Node]:
        """The Sink nodes, in the order of ``g.nodes``."""
        return [n for n in self.nodes if n.kind == "sink"]

    def upstream(self, node: Node | str) -> list[Node]:
        """The nodes that send to ``node``, in edge order."""
        return list(self._up[self.name_of(self.node(node))])

    def downstream(self, node: Node | str) -> list[Node]:
        """The nodes that ``node`` sends to, in edge order."""
        return list(self._down[self.name_of(self.node(node))])

    def in_edges(self, node: Node | str) -> list[Edge]:
        """The edges that reach ``node`` (a node or its name), in the order they were listed."""
        node = self.node(node)
        return [e for e in self.edges if e.dst is node]

    def out_edges(self, node: Node | str) -> list[Edge]:
        """The edges that leave ``node`` (a node or its name), in the order they were listed."""
        node = self.node(node)
        return [e for e in self.edges if e.src is node]

    def paths(self, limit: int = 10_000) -> list[tuple[Node, ...]]:
        """Every path from a source to a sink, as tuples of nodes, in a stable order.

        A path visits each node at most once: a loop on the way is not gone round.
        """
        found = []

        def walk(path):
            if len(found) >= limit:
                return
            last = path[-1]
            if last.kind == "sink":
                found.append(tuple(path))
                return
            for nxt in self._down[self.name_of(last)]:
                if nxt not in path:
                    walk(path + [nxt])

        for src in self.sources:
            walk([src])
        return found

    def path_names(self) -> list[str]:
        """Each path written out as ``"source → transform → sink"``."""
        return [" → ".join(self.name_of(n) for n in p) for p in self.paths()]

    def describe(self) -> str:
        """A text picture of the network: each node, its kind and where it sends."""
        lines = []
        for n in self.nodes:
            outs = ", ".join(
                (self.name_of(e.dst) if e.dst_port is None else f"{self.name_of(e.dst)}.in_{e.dst_port}")
                + ("" if e.src_port is None else f" (from out_{e.src_port})")
                for e in self.out_edges(n)
            )
            fn = "" if n.kind == "merge_synch" else f" fn={function_name(n.fn)}"
            if getattr(n, "period", None) is not None:  # a Timer (timers.py): how it ticks
                fn = f" ticks every {n.period:g} s" + "".join(
                    f", {k}={v:g}" for k, v in (("count", n.count), ("until", n.until))
                    if v is not None)
            if getattr(n, "timeout", None) is not None:
                fn += f" timeout={n.timeout:g} s"
            lines.append(f"{n.kind:<11} {self.name_of(n)}{fn}" + (f"  → {outs}" if outs else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        if self.is_piece:
            def ends(pairs):
                return ", ".join(self.name_of(n) + ("" if p is None else f".{d}_{p}")
                                 for (n, p), d in pairs) or "none"
            return (f"<sub-network '{self.name}': {len(self.nodes)} nodes, "
                    f"inputs: {ends((e, 'in') for e in self.inputs)}; "
                    f"outputs: {ends((e, 'out') for e in self.outputs)}>")
        return (
            f"<network: {len(self.nodes)} nodes, {len(self.edges)} edges: "
            f"{', '.join(e.label for e in self.edges[:6])}{', ...' if len(self.edges) > 6 else ''}>"
        )

    # --- running ------------------------------------------------------
    def _refuse_piece(self, what: str) -> None:
        if self.is_piece:
            raise TypeError(
                f"sub-network '{self.name}' cannot be run on its own: it is a piece, "
                f"with inputs and outputs that other nodes connect to. Wire it into a network "
                f"with a source and a sink, like g = network([(source, {self.name}), "
                f"({self.name}, sink)]), and call g.{what} on that.")

    def run_network(self, timeout: float | None = None, capacity: int | None = None, *,
                    seed: int | None = None, trace: bool = False, live: Any = None,
                    snapshot_at: int | Iterable[int] | None = None,
                    snapshot_every: float | None = None, resume: Any | None = None,
                    engine: str = "threads", place: dict[str, str] | None = None,
                    allow_unrecorded: bool = False, faults: Any = None,
                    schedule: Any = None) -> None:
        """Run every node in its own thread and wait until every path has finished.

        ``timeout``: seconds after which the network is stopped and
        :class:`NetworkTimeout` (a ``TimeoutError``) is raised.
        ``capacity``: how many messages may wait in front of one node before
        its senders pause (default 10,000), so a slow path cannot fill memory.
        It is exact, except where waiting could never end: along an edge that
        closes a loop (``g.feedback_edges``: a loop must not wait for itself).
        Each input of a MergeSynch has room of its own, and a message waits
        there until it is paired; if the paths into a MergeSynch deliver
        different numbers of messages (one filters), its full input could wait
        for ever: when every node waits, that input's bound is lifted and the
        run goes on, ending with a MergeSynchWarning for what was never paired.
        Raises :class:`NetworkError` after the run if any node failed.
        ``seed``: run one node step at a time in an order decided by the seed,
        so the run can be repeated exactly (see ``seeded.py``).
        ``trace``: record every event of the run for ``g.trace`` and ``g.timeline()``.
        ``live``: in Jupyter a live view of the results and the diagram is shown
        while it runs; ``live=False`` turns it off.
        Snapshots (``snapshots.py``, Chandy and Lamport's algorithm):
        ``snapshot_at=k`` (with ``seed``) takes one starting after scheduler step
        ``k`` (a list of steps takes several); ``snapshot_every=seconds`` takes
        them in a threaded or Ray run; they are in ``g.snapshots`` afterwards.
        ``resume=snap`` starts from a snapshot: its node states, and its messages
        in flight sent again. A snapshot that could not see or copy a node's
        state is refused, unless ``allow_unrecorded=True`` (that node then keeps
        the state it has now).
        ``engine``: "threads" (the default: every node in a thread of this
        process) or "ray" (every source and transform in a process of its own,
        on this machine or a Ray cluster; sinks stay here; see ``ray_engine.py``
        and ``pip install -e ".[ray]"``). On Ray a node in a process keeps its
        state there: a snapshot holds a copy, and ``resume=`` loads it into the
        node's process; only sinks and nodes placed "here" are restored in place.
        ``place`` (Ray only): where chosen nodes run, by name:
        ``place={"node name": "here"}`` runs that node in this process (the
        notebook's), for a function that cannot be pickled (it holds a lock or
        a connection) or a source reading something only this process has;
        ``"process"`` gives it a process of its own (a sink that computes or
        writes, say: it then no longer fills this process's lists). Its
        messages are pickled either way, so each receiver gets its own copy.
        Nodes placed here run one call at a time in the Ray engine's routing
        thread: keep them quick.
        ``faults``: crash nodes, lose, duplicate or delay messages on purpose (``faults.py``):
        ``faults=[crash("b", after=3), drop("a → b", p=0.2), delay("a → c", 1.5)]``. Under
        ``seed`` the seed decides them; a threaded run reports its own ``g.last_run.fault_seed``.
        Under ``seed`` time is virtual (``vclock.py``): sleeps, timers, ``timeout=`` and
        delays take no real time and happen at exact times (``g.last_run.clock``).
        ``schedule``: replay one schedule found by ``g.explore(exhaustive=True)``
        (``ex.counterexample``, or ``ex["sink"][0].schedule``) step by step, exactly
        (see ``exhaustive.py``); it cannot go with ``seed=`` or ``engine="ray"``,
        and ``capacity`` applies as in a seeded run.
        """
        # errors and Ctrl-C are shown without our frames; a with block adds no frame, so
        # warnings still name the student's line (errors.shown_without_our_frames)
        with shown_without_our_frames():
            self._refuse_piece("run_network()")
            from .runtime import run  # the runtime's one entry point: checks the options, runs

            run(self, timeout=timeout, capacity=capacity, seed=seed, trace=trace, live=live,
                snapshot_at=snapshot_at, snapshot_every=snapshot_every, resume=resume,
                engine=engine, place=place, allow_unrecorded=allow_unrecorded, faults=faults,
                schedule=schedule)

    # --- snapshots (snapshots.py)
    @property
    def snapshots(self) -> list[Any]:
        """The :class:`~dissyslab.Snapshot` objects taken during the last run, in order."""
        return [] if self.last_run is None else list(self.last_run.snapshots)

    def snapshot(self, timeout: float = 10) -> Any:
        """Take a snapshot of the run going on now (call it from another thread) and return it.

        Waits (at most ``timeout`` seconds) until every node has recorded its
        state and every edge its messages in flight.
        """
        from .snapshots import kept, warn_unrecordable

        run = self.last_run
        take = None if run is None else run.take_snapshot
        if not self.running or take is None:
            if self.running and run is not None and run.seed is not None:
                raise RuntimeError(
                    "This network is running under a seed: take its snapshots with "
                    "g.run_network(seed=N, snapshot_at=k), so they are the same every time.")
            raise RuntimeError(
                "g.snapshot() records a network while it runs, and this network is not running "
                "now. Call it from another thread while run_network goes on (for example with "
                "threading.Timer(0.1, g.snapshot).start() just before g.run_network()), or use "
                "g.run_network(snapshot_every=seconds).")
        import threading

        if threading.current_thread().name.startswith("dissyslab "):
            raise RuntimeError(
                "g.snapshot() was called from inside a node's function: that node would wait for "
                "itself to record its state, for ever. Call it from another thread (a "
                "threading.Timer, say), or use run_network(snapshot_every=seconds).")
        warn_unrecordable(self)
        return kept(take(), timeout)

    # --- pictures (diagram.py)
    def diagram(self, **options: Any) -> Any:
        """This network as a ``graphviz.Digraph``; options as in :func:`dissyslab.diagram.build`.

        ``g.diagram(snapshot=g.snapshots[0])`` shows what a snapshot recorded.
        """
        from .diagram import build

        return build(self, **options)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        """Jupyter shows the diagram (SVG), or text and Mermaid when Graphviz is missing."""
        from .diagram import mimebundle

        return mimebundle(self, include=include, exclude=exclude)

    # --- seeded runs and timeline (seeded.py, trace.py, timeline.py)
    @property
    def trace(self) -> Any:
        """The events of the last run, if it ran with ``trace=True``: a list of ``TraceRecord``.

        Each record has ``seq, time, node, event, message, edge, index, note``
        (see :mod:`dissyslab.trace`); ``pandas.DataFrame(g.trace)`` makes a table.
        """
        from .trace import last_trace

        return last_trace(self.last_run)

    def explore(self, runs: int | None = None, seeds: Iterable[int] | None = None,
                timeout: float | None = None, max_steps: int | None = None,
                faults: Any = None, *, exhaustive: bool = False, **options: Any) -> Any:
        """Run the network under many seeded schedules and list what each sink can receive.

        ``runs=K`` tries seeds 0 to K-1 (50 by default), or give ``seeds=[...]``;
        ``timeout`` is per run. Returns an :class:`~dissyslab.explore.Exploration`:
        per sink, the distinct outcomes, how many seeds gave each and a seed that
        reproduces it (``g.run_network(seed=...)``). Sink functions still run every
        time (a list they append to grows with each run); the outcomes are what
        the sinks received, recorded by the scheduler.
        ``faults``: as in ``run_network`` (``faults.py``), decided by each run's
        seed, so the seeds explore fault schedules too;
        ``g.run_network(seed=outcome.seed, faults=...)`` replays one.
        ``exhaustive=True`` explores every schedule instead, up to a bound
        (``exhaustive.py``; options ``check=``, ``reduce=``, ``build=``,
        ``max_schedules=``, ``capacity=``, ``progress=``), and returns an
        :class:`~dissyslab.exhaustive.ExhaustiveExploration`; with ``faults=``
        each ``drop`` or ``duplicate`` of chance ``p`` is a choice it tries both ways.
        """
        from .explore import explore

        self._refuse_piece("explore()")
        if exhaustive or options:  # exhaustive.py: every schedule, up to a bound
            from .exhaustive import explore_from_graph

            return explore_from_graph(self, exhaustive, runs, seeds, timeout, max_steps,
                                      dict(options, faults=faults))
        return explore(self, runs=runs, seeds=seeds, timeout=timeout, max_steps=max_steps,
                       faults=faults)

    # --- time and order (clocks.py, timeline.py) ------------------------------------------------
    def timeline(self, window: tuple[int, int] | None = None, max_events: int = 200, *,
                 focus: Any = None, clock: str = "wall", vectors: bool = False) -> Any:
        """A space-time diagram (SVG) of the last traced run: one lane per node, an arrow per message.

        ``window=(first_seq, last_seq)`` shows only those events; otherwise the
        first ``max_events`` are shown and the picture says what was left out.
        ``focus=e`` (a record of ``g.trace`` or its ``seq``) highlights what happened
        before and after ``e`` and greys what is concurrent with it;
        ``clock="lamport"`` places events by their Lamport clock instead of in
        the order they happened; ``vectors=True`` labels each event with its vector clock.
        """
        from .timeline import timeline

        return timeline(self, window=window, max_events=max_events, focus=focus, clock=clock,
                        vectors=vectors)

    def happened_before(self, a: Any, b: Any) -> bool:
        """True when event ``a`` of the last traced run happened before event ``b`` (records or seqs)."""
        from .clocks import clocks_of

        return clocks_of(self.trace).happened_before(a, b)

    def concurrent(self, a: Any, b: Any) -> bool:
        """True when neither of two events of the last traced run happened before the other."""
        from .clocks import clocks_of

        return clocks_of(self.trace).concurrent(a, b)

    def causal_past(self, e: Any) -> list:
        """The events of the last traced run that happened before ``e``, in trace order."""
        from .clocks import clocks_of

        return clocks_of(self.trace).causal_past(e)

    def causal_future(self, e: Any) -> list:
        """The events of the last traced run that ``e`` happened before, in trace order."""
        from .clocks import clocks_of

        return clocks_of(self.trace).causal_future(e)
