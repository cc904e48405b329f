"""Building and checking a network: ``network([(a, b), ...])`` and what you can ask of it."""

import sys
import warnings
from dataclasses import dataclass, field
from functools import partial

from .errors import DuplicateEdgeWarning, short_repr, shown_to_students
from .nodes import MergeSynch, Node, NodeStats, Port, Sink, Source, Split, function_name


@dataclass(frozen=True, eq=False)
class Edge:
    """One connection: messages leave ``src`` (at ``src_port`` of a Split) and reach ``dst``."""

    src: Node
    dst: Node
    src_port: int = None  # index of a Split output, else None
    dst_port: int = None  # index of a MergeSynch input, else None
    #: (sender's name, receiver's name) in the network the edge belongs to
    names: tuple = field(default=None, repr=False)

    @property
    def label(self):
        """``"a → b"``, with ports where there are any: ``"split.out_0 → m.in_1"``."""
        src, dst = self.names or (self.src.name, self.dst.name)
        left = src if self.src_port is None else f"{src}.out_{self.src_port}"
        right = dst if self.dst_port is None else f"{dst}.in_{self.dst_port}"
        return f"{left} → {right}"

    def __repr__(self):
        return f"Edge({self.label})"


@dataclass(frozen=True, eq=False)
class Part:
    """A sub-network placed inside a network, as that network sees it.

    ``name``: its name in the network (``"cleaner"``, or ``"pipeline/cleaner"``
    for one nested inside another); ``network``: the sub-network itself;
    ``nodes``: every node inside it, nested ones included; ``parent``: the
    name of the part it is nested in, or None.
    """

    name: str
    network: "Network" = field(repr=False)
    nodes: tuple = field(repr=False)
    parent: str = None


