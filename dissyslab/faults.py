"""Faults on purpose: crash a node, lose or duplicate messages, cut the network in two.

``g.run_network(faults=[...])`` runs a network as a real distributed system
can go wrong, without a line of fault code in the student's functions::

    g.run_network(seed=3, faults=[drop("sender → receiver", p=0.3),
                                  duplicate("sender → receiver", p=0.1),
                                  crash("worker", after=5)])

The faults:

* ``crash(node, after=k)``: crash-stop. The node handles ``k`` messages (a
  source: sends ``k``), then stops for good: its receivers see its stream end,
  and whatever reaches it afterwards is lost. ``after=0``: it crashes before
  doing anything. A crash is a fault you asked for, not an error: the run
  ends normally, and ``g.crashed`` says what crashed after how many messages.
* ``drop(edge, p=0.3)``: each message along ``edge`` is lost with probability
  ``p``; ``drop(edge, nth=[0, 4])``: exactly the messages with those indexes
  (0 is the first message along the edge).
* ``duplicate(edge, p=0.1)``: each message along ``edge`` arrives twice with
  probability ``p`` (the receiver gets its own copy the second time).
* ``delay(edge, seconds)``: each message along ``edge`` arrives ``seconds``
  late; ``seconds=(0.1, 0.5)`` draws each message's delay between the two;
  ``p=`` or ``nth=`` (as for ``drop``) delays only some messages. A message
  overtakes none on its own edge (a channel stays first-in first-out: one sent
  after a late one arrives after it), but it does arrive late against the
  messages of other edges. Under a seed the seconds are the virtual clock's
  (``vclock.py``); in a threaded run, real seconds at the lessons' pace
  (``paced``). A delayed message is lost or duplicated (by other faults) as it
  arrives, like any other.
* ``partition(group_a, group_b, start=0, end=None)``: every message between a
  node of one group and a node of the other (either way) is lost if it
  arrives between ``start`` and ``end`` seconds of the run (None: until the
  end). Under a seed those are the seconds of the run's virtual clock
  (``g.last_run.clock``: what the functions slept); in a threaded run, real seconds.

Edges are named as in ``g.trace`` (``"sender → receiver"``, ``"->"`` works too;
qualified names such as ``"cleaner/strip → sink"`` inside sub-networks) or
given as a pair ``(sender, receiver)`` of names or nodes. Nodes are given by
name or as the node itself.

How faults are decided (the model):

* A fault acts where a message *arrives*: the receiver's side of an edge. Every
  edge keeps its order (a lost message leaves a gap, a duplicate comes right
  behind its original), so the ``k``-th message along an edge is the same
  message in every run with the same seed.
* Each decision comes from a random stream of its own, keyed by the fault,
  the edge and the message's index on that edge. Adding a fault therefore
  changes neither the order of events (the scheduler never draws for it) nor
  the decisions of the other faults.
* Under ``seed=N`` the faults are decided by ``N``: the same seed gives the
  same faults and the same run. In a threaded run they come from a fault seed
  of their own, chosen at random and reported as ``g.last_run.fault_seed``;
  ``faults=Faults([...], seed=that)`` decides them the same way again.
* Every message is accounted for, on every edge:
  ``sent + duplicated == received + discarded + lost``
  (``g.edge_counts``, ``g.edge_duplicated``, ``g.edge_received``,
  ``g.edge_discarded``, ``g.edge_lost``). A lost message still counts as
  having left its loop, so a loop whose retries stop still ends.
* A traced run records ``lost``, ``duplicated``, ``delayed`` and ``crash``
  events (``g.trace``); a delayed message's ``send`` and ``receive`` are that
  much apart (in a seeded run, exactly, in the ``at`` column). A snapshot records no message
  that was lost.

Only this module knows about faults: the node semantics (``semantics.py``)
hand each arriving batch to :meth:`NodeFaults.take` when a node has faults,
and every scheduler goes through it. A delay is the one fault that acts on
the way instead: the transport holds a message up for as long as
:meth:`Delay.seconds_for` says (the seeded scheduler with its virtual clock,
threads with a courier, ``channels.Courier``). Without ``faults=`` nothing
here runs.
"""

from __future__ import annotations

import hashlib
import math
import random