class Network:
    """A checked set of nodes and edges, ready to run. Make one with :func:`network`.

    Built with ``inputs=`` or ``outputs=`` it is a *sub-network*: a piece to
    wire into a larger network like a node (see :func:`network`), not run alone.
    """

    def __init__(self, nodes, edges, names=None, *, parts=(), inputs=(), outputs=(), name=None):
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
        self.feedback_edges = _feedback_edges(self.nodes, self.edges) if self.loops else []
        self.last_run = None  # the Run of the last (or current) run_network, if any
        self._running = False

    @property
    def name(self):
        """The name given with ``network(..., name=...)``, else ``"network"``.

        A network that holds this one as a sub-network may call it by a name
        of its own, made unique there (``cleaner_2``): see ``outer.parts``.
        """
        return self.given_name if self.given_name is not None else "network"

    @property
    def is_piece(self):
        """True for a sub-network: one built with ``inputs=`` or ``outputs=``."""
        return bool(self.inputs or self.outputs)

    def part_of(self, node):
        """The name of the innermost sub-network that holds ``node`` here, or None."""
        return self._part_of.get(id(self.node(node)))

    def __getattr__(self, attr):
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
    def stats(self):
        """Per node name, the :class:`NodeStats` of the last run (zeros before any run)."""
        if self.last_run is None:
            return {name: NodeStats() for name in self._by_name}
        return self.last_run.stats

    @property
    def state(self):
        """Per node name: "waiting" (before any run), "busy", "done", "failed" or "stopped"."""
        if self.last_run is None:
            return {name: "waiting" for name in self._by_name}
        return self.last_run.state

    @property
    def edge_counts(self):
        """Per :class:`Edge`, the messages sent along it in the last run."""
        if self.last_run is None:
            return {e: 0 for e in self.edges}
        return self.last_run.edge_counts

    @property
    def edge_received(self):
        """Per :class:`Edge`, the messages its receiver took and handled in the last run.

        At the end of a run, ``edge_counts[e] == edge_received[e] + edge_discarded[e]``
        for every edge: each message sent was handled, or thrown away after a failure.
        """
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_received

    @property
    def edge_discarded(self):
        """Per :class:`Edge`, the messages that reached a receiver after it failed (thrown away)."""
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_discarded

    # --- faults (faults.py)
    @property
    def crashed(self):
        """Per node that a ``crash`` fault crashed in the last run: the messages it had handled."""
        return {} if self.last_run is None else self.last_run.crashed

    @property
    def edge_lost(self):
        """Per :class:`Edge`, the messages faults lost along it in the last run."""
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_lost

    @property
    def edge_duplicated(self):
        """Per :class:`Edge`, the extra copies ``duplicate`` faults delivered along it in the last run."""
        return {e: 0 for e in self.edges} if self.last_run is None else self.last_run.edge_duplicated
    # --- end of faults

    @property
    def failures(self):
        """The :class:`NodeFailure` of each node that failed in the last run."""
        return [] if self.last_run is None else self.last_run.failures

    @property
    def unpaired(self):
        """Per MergeSynch name, per input, the messages it could not pair in the last run."""
        return {} if self.last_run is None else self.last_run.unpaired

    # --- introspection -------------------------------------------------
    def name_of(self, node):
        """This network's name for ``node`` (its own name, unless two of its nodes share one)."""
        try:
            return self._names[id(node)]
        except KeyError:
            raise KeyError(f"{short_repr(node)} is not a node of this network; its nodes are: "
                           f"{', '.join(self._by_name)}") from None

    def node(self, name):
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
    def sources(self):
        return [n for n in self.nodes if n.kind == "source"]

    @property
    def sinks(self):
        return [n for n in self.nodes if n.kind == "sink"]

    def upstream(self, node):
        """The nodes that send to ``node``, in edge order."""
        return list(self._up[self.name_of(self.node(node))])

    def downstream(self, node):
        """The nodes that ``node`` sends to, in edge order."""
        return list(self._down[self.name_of(self.node(node))])

    def in_edges(self, node):
        node = self.node(node)
        return [e for e in self.edges if e.dst is node]

    def out_edges(self, node):
        node = self.node(node)
        return [e for e in self.edges if e.src is node]

    def paths(self, limit=10_000):
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

    def path_names(self):
        """Each path written out as ``"source → transform → sink"``."""
        return [" → ".join(self.name_of(n) for n in p) for p in self.paths()]

    def describe(self):
        """A text picture of the network: each node, its kind and where it sends."""
        lines = []
        for n in self.nodes:
            outs = ", ".join(
                (self.name_of(e.dst) if e.dst_port is None else f"{self.name_of(e.dst)}.in_{e.dst_port}")
                + ("" if e.src_port is None else f" (from out_{e.src_port})")
                for e in self.out_edges(n)
            )
            fn = "" if n.kind == "merge_synch" else f" fn={function_name(n.fn)}"
            lines.append(f"{n.kind:<11} {self.name_of(n)}{fn}" + (f"  → {outs}" if outs else ""))
        return "\n".join(lines)

    def __repr__(self):
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
    def _refuse_piece(self, what):
        if self.is_piece:
            raise TypeError(
                f"sub-network '{self.name}' cannot be run on its own: it is a piece, "
                f"with inputs and outputs that other nodes connect to. Wire it into a network "
                f"with a source and a sink, like g = network([(source, {self.name}), "
                f"({self.name}, sink)]), and call g.{what} on that.")

    def run_network(self, timeout=None, capacity=None, *, seed=None, trace=False, live=None,
                    snapshot_at=None, snapshot_every=None, resume=None, engine="threads",
                    place=None, allow_unrecorded=False, faults=None):
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
        them in a threaded run; they are in ``g.snapshots`` afterwards.
        ``resume=snap`` starts from a snapshot: its node states, and its messages
        in flight sent again. A snapshot that could not see or copy a node's
        state is refused, unless ``allow_unrecorded=True`` (that node then keeps
        the state it has now).
        ``engine``: "threads" (the default: every node in a thread of this
        process) or "ray" (every source and transform in a process of its own,
        on this machine or a Ray cluster; sinks stay here; see ``ray_engine.py``
        and ``pip install -e ".[ray]"``). Ray runs take no snapshots.
        ``place`` (Ray only): where chosen nodes run, by name:
        ``place={"node name": "here"}`` runs that node in this process (the
        notebook's), for a function that cannot be pickled (it holds a lock or
        a connection) or a source reading something only this process has;
        ``"process"`` gives it a process of its own (a sink that computes or
        writes, say: it then no longer fills this process's lists). Its
        messages are pickled either way, so each receiver gets its own copy.
        Nodes placed here run one call at a time in the Ray engine's routing
        thread: keep them quick.
        ``faults``: crash nodes, lose or duplicate messages on purpose (``faults.py``):
        ``faults=[crash("b", after=3), drop("a → b", p=0.2)]``.
        """
        self._refuse_piece("run_network()")
        if engine not in ("threads", "ray"):
            raise ValueError(f"engine must be \"threads\" (the default) or \"ray\", but got "
                             f"{engine!r}.")
        from .snapshots import check_snapshot_arguments, check_use

        steps = check_snapshot_arguments(seed, snapshot_at, snapshot_every, resume)
        if place is not None and engine != "ray":
            raise ValueError("place= says where nodes run on Ray (engine=\"ray\"): with "
                             f"engine={engine!r} every node runs in a thread of this process, so "
                             "there is nothing to place. Add engine=\"ray\", or leave place= out.")
        if engine == "ray":  # ray_engine.py: nodes in processes (Ray actors); Ray imported there
            if seed is not None:
                raise ValueError("A seeded run (seed=...) runs every node one step at a time in "
                                 "this process, so it cannot use engine=\"ray\": leave out one "
                                 "of the two.")
            if snapshot_every is not None or resume is not None:
                raise ValueError("Snapshots (snapshot_every=, resume=) are taken in this process's "
                                 "runs only: use engine=\"threads\" (the default) or a seed for them.")
            from .ray_engine import run

            run = partial(run, place=place)
        elif seed is None:  # threads.py: every node in its own thread
            from .threads import run

            run = partial(run, snapshot_every=snapshot_every, resume=resume)
        else:  # seeded.py: one node at a time, in an order decided by the seed
            from .seeded import check_seed, run_seeded

            run = partial(run_seeded, seed=check_seed(seed), snapshot_at=steps, resume=resume)
        check_use(self, taking=bool(steps) or snapshot_every is not None, resume=resume,
                  allow_unrecorded=allow_unrecorded)
        # --- faults (faults.py): checked before the run, decided by the seed
        if faults is not None:
            from .faults import Plan, check_faults

            if engine == "ray":
                raise ValueError("faults= works in this process's runs only: use engine=\"threads\" "
                                 "(the default) or a seed for a run with faults.")
            run = partial(run, faults=Plan(check_faults(self, faults), seed))
        # --- end of faults
        observers = []
        if trace:  # trace.py: record every event of the run for g.trace and g.timeline()
            from .trace import Tracer
            observers.append(Tracer())
        # live= (live.py): the live view's observer
        if live is not False and (live is not None or "ipykernel" in sys.modules):
            from .live import live_view  # only here: plain Python never loads Jupyter code

            view = live_view(self, live)
            if view is not None:
                observers.append(view)
        run(self, timeout=timeout, capacity=capacity, observers=observers)
        return None

    # --- snapshots (snapshots.py)
    @property
    def snapshots(self):
        """The :class:`~dissyslab.Snapshot` objects taken during the last run, in order."""
        return [] if self.last_run is None else list(self.last_run.snapshots)

    def snapshot(self, timeout=10):
        """Take a snapshot of the run going on now (call it from another thread) and return it.

        Waits (at most ``timeout`` seconds) until every node has recorded its
        state and every edge its messages in flight.
        """
        from .snapshots import kept, warn_unrecordable

        run = self.last_run
        take = None if run is None else run.take_snapshot
        if not self._running or take is None:
            if self._running and run is not None and run.seed is not None:
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
    def diagram(self, **options):
        """This network as a ``graphviz.Digraph``; options as in :func:`dissyslab.diagram.build`.

        ``g.diagram(snapshot=g.snapshots[0])`` shows what a snapshot recorded.
        """
        from .diagram import build

        return build(self, **options)

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Jupyter shows the diagram (SVG), or text and Mermaid when Graphviz is missing."""
        from .diagram import mimebundle

        return mimebundle(self, include=include, exclude=exclude)

    # --- seeded runs and timeline (seeded.py, trace.py, timeline.py)
    @property
    def trace(self):
        """The events of the last run, if it ran with ``trace=True``: a list of ``TraceRecord``.

        Each record has ``seq, time, node, event, message, edge, index, note``
        (see :mod:`dissyslab.trace`); ``pandas.DataFrame(g.trace)`` makes a table.
        """
        from .trace import last_trace

        return last_trace(self.last_run)

    def explore(self, runs=None, seeds=None, timeout=None, max_steps=None):
        """Run the network under many seeded schedules and list what each sink can receive.

        ``runs=K`` tries seeds 0 to K-1 (50 by default), or give ``seeds=[...]``;
        ``timeout`` is per run. Returns an :class:`~dissyslab.explore.Exploration`:
        per sink, the distinct outcomes, how many seeds gave each and a seed that
        reproduces it (``g.run_network(seed=...)``). Sink functions still run every
        time (a list they append to grows with each run); the outcomes are what
        the sinks received, recorded by the scheduler.
        """
        from .explore import explore

        self._refuse_piece("explore()")
        return explore(self, runs=runs, seeds=seeds, timeout=timeout, max_steps=max_steps)

    # --- time and order (clocks.py, timeline.py): one block, kept together ---------------------
    def timeline(self, window=None, max_events=200, *, focus=None, clock="wall", vectors=False):
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

    def happened_before(self, a, b):
        """True when event ``a`` of the last traced run happened before event ``b`` (records or seqs)."""
        from .clocks import clocks_of

        return clocks_of(self.trace).happened_before(a, b)

    def concurrent(self, a, b):
        """True when neither of two events of the last traced run happened before the other."""
        from .clocks import clocks_of

        return clocks_of(self.trace).concurrent(a, b)

    def causal_past(self, e):
        """The events of the last traced run that happened before ``e``, in trace order."""
        from .clocks import clocks_of

        return clocks_of(self.trace).causal_past(e)

    def causal_future(self, e):
        """The events of the last traced run that ``e`` happened before, in trace order."""
        from .clocks import clocks_of

        return clocks_of(self.trace).causal_future(e)
    # --- end of the time-and-order block ---------------------------------------------------------


@shown_to_students
def network(edges, inputs=None, outputs=None, name=None):
    """Check a list of ``(sender, receiver)`` pairs and build a runnable :class:`Network`.

    Given ``inputs=[...]`` or ``outputs=[...]`` it builds a *sub-network*: a
    piece that is wired into a larger network like a node. ``inputs`` lists
    the nodes that receive from outside (or ports such as ``merge.in_1``),
    ``outputs`` the nodes that send outside (or ports such as ``split.out_0``).
    A piece with one input and one output is wired like a Transform,
    ``(source, piece), (piece, sink)``; with more, through its ports
    ``piece.in_0``, ``piece.out_1``. ``name`` names the piece: its nodes are
    then called ``name/node`` in the larger network (``cleaner/strip``). The
    larger network is built flat, as if its pieces' edges had been listed in
    it, so it runs exactly as that flat network would.
    """
    if isinstance(edges, (str, bytes, dict)) or not hasattr(edges, "__iter__"):
        raise TypeError(
            "network(...) needs a list of edges, each a pair (sender, receiver), "
            "like network([(source, transform), (transform, sink)])."
        )
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise TypeError(f"network(..., name=...) must be a non-empty string such as "
                        f"name='cleaner', but got {_show(name)}.")
    edges = list(edges)
    for kind, declared in (("inputs", inputs), ("outputs", outputs)):
        if declared is not None and not isinstance(declared, (list, tuple)):
            raise TypeError(f"network(..., {kind}=...) must be a list, like {kind}=[node], "
                            f"but got {_show(declared)}.")
    if not edges and not (inputs or outputs):
        raise ValueError(
            "network([]) has no edges. Give at least one pair (sender, receiver), "
            "like network([(source, sink)])."
        )
    declared = [*(inputs or []), *(outputs or [])]
    ends, pieces, owner, used = _flatten(edges, declared)
    nodes = _collect_nodes(ends, pieces, declared, owner)
    names = _name_nodes([n for n in nodes if owner[id(n)] is None])
    parts = _name_parts(pieces, names)
    checked, seen = [], {}
    for src, src_port, dst, dst_port, i in ends:
        edge = Edge(src, dst, src_port, dst_port, (names[id(src)], names[id(dst)]))
        key = (id(src), src_port, id(dst), dst_port)
        if key in seen and i is not None:  # a piece's own duplicates were reported when it was built
            warnings.warn(
                f"The edge {edge.label} is listed twice ({_ordinal(seen[key] + 1)} and "
                f"{_ordinal(i + 1)} edges), so '{edge.names[1]}' will receive every message "
                f"from '{edge.names[0]}' twice. If that is not what you want, delete one of them.",
                DuplicateEdgeWarning,
                stacklevel=3,  # the caller of network(), past shown_to_students
            )
        elif key not in seen and i is not None:
            seen[key] = i
        checked.append(edge)
    ins = [_declared(i, item, "inputs", owner, names) for i, item in enumerate(inputs or [])]
    outs = [_declared(i, item, "outputs", owner, names) for i, item in enumerate(outputs or [])]
    for end in ins + outs:
        if end.piece is not None:
            used.add((id(end.piece), end.role, end.piece_port))
    _check_unique_ends(ins, "inputs", names)
    _check_unique_ends(outs, "outputs", names)
    piece = bool(ins or outs)
    try:
        _check_piece_ports(pieces, used, {id(p): part.name for p, part in zip(
            pieces, [q for q in parts if q.parent is None], strict=True)})
        _check_ports_and_ends(nodes, checked, names, ins, outs, piece)
        _check_loops(nodes, checked, names, ins, outs)
    except ValueError as err:
        if not piece and name is None:
            raise
        where = f"sub-network '{name or 'network'}'" if piece else f"network '{name}'"
        raise ValueError(f"In {where}: {err}") from None
    for n in nodes:
        if owner[id(n)] is None and n._name is None:
            n._name = names[id(n)]  # a derived name is fixed once, by the first network built
    return Network(nodes, checked, names, parts=parts, name=name,
                   inputs=[(e.node, e.port) for e in ins], outputs=[(e.node, e.port) for e in outs])


def _flatten(edges, declared):
    """The edges given, with every sub-network's own edges written in: (ends, pieces, owner, used).

    ``ends``: (src, src_port, dst, dst_port, position in the list given, or None
    for a piece's own edge); a piece's edges come in where it is first used
    (before the edge it sends along, after the edge it receives from).
    ``pieces``: the sub-networks used, in that order; ``owner``: per node id,
    the piece it belongs to (None: this network's own); ``used``: the piece
    ports connected, as (id(piece), "in"/"out", index).
    """
    ends, pieces, owner, used = [], [], {}, set()

    def take(piece):
        pieces.append(piece)
        for n in piece.nodes:
            _claim(owner, n, piece)
        return [(e.src, e.src_port, e.dst, e.dst_port, None) for e in piece.edges]

    for i, pair in enumerate(edges):
        s, d = _check_edge(i, pair)
        around = {"out": [], "in": []}
        for end in (s, d):
            if end.piece is None:
                _claim(owner, end.node, None)
                continue
            used.add((id(end.piece), end.role, end.piece_port))
            if not any(end.piece is p for p in pieces):
                around[end.role] += take(end.piece)
        ends += around["out"] + [(s.node, s.port, d.node, d.port, i)] + around["in"]
    for item in declared:  # a piece declared as an input or output, with no edge here
        held = item.node if isinstance(item, Port) else item
        if isinstance(held, Network) and held.is_piece and not any(held is p for p in pieces):
            ends += take(held)
    return ends, pieces, owner, used


def _collect_nodes(ends, pieces, declared, owner):
    """Every node, in the order the flat edges first mention it, then lone nodes of pieces
    and declared nodes that no edge mentions (a piece made of one node)."""
    nodes, seen = [], set()
    lone = [n for p in pieces for n in p.nodes]
    lone += [item.node if isinstance(item, Port) else item for item in declared]
    for n in [n for src, _, dst, _, _ in ends for n in (src, dst)] + lone:
        if isinstance(n, Node) and id(n) not in seen:
            seen.add(id(n))
            owner.setdefault(id(n), None)
            nodes.append(n)
    return nodes


@dataclass(frozen=True)
class _End:
    """One end of an edge once resolved: a node (and port), and the sub-network it was reached by."""

    node: Node
    port: int = None
    piece: "Network" = None  # the sub-network written in the edge, if any
    piece_port: int = None  # which of its inputs or outputs
    role: str = None  # "in" or "out"


def _claim(owner, node, piece):
    """Note which sub-network (None: none) ``node`` belongs to here; a node has one place."""
    before = owner.setdefault(id(node), piece)
    if before is piece:
        return
    if before is None or piece is None:
        inside = before or piece
        raise ValueError(
            f"{node.kind} '{node.name}' is inside sub-network '{inside.name}' "
            f"(as {inside.name}/{inside.name_of(node)}), and this network also uses it directly "
            f"in its edges. A node has one place: connect to the sub-network instead, through "
            f"its inputs and outputs (declare more of them if you need to), or use a node of "
            f"its own here.")
    for outer, inner in ((before, piece), (piece, before)):
        if any(part.network is inner for part in outer.parts):
            raise ValueError(
                f"sub-network '{inner.name}' is already inside sub-network '{outer.name}', and "
                f"this network uses both. A piece has one place: connect to '{outer.name}' only, "
                f"or build a second '{inner.name}' (call the function that builds it again).")
    raise ValueError(
        f"{node.kind} '{node.name}' is inside two sub-networks, '{before.name}' and "
        f"'{piece.name}', and this network uses both. A node has one place: build each piece "
        f"from nodes of its own, e.g. by calling the function that makes the piece once for "
        f"each piece.")


def _name_parts(pieces, names):
    """Name each sub-network uniquely here (``cleaner``, ``cleaner_2``) and its nodes ``cleaner/strip``.

    Adds the inner nodes' names to ``names``; returns the :class:`Part` list,
    each piece followed by the parts nested in it.
    """
    taken, parts = set(names.values()), []
    for p in pieces:
        base = p.name
        pname, k = base, 2
        while pname in taken or any(t.startswith(pname + "/") for t in taken):
            pname, k = f"{base}_{k}", k + 1
        taken.add(pname)
        for n in p.nodes:
            names[id(n)] = f"{pname}/{p.name_of(n)}"
            taken.add(names[id(n)])
        parts.append(Part(pname, p, tuple(p.nodes), None))
        parts += [Part(f"{pname}/{q.name}", q.network, q.nodes,
                       pname if q.parent is None else f"{pname}/{q.parent}") for q in p.parts]
    return parts


def _check_edge(i, pair):
    """Return the two resolved ends (:class:`_End`) of one edge, or raise a clear error."""
    where = f"The {_ordinal(i + 1)} edge in the list"
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(
            f"{where} is {_show(pair)}, but each edge must be a pair (sender, receiver), "
            f"like (source, uppercase)."
        )
    s = _endpoint(where, pair[0], "sender")
    d = _endpoint(where, pair[1], "receiver")
    src, src_port, dst, dst_port = s.node, s.port, d.node, d.port
    label = f"({_show(pair[0])}, {_show(pair[1])})"
    if isinstance(src, Sink):
        raise ValueError(
            f"{where} {label} uses sink '{src.name}' as a sender, but a Sink only receives "
            f"messages. Use a Transform if it should pass messages on."
        )
    if isinstance(dst, Source):
        raise ValueError(
            f"{where} {label} sends to source '{dst.name}', but a Source only sends: it has "
            f"no input. Use a Transform if it should receive messages."
        )
    if isinstance(src, Split) and src_port is None:
        raise ValueError(
            f"{where} {label}: split '{src.name}' has {src.num_outputs} outputs, so say which "
            f"one sends: ({src.name}.out_0, {_show(pair[1])}) ... "
            f"({src.name}.out_{src.num_outputs - 1}, ...)."
        )
    if isinstance(dst, MergeSynch) and dst_port is None:
        raise ValueError(
            f"{where} {label}: merge '{dst.name}' has {dst.num_inputs} inputs, so say which "
            f"one receives: ({_show(pair[0])}, {dst.name}.in_0) ... "
            f"(..., {dst.name}.in_{dst.num_inputs - 1})."
        )
    return s, d


def _endpoint(where, end, role):
    wanted = "out" if role == "sender" else "in"
    if isinstance(end, Port):
        if end.direction != wanted:
            node = end.node
            if isinstance(node, Network):
                fix = f"({node.name}.out_0, ...)" if role == "sender" else f"(..., {node.name}.in_0)"
                kind = "sub-network"
            else:
                fix = (f"({node.name}.out_0, ...)" if role == "sender" and isinstance(node, Split)
                       else f"(..., {node.name}.in_0)" if isinstance(node, MergeSynch)
                       else f"({node.name}, ...)")
                kind = type(node).__name__
            raise ValueError(
                f"{where} uses {end!r} as the {role}, but {end!r} is an "
                f"{'output' if end.direction == 'out' else 'input'} port of "
                f"{kind} '{node.name}'. Write it as {fix}."
            )
        if isinstance(end.node, Network):
            return _piece_end(end.node, end.index, wanted)
        return _End(end.node, end.index)
    if isinstance(end, Network):
        return _piece_end(end, _only_port(where, end, role), wanted)
    if isinstance(end, Node):
        return _End(end, None)
    if callable(end):
        name = getattr(end, "__name__", type(end).__name__)
        raise TypeError(
            f"{where}: the {role} is the function {name}, not a node. Wrap it first, "
            f"e.g. {name}_node = Transform(fn={name}), and use {name}_node in the edge."
        )
    raise TypeError(
        f"{where}: the {role} is {_show(end)}, a {type(end).__name__}, not a node. "
        f"Edges connect Source, Transform, Sink, Split and MergeSynch objects, or sub-networks "
        f"(use the node object, not its name)."
    )


def _only_port(where, piece, role):
    """The port to use when a sub-network is written in an edge without one: its only one."""
    name = piece.name
    if not piece.is_piece:
        what = f"network '{name}'" if piece.given_name is not None else "a network"
        raise ValueError(
            f"{where}: the {role} is {what}, which declares no inputs or outputs, so "
            f"nothing can connect to it. To use a network as a piece of another, say where "
            f"messages come in and go out: network(edges, inputs=[first_node], "
            f"outputs=[last_node], name={piece.given_name or 'piece'!r}).")
    have = piece.outputs if role == "sender" else piece.inputs
    words = "outputs" if role == "sender" else "inputs"
    if not have:
        raise ValueError(
            f"{where}: sub-network '{name}' is the {role}, but it has no {words}"
            + (", so nothing in it sends outside. " if role == "sender" else
               ", so nothing in it receives from outside. ")
            + f"Declare one when you build it: network(edges, {words}=[node], name={name!r}).")
    if len(have) > 1:
        d = "out" if role == "sender" else "in"
        example = (f"({name}.out_0, some_node)" if role == "sender"
                   else f"(some_node, {name}.in_0)")
        raise ValueError(
            f"{where}: sub-network '{name}' has {len(have)} {words}, so say which one "
            f"{'sends' if role == 'sender' else 'receives'}: {example}, ... up to "
            f"{name}.{d}_{len(have) - 1}.")
    return 0


def _piece_end(piece, index, direction):
    node, port = (piece.inputs if direction == "in" else piece.outputs)[index]
    return _End(node, port, piece, index, direction)


def _declared(i, item, kind, owner, names):
    """One item of ``inputs=[...]`` or ``outputs=[...]``, resolved to an :class:`_End`."""
    where = f"network(..., {kind}=[...]): the {_ordinal(i + 1)} item, {_show(item)},"
    direction = "in" if kind == "inputs" else "out"
    if isinstance(item, Port):
        if item.direction != direction:
            raise ValueError(
                f"{where} is an {'output' if item.direction == 'out' else 'input'} port, but "
                f"{kind} lists where messages {'come in' if kind == 'inputs' else 'go out'}: "
                + ("use an input port such as merge.in_0." if kind == "inputs"
                   else "use an output port such as split.out_0."))
        target = item.node
    elif isinstance(item, (Node, Network)):
        target = item
    else:
        raise TypeError(f"{where} is not a node. List the nodes (the objects, not their names) "
                        f"that {'receive from' if kind == 'inputs' else 'send to'} outside.")
    if isinstance(target, Network):
        index = item.index if isinstance(item, Port) else _only_port(where, target, (
            "receiver" if kind == "inputs" else "sender"))
        return _piece_end(target, index, direction)
    if id(target) not in owner:
        raise ValueError(f"{where} is not in this network's edges. List a node that is part "
                         f"of it, or add the edges that connect it.")
    inside = owner[id(target)]
    if inside is not None:
        raise ValueError(
            f"{where} is inside sub-network '{inside.name}'. Declare the sub-network itself "
            f"(or one of its ports, like {inside.name}.{direction}_0) instead.")
    name = names[id(target)]
    if kind == "inputs" and isinstance(target, Source):
        raise ValueError(
            f"{where} is source '{name}', but a Source only sends: it cannot receive from "
            f"outside. Declare the node the messages should reach first, or leave the source "
            f"out of the sub-network and connect it in the larger one.")
    if kind == "outputs" and isinstance(target, Sink):
        raise ValueError(
            f"{where} is sink '{name}', but a Sink sends nothing on. Declare the node whose "
            f"results should leave the sub-network, or leave the sink out of it.")
    port = item.index if isinstance(item, Port) else None
    if port is None and kind == "inputs" and isinstance(target, MergeSynch):
        raise ValueError(f"{where} is merge '{name}', which has {target.num_inputs} inputs: say "
                         f"which one receives from outside, like {name}.in_0.")
    if port is None and kind == "outputs" and isinstance(target, Split):
        raise ValueError(f"{where} is split '{name}', which has {target.num_outputs} outputs: say "
                         f"which one sends outside, like {name}.out_0.")
    return _End(target, port)


def _check_unique_ends(declared, kind, names):
    seen = set()
    for e in declared:
        key = (id(e.node), e.port)
        if key in seen:
            port = "" if e.port is None else f".{'in' if kind == 'inputs' else 'out'}_{e.port}"
            where = names[id(e.node)] + port
            raise ValueError(f"network(..., {kind}=[...]) lists {where} twice. List each "
                             f"{kind[:-1]} once.")
        seen.add(key)


def _check_piece_ports(pieces, used, piece_names):
    """Every input and output of a sub-network used here must be connected (like a Split's)."""
    for p in pieces:
        name = piece_names[id(p)]
        for direction, have in (("in", p.inputs), ("out", p.outputs)):
            missing = [f"{direction}_{i}" for i in range(len(have)) if (id(p), direction, i) not in used]
            if not missing:
                continue
            node, port = have[int(missing[0].split("_")[1])]
            inner = f"{name}/{p.name_of(node)}" + ("" if port is None else f".{direction}_{port}")
            words = "inputs" if direction == "in" else "outputs"
            example = (f"(some_node, {name}.{missing[0]})" if direction == "in"
                       else f"({name}.{missing[0]}, some_node)")
            why = ("so the nodes behind it would never receive a message" if direction == "in"
                   else "so the messages sent there would be lost")
            raise ValueError(
                f"sub-network '{name}' has {len(have)} {words if len(have) > 1 else words[:-1]} "
                f"but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not connected "
                f"({missing[0]} {'leads to' if direction == 'in' else 'comes from'} {inner}), "
                f"{why}. Connect {'it' if len(missing) == 1 else 'them'}, e.g. {example}.")


def _name_nodes(nodes):
    """This network's name for each node (by ``id``), checking that given names are unique.

    A node's own name never changes once it is set: a given name, or a name
    derived from its function, made unique (``double``, ``double_2``) by the
    first network built with the node (``network()`` fixes it at the end, once
    every check has passed). Should two nodes of this network still have the
    same name (each was named in a network of its own), the network calls the
    later one by a name of its own, kept here and never written to the node.
    """
    given = {}
    for n in nodes:
        if n.given_name is None:
            continue
        other = given.get(n.given_name)
        if other is not None:
            raise ValueError(
                f"Two different nodes are both named {n.given_name!r} (a {other.kind} and a "
                f"{n.kind}). Names tell nodes apart in errors and diagrams: give each its own."
            )
        given[n.given_name] = n
    names = {id(n): n.given_name for n in given.values()}
    taken = set(given)
    settled = [n for n in nodes if n.given_name is None and n._name is not None]
    for n in settled + [n for n in nodes if n._name is None]:
        base = n.name
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        names[id(n)] = name
        taken.add(name)
    return names


def _check_ports_and_ends(nodes, edges, names, ins=(), outs=(), piece=False):
    """Every node receives and sends; every port of a Split or MergeSynch is connected.

    ``ins``, ``outs``: a sub-network's declared inputs and outputs, which count
    as connected (the larger network connects them).
    """
    has_in = {id(e.dst) for e in edges} | {id(e.node) for e in ins}
    has_out = {id(e.src) for e in edges} | {id(e.node) for e in outs}
    no_sources = not piece and not any(n.kind == "source" for n in nodes)
    no_sinks = not piece and not any(n.kind == "sink" for n in nodes)
    no_in = [n for n in nodes if n.kind != "source" and id(n) not in has_in]
    no_out = [n for n in nodes if n.kind != "sink" and id(n) not in has_out]
    for n in nodes:
        name = names[id(n)]
        if n.kind != "source" and id(n) not in has_in:
            raise ValueError(
                f"{n.kind} '{name}' has no incoming edge, so it would never receive a "
                f"message. Add an edge (some_node, {name}), or leave it out."
                + (f" If this network is a piece to use inside another one, say where messages "
                   f"come in: network(edges, inputs=[{name}], outputs=[...], name='...')."
                   if no_sources else
                   " If it receives from outside this sub-network, list it in inputs=[...]."
                   if piece else _typo_hint(n, no_out, edges, names, n_has_no_input=True))
            )
        if n.kind != "sink" and id(n) not in has_out:
            raise ValueError(
                f"{n.kind} '{name}' sends to nothing, so its messages would be lost. "
                f"Add an edge ({name}, some_node) — a Sink collects results."
                + (f" If this network is a piece to use inside another one, say where messages "
                   f"go out: network(edges, inputs=[...], outputs=[{name}], name='...')."
                   if no_sinks else
                   " If it sends outside this sub-network, list it in outputs=[...]."
                   if piece else _typo_hint(n, no_in, edges, names, n_has_no_input=False))
            )
        if isinstance(n, Split):
            used = {e.src_port for e in edges if e.src is n} | {e.port for e in outs if e.node is n}
            missing = [f"out_{i}" for i in range(n.num_outputs) if i not in used]
            if missing:
                raise ValueError(
                    f"split '{name}' has {n.num_outputs} outputs but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not connected, so messages sent "
                    f"there would be lost. Connect {'it' if len(missing) == 1 else 'them'}, e.g. "
                    f"({name}.{missing[0]}, some_node), or use fewer num_outputs."
                )
        if isinstance(n, MergeSynch):
            used = {e.dst_port for e in edges if e.dst is n} | {e.port for e in ins if e.node is n}
            missing = [f"in_{i}" for i in range(n.num_inputs) if i not in used]
            if missing:
                raise ValueError(
                    f"merge '{name}' has {n.num_inputs} inputs but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not connected, so it could never "
                    f"make a complete list. Connect {'it' if len(missing) == 1 else 'them'}, e.g. "
                    f"(some_node, {name}.{missing[0]}), or use fewer num_inputs."
                )


def _typo_hint(n, others, edges, names, *, n_has_no_input):
    """When one node has no input and another sends to nothing, an edge probably names the
    wrong node: say so, and show the edge that was probably meant (``""`` if there is none).
    """
    others = [o for o in others if o is not n]
    if not others:
        return ""
    other = others[0]
    fed, stuck = (other, n) if n_has_no_input else (n, other)  # stuck: no input; fed: no output
    also = (f"{other.kind} '{names[id(other)]}' sends to nothing" if n_has_no_input
            else f"{other.kind} '{names[id(other)]}' has no incoming edge")
    hint = f" Also, {also}: perhaps one edge names the wrong node."
    for e in edges:  # stuck sends somewhere: (stuck, x) may have been meant as (fed, x)
        if e.src is stuck:
            wrote = _with_ports(names[id(stuck)], e.src_port, names[id(e.dst)], e.dst_port)
            meant = _with_ports(names[id(fed)], None, names[id(e.dst)], e.dst_port)
            return hint + f" Did you write {wrote} where you meant {meant}?"
    for e in edges:  # fed is fed by someone: (x, fed) may have been meant as (x, stuck)
        if e.dst is fed:
            wrote = _with_ports(names[id(e.src)], e.src_port, names[id(fed)], e.dst_port)
            meant = _with_ports(names[id(e.src)], e.src_port, names[id(stuck)], None)
            return hint + f" Did you write {wrote} where you meant {meant}?"
    return hint


def _with_ports(src, src_port, dst, dst_port):
    left = src if src_port is None else f"{src}.out_{src_port}"
    right = dst if dst_port is None else f"{dst}.in_{dst_port}"
    return f"({left}, {right})"


def _check_loops(nodes, edges, names, ins=(), outs=()):
    """Loops are allowed, but every node must be fed from a source and lead to a sink.

    In a sub-network, its declared inputs count as fed and its outputs as leading out.
    """
    down = {id(n): [e.dst for e in edges if e.src is n] for n in nodes}
    up = {id(n): [e.src for e in edges if e.dst is n] for n in nodes}
    fed = _reach(_unique_nodes([n for n in nodes if n.kind == "source"] + [e.node for e in ins]), down)
    leads = _reach(_unique_nodes([n for n in nodes if n.kind == "sink"] + [e.node for e in outs]), up)
    for n in nodes:
        if id(n) not in fed:
            loop = _loop_through(n, up, lambda m: id(m) not in fed, backwards=True)
            raise ValueError(
                f"{_loop_text(loop, names)}. No source reaches it, so it would never receive a "
                f"message. Send messages into the loop from a source, or from a node that a "
                f"source reaches.")
        if id(n) not in leads:
            loop = _loop_through(n, down, lambda m: id(m) not in leads, backwards=False)
            raise ValueError(
                f"{_loop_text(loop, names)}. No edge leads from the loop towards a sink, so its "
                f"messages could never leave it. Add an edge from one of its nodes to a path that "
                f"ends in a Sink.")


def _unique_nodes(nodes):
    out, seen = [], set()
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    return out


def _reach(starts, step):
    """ids of the nodes reached from ``starts`` following ``step`` (a dict id -> next nodes)."""
    seen, todo = {id(n) for n in starts}, list(starts)
    while todo:
        for m in step[id(todo.pop())]:
            if id(m) not in seen:
                seen.add(id(m))
                todo.append(m)
    return seen


def _loop_through(n, step, bad, backwards):
    """A loop among the ``bad`` nodes next to ``n`` (there is one: all of ``n``'s neighbours are bad)."""
    path, node = [n], n
    while True:  # follow bad neighbours until a node repeats
        node = next(m for m in step[id(node)] if bad(m))
        if node in path:
            loop = path[path.index(node):]
            if backwards:
                loop.reverse()
            return loop + [loop[0]]
        path.append(node)


def _loop_text(loop, names):
    if len(loop) == 2:
        return f"{loop[0].kind} '{names[id(loop[0])]}' sends to itself (a loop)"
    return "These nodes form a loop: " + " → ".join(names[id(n)] for n in loop)


def find_loops(nodes, edges):
    """The loops of a network: each a list of nodes that can all reach one another.

    These are the strongly connected components with more than one node, or a
    node with an edge to itself (Tarjan's algorithm), in the order of ``nodes``.
    """
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    down = {id(n): [e.dst for e in edges if e.src is n] for n in nodes}
    counter = 0
    for start in nodes:
        if id(start) in index:
            continue
        work = [(start, iter(down[id(start)]))]
        index[id(start)] = low[id(start)] = counter
        counter += 1
        stack.append(start)
        on_stack.add(id(start))
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if id(nxt) not in index:
                    index[id(nxt)] = low[id(nxt)] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(id(nxt))
                    work.append((nxt, iter(down[id(nxt)])))
                elif id(nxt) in on_stack:
                    low[id(node)] = min(low[id(node)], index[id(nxt)])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[id(parent)] = min(low[id(parent)], low[id(node)])
            if low[id(node)] == index[id(node)]:
                part = []
                while True:
                    m = stack.pop()
                    on_stack.discard(id(m))
                    part.append(m)
                    if m is node:
                        break
                if len(part) > 1 or node in down[id(node)]:
                    order = {id(n): i for i, n in enumerate(nodes)}
                    found.append(sorted(part, key=lambda m: order[id(m)]))
    order = {id(n): i for i, n in enumerate(nodes)}
    return sorted(found, key=lambda part: order[id(part[0])])


def _feedback_edges(nodes, edges):
    """The edges that lead back to a node on the current path of a walk from the sources.

    The walk starts at each source in turn and follows edges in the order they
    were listed, so the same network always gets the same feedback edges,
    listed in the order of its edges.
    """
    out = {id(n): [e for e in edges if e.src is n] for n in nodes}
    state, found = {}, set()  # id -> 1 on the current path, 2 finished
    for start in nodes:
        if start.kind != "source" or id(start) in state:
            continue
        state[id(start)] = 1
        work = [(start, iter(out[id(start)]))]
        while work:
            node, it = work[-1]
            e = next(it, None)
            if e is None:
                state[id(node)] = 2
                work.pop()
            elif state.get(id(e.dst)) == 1:
                found.add(e)
            elif id(e.dst) not in state:
                state[id(e.dst)] = 1
                work.append((e.dst, iter(out[id(e.dst)])))
    return [e for e in edges if e in found]  # in the order they were listed


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _show(value):
    """An edge or one end of it as a student wrote it: nodes by name, other values by short_repr."""
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, Node):
        return value.name
    if isinstance(value, Port):
        return repr(value)
    if isinstance(value, Network):
        return value.name
    return short_repr(value, 60)