from .copying import ATOMS, copy_any
from .errors import NodeFailure, short_repr

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import dissyslab` stays light
if TYPE_CHECKING:
    from typing import Any, Iterable

    from .nodes import Edge
    from .semantics import NodeRun
    from .shapes import Graph, RunRecord

__all__ = ["Fault", "Faults", "crash", "drop", "duplicate", "partition", "delay"]


class Fault:
    """One fault asked for: made by :func:`crash`, :func:`drop`, :func:`duplicate` or :func:`partition`."""

    kind = "fault"

    def __repr__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        raise NotImplementedError


class _Crash(Fault):
    kind = "crash"

    def __init__(self, node, after):
        self.node, self.after = node, after

    def describe(self):
        return f"crash({_shown(self.node)}, after={self.after})"


class _EdgeFault(Fault):
    def __init__(self, edge, p=None, nth=None):
        self.edge, self.p, self.nth = edge, p, nth

    def describe(self):
        how = f"p={self.p}" if self.nth is None else f"nth={sorted(self.nth)}"
        return f"{self.kind}({_shown(self.edge)}, {how})"


class _Drop(_EdgeFault):
    kind = "drop"


class _Duplicate(_EdgeFault):
    kind = "duplicate"


class _Delay(_EdgeFault):
    kind = "delay"

    def __init__(self, edge, seconds, p=None, nth=None):
        super().__init__(edge, p, nth)
        self.seconds = seconds

    def describe(self):
        how = "" if self.p is None and self.nth is None else (
            f", p={self.p}" if self.nth is None else f", nth={sorted(self.nth)}")
        return f"delay({_shown(self.edge)}, {self.seconds!r}{how})"


class _Partition(Fault):
    kind = "partition"

    def __init__(self, group_a, group_b, start, end):
        self.groups, self.start, self.end = (group_a, group_b), start, end

    def describe(self):
        a, b = (", ".join(_shown(n) for n in g) for g in self.groups)
        return f"partition([{a}], [{b}], start={self.start}, end={self.end})"


def _shown(x) -> str:
    name = getattr(x, "name", None)
    if isinstance(name, str) and not isinstance(x, str):
        return repr(name)
    if isinstance(x, tuple):
        return "(" + ", ".join(_shown(y) for y in x) + ")"
    return short_repr(x, 60)


def _probability(p, what: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or not 0 <= p <= 1:
        raise ValueError(f"{what}: p is a probability, a number from 0 to 1 (p=0.2 loses about one "
                         f"message in five), but got p={short_repr(p)}.")
    return float(p)


def crash(node: Any, after: int = 0) -> Fault:
    """Crash ``node`` (a name, or the node) after it has handled ``after`` messages (a source: sent)."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError(f"crash({_shown(node)}, after=...): after is how many messages the node "
                         f"handles before it crashes, a whole number of at least 0, but got "
                         f"after={short_repr(after)}.")
    return _Crash(node, after)


def _edge_fault(cls, edge, p, nth, what=None):
    what = what or f"{cls.kind}({_shown(edge)}, ...)"
    if (p is None) == (nth is None):
        raise ValueError(f"{what}: give p= (each message with probability p) or nth=[...] "
                         f"(exactly the messages with those indexes, 0 for the first), one of "
                         f"the two, but {'both were' if p is not None else 'neither was'} given.")
    if p is not None:
        return cls(edge, p=_probability(p, what))
    try:
        picked = frozenset(nth)
    except TypeError:
        picked = None
    if picked is None or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in picked):
        raise ValueError(f"{what}: nth is a list of message indexes along the edge (whole numbers, 0 "
                         f"for the first message), like nth=[0, 3], but got nth={short_repr(nth)}.")
    return cls(edge, nth=picked)


def drop(edge: Any, p: float | None = None, nth: Iterable[int] | None = None) -> Fault:
    """Lose messages along ``edge``: each with probability ``p``, or those whose index is in ``nth``."""
    return _edge_fault(_Drop, edge, p, nth)


def duplicate(edge: Any, p: float | None = None, nth: Iterable[int] | None = None) -> Fault:
    """Deliver messages along ``edge`` twice: each with probability ``p``, or those in ``nth``."""
    return _edge_fault(_Duplicate, edge, p, nth)


def delay(edge: Any, seconds: float | tuple[float, float], p: float | None = None,
          nth: Iterable[int] | None = None) -> Fault:
    """Hold up messages along ``edge`` for ``seconds`` (or between ``seconds=(low, high)``).

    Every message, or only some: each with probability ``p``, or those whose
    index is in ``nth``. The edge stays first-in first-out.
    """
    what = f"delay({_shown(edge)}, ...)"

    def number(x):
        return not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x) and x >= 0

    if isinstance(seconds, (list, tuple)) and len(seconds) == 2 and all(map(number, seconds)):
        if seconds[1] < seconds[0]:
            raise ValueError(f"{what}: seconds=(low, high) draws each delay between low and high, "
                             f"but high is less than low: seconds={short_repr(seconds)}.")
        seconds = (float(seconds[0]), float(seconds[1]))
    elif number(seconds):
        seconds = float(seconds)
    else:
        raise ValueError(f"{what}: seconds is how late each message arrives, a number of 0 or "
                         f"more (seconds=0.5), or a pair (low, high) to draw it between "
                         f"(seconds=(0.1, 0.5)), but got seconds={short_repr(seconds)}.")
    if p is None and nth is None:
        return _Delay(edge, seconds)
    picked = _edge_fault(_Drop, edge, p, nth, what)  # the same checks as drop's, then a delay
    return _Delay(edge, seconds, p=picked.p, nth=picked.nth)


def partition(group_a: Iterable, group_b: Iterable, start: float = 0, end: float | None = None) -> Fault:
    """Lose every message between the two groups of nodes that arrives from ``start`` to ``end`` seconds."""
    for name, t in (("start", start), ("end", end)):
        if t is None and name == "end":
            continue
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise ValueError(f"partition(...): {name} is seconds of the run (virtual seconds under a "
                             f"seed), a number of at least 0, but got {name}={short_repr(t)}.")
    if end is not None and end < start:
        raise ValueError(f"partition(...): the partition ends (end={end}) before it starts "
                         f"(start={start}).")
    groups = []
    for g in (group_a, group_b):
        members = [g] if isinstance(g, str) or hasattr(g, "kind") else g
        try:
            members = list(members)
        except TypeError:
            raise ValueError(f"partition(group_a, group_b): each group is a list of nodes (names or "
                             f"nodes), but got {short_repr(g)}.") from None
        if not members:
            raise ValueError("partition(group_a, group_b): a group is empty; each side needs at "
                             "least one node.")
        groups.append(members)
    return _Partition(groups[0], groups[1], start, end)


class Faults(list):
    """A list of faults with the seed that decides them: ``Faults([drop(...)], seed=81723)``.

    In a threaded run this replays the fault decisions of an earlier run whose
    ``g.last_run.fault_seed`` was 81723. Under ``seed=`` the run's seed decides
    and this seed must be left out.
    """

    def __init__(self, faults: Iterable[Fault] = (), seed: int | None = None) -> None:
        super().__init__(faults)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"Faults(..., seed=...): the fault seed is a whole number, like the "
                            f"g.last_run.fault_seed of an earlier run, but got {short_repr(seed)}.")
        self.seed = seed


# --- checking the faults against a network, before the run --------------------------------------
def _node_name(net: Graph, node, what: str) -> str:
    names = [net.name_of(n) for n in net.nodes]
    if isinstance(node, str):
        if node in names:
            return node
        raise ValueError(f"{what}: this network has no node named {node!r}; its nodes are: "
                         f"{', '.join(names)}.")
    if hasattr(node, "kind") and hasattr(node, "fn"):
        try:
            return net.name_of(node)
        except KeyError:
            raise ValueError(f"{what}: {_shown(node)} is not a node of this network; its nodes "
                             f"are: {', '.join(names)}.") from None
    raise TypeError(f"{what}: a node is given by its name or as the node itself, but got "
                    f"{short_repr(node)} ({type(node).__name__}).")


def _edges(net: Graph, spec, what: str) -> list[Edge]:
    """The edges ``spec`` names: a label (as in g.trace), an Edge, or a pair (sender, receiver)."""
    if spec.__class__.__name__ == "Edge" and hasattr(spec, "label"):
        if any(e is spec for e in net.edges):
            return [spec]
        spec = spec.label
    if isinstance(spec, str):
        label = " → ".join(part.strip() for part in spec.replace("->", "→").split("→"))
        found = [e for e in net.edges if e.label == label]
        if not found:  # "a → b" also names an edge between ports of a and b
            found = [e for e in net.edges
                     if f"{net.name_of(e.src)} → {net.name_of(e.dst)}" == label]
        if found:
            return found
        raise ValueError(f"{what}: this network has no edge {spec!r}; its edges are: "
                         f"{', '.join(repr(e.label) for e in net.edges)}.")
    if isinstance(spec, tuple) and len(spec) == 2:
        src, dst = (_node_name(net, x, what) for x in spec)
        found = [e for e in net.edges if net.name_of(e.src) == src and net.name_of(e.dst) == dst]
        if found:
            return found
        raise ValueError(f"{what}: this network has no edge from {src!r} to {dst!r}; its edges "
                         f"are: {', '.join(repr(e.label) for e in net.edges)}.")
    raise TypeError(f"{what}: an edge is given as its label, like \"sender → receiver\" (as in "
                    f"g.trace), or as a pair (sender, receiver), but got {short_repr(spec)} "
                    f"({type(spec).__name__}).")


def check_faults(net: Graph, faults) -> Faults:
    """The faults as a :class:`Faults`, each checked against ``net``; a clear error otherwise."""
    if isinstance(faults, Fault):
        faults = [faults]
    if not isinstance(faults, (list, tuple)):
        raise TypeError(f"faults= is a list of faults, like faults=[drop(\"a → b\", p=0.2), "
                        f"crash(\"b\", after=3)], but got {short_repr(faults)} "
                        f"({type(faults).__name__}).")
    for f in faults:
        if not isinstance(f, Fault):
            raise TypeError(f"faults=[...] holds faults made by crash(), drop(), duplicate(), "
                            f"delay() or partition() (from dissyslab), but one of them is {short_repr(f)} "
                            f"({type(f).__name__}).")
        what = f.describe()
        if isinstance(f, _Crash):
            f.name = _node_name(net, f.node, what)
        elif isinstance(f, _EdgeFault):
            f.edges = _edges(net, f.edge, what)
        else:
            f.names = [[_node_name(net, n, what) for n in g] for g in f.groups]
            both = set(f.names[0]) & set(f.names[1])
            if both:
                raise ValueError(f"{what}: {', '.join(map(repr, sorted(both)))} is in both groups; "
                                 f"a partition splits the nodes into two separate groups.")
    delayed = {}
    for f in faults:
        if isinstance(f, _Delay):
            for e in f.edges:
                if e in delayed:
                    raise ValueError(f"{f.describe()}: the edge {e.label!r} is already delayed by "
                                     f"{delayed[e].describe()}; give one delay per edge.")
                delayed[e] = f
    crashes = [f.name for f in faults if isinstance(f, _Crash)]
    twice = sorted({n for n in crashes if crashes.count(n) > 1})
    if twice:
        raise ValueError(f"crash({twice[0]!r}, ...) is given more than once: a node crashes once.")
    return faults if isinstance(faults, Faults) else Faults(faults)


# --- during the run -------------------------------------------------------------------------------
def _chance(seed: int, key: str, index: int) -> float:
    """A number in [0, 1) decided by (seed, key, index) alone: the fault's own random stream."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}\x1f{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


class Crashed(NodeFailure):
    """A node that crashed because ``crash(node, after=k)`` said so: a fault, not an error."""

    injected = True  # running.conclude: not a failure of the student's code

    def __init__(self, node, name, after):
        super().__init__(node, CrashFault(f"crashed after {after} message{'s' if after != 1 else ''} "
                                          f"(a fault injected by crash(..., after={after}))"),
                         name=name, detail="crashed")
        self.after = after

    def summary(self) -> str:
        return f"{self.node.kind} '{self.name}' crashed after {self.after} message" + (
            "s" if self.after != 1 else "") + " (crash in faults=)"


class CrashFault(Exception):
    """Stands for the cause of an injected crash (never raised)."""


class NodeFaults:
    """The faults of one node during one run: what arrives at it, and whether it crashes."""

    def __init__(self, plan: Plan, name: str) -> None:
        self.plan = plan
        self.name = name
        self.on = {}  # edge into the node -> [(key, fault)]
        self.arrived = {}  # edge -> messages arrived along it so far (the index of the next)
        self.crash_after = None
        self.handled = 0  # messages handled (a source: made), for crash_after

    def take(self, nr: NodeRun, port: int, edge: Edge, batch: list) -> None:
        """``batch`` arrives along ``edge``: lose, duplicate, hand the rest on, crash when due."""
        start = self.arrived.get(edge, 0)
        self.arrived[edge] = start + len(batch)
        watch = nr.watch
        if nr.state == "crashed":
            self._lose(nr, edge, batch, watch)
            return
        rules = self.on.get(edge, ())
        seg = []
        for j, msg in enumerate(batch):
            if nr.state == "crashed":
                self._lose(nr, edge, batch[j:], watch)
                return
            index = start + j
            if any(f.loses(key, edge, index) for key, f in rules):
                self._flush(nr, port, edge, seg)
                seg = []
                self._lose(nr, edge, [msg], watch)
                continue
            copies = sum(1 for key, f in rules if f.duplicates(key, edge, index))
            if copies:
                nr.duplicated_on[edge] = nr.duplicated_on.get(edge, 0) + copies
                if watch is not None and hasattr(watch, "duplicated"):
                    for _ in range(copies):
                        watch.duplicated(nr.name, edge, msg, index)
            seg.append(msg)
            seg.extend(msg if msg.__class__ in ATOMS else _copy(msg) for _ in range(copies))
            if self.crash_after is not None and self.handled + len(seg) >= self.crash_after:
                keep = self.crash_after - self.handled
                rest = seg[keep:]
                self._flush(nr, port, edge, seg[:keep])
                seg = []
                self.crash(nr)
                if rest:
                    self._lose(nr, edge, rest, watch)
        self._flush(nr, port, edge, seg)

    def _flush(self, nr, port, edge, seg):
        if seg:
            self.handled += len(seg)
            nr.handle_batch(port, edge, seg)

    def produce(self, nr: NodeRun, k: int) -> None:
        """A source makes up to ``k`` messages, and crashes once it has made ``crash_after``."""
        if nr.state == "crashed":
            return
        left = self.crash_after - self.handled
        before = len(nr.out[0])
        nr.make_messages(min(k, left))
        self.handled += len(nr.out[0]) - before
        if self.handled >= self.crash_after and not nr.exhausted:
            self.crash(nr)

    def crash(self, nr: NodeRun) -> None:
        """The node crashes now (unless its function failed first): it stops for good."""
        if nr.failure is not None:
            return
        nr.failure = Crashed(nr.node, nr.name, self.handled)
        nr.state = "crashed"
        nr.exhausted = True  # a source makes nothing more; a crashed node ends at once
        self.plan.crashed[nr.name] = self.handled
        if nr.watch is not None and hasattr(nr.watch, "crash"):
            nr.watch.crash(nr.name, self.handled)

    def _lose(self, nr, edge, msgs, watch):
        nr.lost_on[edge] = nr.lost_on.get(edge, 0) + len(msgs)
        if watch is not None and hasattr(watch, "lost"):
            for msg in msgs:
                watch.lost(nr.name, edge, msg)

    def arriving(self, edge: Edge, batch: list) -> list:
        """What of ``batch`` (about to arrive along ``edge``) will not be lost: for snapshots, and
        for a node's ``timeout=`` (a lost message is silence)."""
        start = self.arrived.get(edge, 0)
        rules = self.on.get(edge, ())
        return [m for j, m in enumerate(batch)
                if not any(f.loses(key, edge, start + j) for key, f in rules)]


def _copy(msg):
    try:
        return copy_any(msg)
    except Exception:
        return msg  # a message that cannot be copied arrives twice as itself


class Delay:
    """One ``delay`` fault on one edge, decided for one run: how late each message arrives."""

    def __init__(self, plan: Plan, fault: _Delay, edge: Edge, sender: NodeRun | None = None) -> None:
        self.plan, self.fault = plan, fault
        self.key = f"delay|{edge.label}"
        self.sent = 0  # messages sent along the edge so far (the index of the next)
        self.sender = sender  # its watch hears of each message held up (a "delayed" trace event)

    def seconds_for(self, edge: Edge, msg: Any) -> float:
        """How many seconds the next message along the edge is held up (0: not at all)."""
        index = self.sent
        self.sent = index + 1
        f = self.fault
        if f.nth is not None and index not in f.nth:
            return 0.0
        if f.p is not None and not (f.p > 0 and _chance(self.plan.seed, self.key + "|p", index) < f.p):
            return 0.0
        seconds = f.seconds
        if isinstance(seconds, tuple):
            low, high = seconds
            seconds = low + (high - low) * _chance(self.plan.seed, self.key, index)
        watch = None if self.sender is None else self.sender.watch
        if seconds and watch is not None and hasattr(watch, "delayed"):
            watch.delayed(self.sender.name, edge, msg, index, seconds)
        return seconds


class _Rule:
    """One edge fault, decided for one run."""

    def __init__(self, plan, fault):
        self.plan, self.fault = plan, fault
        self.lose = isinstance(fault, (_Drop, _Partition))

    def _hit(self, key, edge, index):
        f = self.fault
        if f.nth is not None:
            return index in f.nth
        if f.p <= 0:
            return False
        plan = self.plan
        if plan.decide is not None and f.p < 1:  # the exhaustive search: both, one after the other
            decided = plan.decided.get((key, index))
            if decided is None:
                decided = plan.decided[key, index] = plan.decide(f.kind, edge, index)
            return decided
        return _chance(plan.seed, key, index) < f.p

    def loses(self, key, edge, index):
        if not self.lose:
            return False
        if isinstance(self.fault, _Partition):
            now = self.plan.now()
            f = self.fault
            return f.start <= now and (f.end is None or now < f.end)
        return self._hit(key, edge, index)

    def duplicates(self, key, edge, index):
        return not self.lose and self._hit(key, edge, index)


class Plan:
    """The faults of one run, checked, with the seed that decides them (``run.faults``)."""

    def __init__(self, faults: Faults, seed: int | None) -> None:
        self.faults = faults
        if seed is not None and faults.seed is not None and faults.seed != seed:
            raise ValueError(f"Faults(..., seed={faults.seed}) and run_network(seed={seed}): under "
                             f"a seed the run's seed decides the faults too. Leave one of them out.")
        self.seed = seed if seed is not None else (
            faults.seed if faults.seed is not None else random.SystemRandom().randrange(10 ** 6))
        self.crashed = {}  # node name -> messages handled (a source: sent) when it crashed
        self.now = lambda: 0.0
        self.delays = {}  # edge -> its Delay (the transport holds its messages up)
        # the exhaustive search (exhaustive.py) makes each drop or duplicate of chance p a choice:
        # decide(kind, edge, index) says whether it hits; decided keeps each answer once asked
        self.decide = None
        self.decided = {}

    def install(self, run: RunRecord) -> None:
        """Give each node of ``run`` its faults (called as the run is made; :meth:`begin` follows)."""
        import time

        if run.seed is not None:
            self.now = lambda: run.clock
        else:
            self.now = lambda: time.monotonic() - run.started_at
        run.fault_seed = self.seed
        mine = {}

        def of(name):
            if name not in mine:
                mine[name] = NodeFaults(self, name)
            return mine[name]

        net = run.net
        seen = {}
        for f in self.faults:
            if isinstance(f, _Crash):
                of(f.name).crash_after = f.after
                continue
            if isinstance(f, _Delay):
                for e in f.edges:
                    self.delays[e] = Delay(self, f, e, run.nodes[net.name_of(e.src)])
                continue
            rule = _Rule(self, f)
            if isinstance(f, _Partition):
                a, b = (set(g) for g in f.names)
                ends = [(e, net.name_of(e.src), net.name_of(e.dst)) for e in net.edges]
                edges = [e for e, s, d in ends if (s in a and d in b) or (s in b and d in a)]
            else:
                edges = f.edges
            for e in edges:
                base = f"{f.kind}|{e.label}"
                n = seen.get(base, 0)  # two like faults on one edge decide independently
                seen[base] = n + 1
                of(net.name_of(e.dst)).on.setdefault(e, []).append((f"{base}|{n}", rule))
        for name, nf in mine.items():
            run.nodes[name].faults = nf

    def begin(self, run: RunRecord) -> None:
        """The run begins (its observers are listening): crash the nodes that crash at once."""
        for nr in run.nodes.values():
            if nr.faults is not None and nr.faults.crash_after == 0:
                nr.faults.crash(nr)
