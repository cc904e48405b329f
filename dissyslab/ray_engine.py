"""The Ray engine: every source and transform in a process of its own, on one machine or many.

``g.run_network(engine="ray")`` runs the very same node semantics as the
threaded scheduler (``semantics.py``): each source, transform, Split and
MergeSynch is a Ray *actor* (a Python process, on this machine or on any
machine of a Ray cluster) holding the node's :class:`~dissyslab.semantics.NodeRun`;
sinks run in the calling process, so ``Sink(fn=results.append)`` fills the
student's own list, as it does with threads.

Where a node runs can be chosen, by name, with ``place=``::

    g.run_network(engine="ray", place={"lookup": "here", "save": "process"})

* ``"here"``: in this process (the notebook's), called by the hub (below)
  one call at a time. For a function that cannot be pickled (it holds a
  lock, an open connection, a generator), or a source that reads something
  only this process has. It takes no core of its own, so keep it quick.
* ``"process"``: in a process of its own, a Ray actor. For a sink that
  computes or writes a file; it then fills the lists of *its* process, not
  the notebook's (what it prints still appears here).

Either way the node's messages are pickled on their way, per edge, so every
receiver gets a copy of its own. A name that is not a node's, or a place
other than these two, is refused before anything starts, and so is
``place=`` with the threaded engine (every node is "here" there).

How a run goes:

* One thread of the calling process, the *hub*, directs the run. It asks a
  source's process to ``produce`` a batch, gives what arrives to the
  receivers' processes (``take``), hands batches for sinks to their NodeRun
  here, and keeps what each node still has to handle. The hub keeps at
  most two calls of its own waiting at each process, so a node never idles
  while the hub routes. Every call to a node is made by the hub, in order,
  so each edge stays first in, first out, and a snapshot's markers keep
  their place among its messages.
* Ray starts the nodes' processes and loads a node into each; the run's own
  calls and their reports then go over a plain connection between the hub
  and each process (``ray_wire.py``). A Ray call costs about a millisecond
  of CPU, as much as handling a batch of 5,000 small messages; a call on
  that connection costs about a tenth of that. A batch from one process to
  another crosses the hub as bytes, never unpickled there.
* Messages travel pickled, a batch at a time: what a node sends along an
  edge is serialized once, in the sender's process, and every receiver
  unpickles its own copy (that is how fanout gives each receiver a copy of
  its own here). A message that cannot be pickled fails its sender, naming
  the edge. A node's function is pickled too, to be sent to its process:
  one that cannot be (it holds a lock, an open file, a connection) is named
  before anything starts.
* ``capacity``: the hub asks a node to make or handle a batch only while
  every node it sends to has room for the results, counting what waits in
  the hub, what is on its way, and what is being made. (A batch arrives
  whole: one that needs more room than ``capacity``, which can happen when a
  node sends along two edges into the same node, goes on once nothing waits there.)
  As with threads, each input of a MergeSynch has room of its own, and a
  message takes it until it is paired. If the paths into a MergeSynch deliver
  different numbers of messages, a full input could wait for ever: when no
  call can be made and none is on its way (every node waits), the bound of
  the full inputs is lifted, and the run ends with a MergeSynchWarning.
* End of stream, failures and loops follow the threaded scheduler: a node
  ends when every sender has ended and nothing waits for it; a failed node's
  receivers are told "end" at once; a loop ends when its count of
  outstanding messages (``termination.py``) reaches zero, counted here in
  the hub, which sees every message go by.
* Each actor sends back, with its results, its counters (``g.stats``,
  ``g.edge_counts``...) and, when a run is traced, the events it saw, so
  ``trace=True``, the live view and the diagram work as with threads. Each
  event is stamped in the process where it happened, so a trace's times are
  when the nodes really worked. On one machine every process reads the same
  clock; on a cluster the machines' clocks differ by what their time keeping
  (NTP) leaves, often a millisecond or so, sometimes more.
* Snapshots (``snapshots.py``) follow the same rules as with threads, written
  once in its ``Recording``: the hub carries a snapshot's markers in each
  edge's queue, in their place among the messages, and a node takes one
  between two calls of its function (a call never goes past a marker). A
  node's state is recorded in its own process (``ray_hosts.NodeHost.record``), pickled,
  and handed to the Recording here when the call's report comes back, in the
  order of that node's calls; a sink here records in place. ``resume=`` loads
  each recorded state into the process that runs the node, in the same step
  that loads the node (``ray_hosts.NodeHost.load``): the notebook's objects of nodes in
  processes are not changed, those of sinks and of nodes placed here are.

Processes are kept between runs: a pool (``ray_pool.HostPool``) of node-host
processes (``ray_hosts.NodeHost``), each able to host any node. A run takes as many
hosts as it has nodes in processes, loads its nodes, with their functions and
state, into them (``ray_pool.Loading``, in the hub's thread, so ``timeout=``
and Ctrl-C cover the start of new processes), and at its end gives them back
cleared: nothing of a node, its function or its state is left for the next run.
A host whose node failed, whose process died, or that was still at work when
the run was stopped (timeout, Ctrl-C) is killed instead, and a new one started
when needed. A process that dies during the run (killed, out of memory) fails its
node, by name. Unused hosts end after ``ray_pool.POOL_IDLE`` seconds; all end when
Python exits or with ``ray.shutdown()``.

What a kept process does keep is the modules it imported, with their globals.
A function from a module of the student's (``helpers.py``) is sent by reference
(``helpers.step``) and runs with that module's globals as this host left them:
a node that changes a module global (a counter, a cache) may find the change in
its next run, as it would in a second threaded run in the same notebook. Keep a
node's state in the node (a class instance, ``params=``), not in a module global.
A host whose imported modules changed on disk since is replaced, so an edited
``helpers.py`` is what the next run uses. Functions defined in the notebook
travel by value, and arrive afresh at every run.

After a run, ``g.last_run.pids`` gives the process id of each node that had a
process of its own, ``g.last_run.ray_processes`` how many hosts it reused and
started, and ``g.last_run.ray_times`` the seconds Ray itself took to start if
this run started it ("ray"), the seconds the nodes took to load ("start"), and
to run the network once they had ("run"). A run that starts Ray says so at once,
and how long it took; ``timeout=`` does not count that start, but does count the
start of the nodes' processes.

Ray itself: if this process is already connected to Ray (``ray.init(address=...)``
to use a cluster), that is used. Otherwise a local Ray instance is started at
the first run (no dashboard, quiet logs) and kept for the next runs; it is shut
down when Python exits, or by hand with ``ray.shutdown()``.

Where each part lives:

=====================  =====================================================================
``ray_engine.py``      the hub (this module): routing and timing only; ``place=`` checked
                       (:func:`placement`), functions checked (:func:`check_picklable`), :func:`run`
``ray_pool.py``        Ray started or joined (``connect``), the pool of node-host processes,
                       and the loading of a run's nodes into them (``Loading``)
``ray_hosts.py``       what runs in a node-host process (``NodeHost``), and a node placed
                       here (``LocalNode``): the calls, and the reports they return
``ray_reports.py``     a report read here: counters, failures, trace events at their times
``ray_wire.py``        the run's calls and reports, between the hub and each process (``Wire``)
``ray_snapshots.py``   a snapshot's markers and states, carried (``SnapshotCarrier``)
``flow.py``            the rules between nodes (room, end of stream, loops), as under
                       every scheduler: the hub asks them, never restates them
=====================  =====================================================================
"""

from __future__ import annotations

import pickle
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Iterable

from . import ray_pool
from .errors import exception_text, short_repr
from .flow import Flow, Room
from .ray_hosts import EdgeRef, LocalNode, RemoteError
from .ray_pool import HostPool, Loading, connect, host_pool, ray_module
from .ray_reports import copy_counters, failure_from, replay, tell_views
from .ray_snapshots import SnapshotCarrier
from .ray_wire import Wire, WireError
from .running import STOP_GRACE, Engine, Finished, Run, execute, stop_with_grace
from .semantics import NodeRun, Stop
from .snapshots import Marker, Recording

if TYPE_CHECKING:
    from .observers import Observer
    from .shapes import Graph

#: most messages one call to an actor makes or handles
BATCH = 5000
#: seconds of work one call to an actor aims at (a slow function gets small batches)
CALL_TIME = 0.05
#: bytes of messages one call carries, at most (but one batch: big messages go a few at a time)
CALL_BYTES = 4_000_000
#: calls of the hub's own that may wait at one actor, so that it is never idle while the hub routes
IN_FLIGHT = 2
#: seconds the hub waits for a result before it looks round (stop, sinks)
HUB_TICK = 0.01


class NodeProcessDied(RuntimeError):
    """The process that ran a node ended during the run (killed, or out of memory)."""


class HubNode:
    """One node as the hub sees it, with the room its messages take at its receivers.

    (The hub's code calls one ``hnode``; ``place=`` is something else: where a node runs.)
    """

    def __init__(self, name, nr, edges_in, here, capacity):
        self.name = name
        self.nr = nr  # the NodeRun in this process: the sink's own, or a mirror of the actor's
        self.kind = nr.kind
        self.here = here  # placed in this process ("here"), not in a process of its own
        self.actor = None
        self.host = None  # its Host of the pool, while the run has it
        self.local = None  # a LocalNode: a node other than a sink placed here
        self.pid = None
        self.waiting = deque()  # (edge, port, count, data) to hand to this node
        self.open_in = set(edges_in)  # edges into it that have not ended
        self.inputs = len(edges_in)
        self.calls = deque()  # (what, items, reserved) of the calls not yet answered, in order
        self.early = 0  # messages the call now running sent before its report (Hub._early)
        self.size = 16  # messages per call: a first guess, then sized to its function's speed
        self.ending = False  # the end call was made
        self.ended = False
        self.told = False  # its receivers were told it ended
        self.dead = False
        self.exhausted = nr.exhausted  # (resume=: a source that had ended stays ended)
        # the messages that may wait for it (flow.Room): on their way, waiting, reserved, or (a
        # MergeSynch's) not yet paired
        merge = self.kind == "merge_synch"
        self.room = Room(capacity, nr.node.num_inputs if merge else 1, merge)
        self.targets = []  # (receiver, room, slots a message takes there) for bounded edges
        # snapshots: those a source records at its next turn, and those it was asked to record for
        self.due = []
        self.asked = set()

    # --- capacity: the flow's Room rules, counted here for every receiver --------------------
    def find_targets(self, hnode_of: dict, flow: Flow) -> None:
        """Find the bounded rooms its results go to: (receiver, room, slots a message takes there)."""
        per = {}
        for edges in self.nr.outs:
            for e in edges:
                if flow.bounded(e):
                    dst = hnode_of[id(e.dst)]
                    key = (id(dst), dst.room.room_of(e))
                    per[key] = (dst, key[1], per.get(key, (None, 0, 0))[2] + 1)
        self.targets = list(per.values())

    def room_for(self, want: int, whole: bool = False) -> int:
        """How many messages this node may make or handle now (0: wait for room downstream).

        ``whole``: the messages come as batches that cannot be split; a receiver
        with nothing waiting takes them even if they need more room than
        ``capacity`` (they could never go otherwise). A source's batch is made
        to fit: at least one message at a time.
        """
        k = want
        for dst, room, per in self.targets:  # (whole: the batch is the least it takes)
            k = min(k, dst.room.grant(room, k * per, k * per if whole else per) // per)
        return k

    def reserve(self, k: int, sign: int = 1) -> None:
        """Take (or, with ``sign`` -1, give back) the room ``k`` messages of this node's need."""
        for dst, room, per in self.targets:
            dst.room.take(room, sign * k * per)

    def has_more(self) -> bool:
        """Messages to send: waiting to be handled, or a source that has not ended."""
        return bool(self.waiting) or (self.kind == "source" and not self.exhausted
                                      and self.nr.failure is None)

    def idle(self) -> bool:
        """Nothing more to do: it may end."""
        if self.kind == "source":
            return self.exhausted or self.nr.failure is not None
        return not self.open_in and not self.waiting

    def died(self, exc: BaseException | None) -> list:
        """Its process ended (``exc`` None), or the engine's own code failed there (``exc``): its
        node fails, and what it had not handled is discarded.

        The calls it had not answered give back their room, and what they
        carried waits again, in order (to be discarded); returns the snapshots'
        requests among them, as (why, Recording) pairs.
        """
        self.dead, self.ending, self.exhausted = True, False, True
        if self.nr.failure is None:
            error, detail = _death(exc, self.pid)
            self.nr.fail(error, has_message=False, detail=detail)
        if self.kind == "merge_synch":
            self.room.give_paired(0, True)  # its unpaired messages are lost with it
        calls, self.calls = list(self.calls), deque()
        asked = []
        for kind, items, reserved in reversed(calls):
            self.reserve(reserved, -1)
            if kind == "record":
                asked.append(items)
            elif items:
                self.waiting.extendleft(reversed(items))
        return asked


class RayEngine(Engine):
    """One Ray run as ``running.execute`` drives it: the hub's thread, the nodes' processes, the times.

    The hooks of :class:`~dissyslab.running.Engine`: start the hub's thread,
    which loads the nodes into processes of the pool (:meth:`load_nodes`) and
    then routes (:class:`Hub`); stop it, with grace; give the hosts back at the
    end (:meth:`release`), and keep the run's times (``run.ray_times``).
    """

    def __init__(self, ray, run: Run, capacity: int, where: dict[str, str],
                 pool: HostPool | None = None, timeout: float | None = None,
                 ray_start: float | None = None, snapshot_every: float | None = None) -> None:
        self.ray, self.run = ray, run
        self.pool = pool if pool is not None else host_pool(ray)
        self.timeout, self.ray_start = timeout, ray_start
        self.hub = Hub(ray, run, capacity, where, snapshot_every)
        self.hnodes = self.hub.hnodes
        self.done = Finished()
        self.error = None
        self.thread = threading.Thread(target=self._main, name="dissyslab ray hub", daemon=True)
        self.started_at = self.ready_at = None
        self.closed = False
        run.pids = {}
        run.ray_processes = {"reused": 0, "started": 0}

    # --- starting --------------------------------------------------------------------
    def load_nodes(self) -> None:
        """Load every node placed in a process into a host of the pool; wait until each is loaded.

        Runs in the hub's thread, so that the run's ``timeout`` (and Ctrl-C)
        covers the start of new processes (``ray_pool.Loading``).
        """
        self.started_at = time.perf_counter()
        payloads = self._payloads()
        loading = Loading(self.pool, payloads, {name: self.hnodes[name].kind for name in payloads},
                          lambda name, host: setattr(self.hnodes[name], "host", host))
        for name, pid in loading.run(lambda: self.hub.stopping).items():
            hnode = self.hnodes[name]
            hnode.actor, hnode.pid = hnode.host.actor, pid
            self.run.pids[name] = pid
        reused = sum(loading.reused.values())
        self.run.ray_processes = {"reused": reused, "started": len(payloads) - reused}
        self.connect(list(payloads))
        self.ready_at = time.perf_counter()

    def connect(self, names: list[str]) -> None:
        """Ask the hosts of ``names`` to serve the run over the wire (``ray_wire.py``), and wait
        until each has connected."""
        wire = self.hub.wire = Wire(self.ray.util.get_node_ip_address())
        serving = {self.hnodes[name].actor.serve.remote(wire.address, wire.secret, name): name
                   for name in names}

        def gone():  # a host that stopped serving before it connected (its process died)
            done, _ = self.ray.wait(list(serving), num_returns=len(serving), timeout=0)
            return next((serving[ref] for ref in done if serving[ref] not in wire.socks), None)
        try:
            wire.accept(set(names), lambda: self.hub.stopping, gone)
        except WireError as exc:
            raise RuntimeError(f"The Ray engine could not reach its nodes' processes: {exc}.") from None
        if self.hub.stopping:
            raise Stop

    def _payloads(self) -> dict[str, bytes]:
        """What loads each node placed in a process (``ray_hosts.NodeHost.load``), by name; a node
        placed here (other than a sink: :meth:`Hub._local` hands it its messages) is made here."""
        traced = self.run.nodes and next(iter(self.run.nodes.values())).watch is not None
        from ray import cloudpickle
        payloads = {}
        for hnode in self.hnodes.values():
            if hnode.here and hnode.kind == "sink":
                continue  # (resume=: its state is back already)
            nr = hnode.nr
            outs = [[EdgeRef(self.hub.index[id(e)], e.label) for e in edges] for edges in nr.outs]
            ins = [EdgeRef(self.hub.index[id(e)], e.label) for e in hnode.open_in]
            resumed = self._resumed(hnode)
            if hnode.here:
                hnode.local = LocalNode(nr.node, hnode.name, outs, ins, traced)
                hnode.local.resume(resumed)  # into the node's own objects, here
            else:
                payloads[hnode.name] = cloudpickle.dumps((nr.node, hnode.name, outs, ins, traced,
                                                          resumed))
        return payloads

    def _resumed(self, hnode: HubNode) -> tuple | None:
        """What ``resume=`` puts back into ``hnode``'s process (``ray_hosts.NodeHost.resume``), or None."""
        snap = self.run.resumed
        if snap is None:
            return None
        sent = {self.hub.index[id(e)]: n for e, n in hnode.nr.edge_counts.items() if n}
        return snap.nodes[hnode.name], sent, hnode.nr.exhausted

    def release(self) -> None:
        """Give every host of this run back to the pool, or kill it if its node did not end normally.

        A host whose node ended, without failing, while the run went on is
        cleared and kept. Any other (its node failed, its process died, it was
        still at work when the run was stopped) is killed: the pool starts a
        new one when needed.
        """
        if self.hub.wire is not None:
            self.hub.wire.close()  # each host's serve call returns: it can be cleared
        for hnode in self.hnodes.values():
            host = hnode.host
            if host is None:
                continue
            hnode.host = hnode.actor = None
            if (hnode.ended and not hnode.dead and hnode.nr.failure is None and not hnode.calls
                    and self.error is None and not self.thread.is_alive()):
                self.pool.give_back(host)
            else:
                self.pool.kill(host)

    # --- the hooks running.execute drives ------------------------------------------------
    def start(self) -> None:
        """Start the hub's thread: it loads the nodes into their processes, then routes."""
        self.run.take_snapshot = self.take_snapshot
        self.thread.start()

    def tick(self) -> None:
        """From the calling thread: ``snapshot_every`` starts the next snapshot once the last is taken."""
        self.hub.snapshots.tick(self.ready_at)

    def take_snapshot(self) -> Recording:
        """Start a snapshot, from any thread; the hub begins it at its next look round."""
        return self.hub.snapshots.start()

    def alive(self, nr: NodeRun) -> bool:
        return not self.hnodes[nr.name].ended

    def stop(self) -> list[NodeRun]:
        """Stop the hub thread and the actors; a node placed here still inside its function is named."""
        self.hub.stopping = True
        left = stop_with_grace(lambda: [self.thread] if self.thread.is_alive() else [],
                               lambda t: self.hub.in_local)
        self.close()
        return list(self.run.nodes.values())[:1] if left else []

    def settle(self, stuck: list[NodeRun]) -> None:
        """Every node that had not ended is stopped; the run's times are kept (``run.ray_times``)."""
        self.close()
        if self.hub.stopping:
            for hnode in self.hnodes.values():
                if not hnode.ended:
                    hnode.nr.stop()
        now = time.perf_counter()
        self.run.ray_times = {"ray": self.ray_start or 0.0,
                              "start": (self.ready_at or now) - (self.started_at or now),
                              "run": now - (self.ready_at or self.started_at or now)}

    def finish(self, outcome: str) -> tuple[str, str | None]:
        """A timeout that struck while the nodes' processes started says so."""
        if outcome != "timeout" or self.timeout is None or self.started_at is None:
            return outcome, None
        starting = (self.ready_at or time.perf_counter()) - self.started_at
        if self.ready_at is not None and starting < self.timeout / 2:
            return outcome, None
        return outcome, _slow_start(self.timeout, starting, self.ready_at is None, self.ray_start)

    def close(self) -> None:
        """Give the hosts back to the pool, or kill them (:meth:`release`); once."""
        if self.closed:
            return
        if self.thread.is_alive() and not self.hub.stopping:
            self.thread.join(STOP_GRACE)  # it has set ``done`` and is ending
        self.closed = True
        self.release()  # a thread still stuck in a node placed here: every host goes

    # --- the hub's thread ----------------------------------------------------------------
    def _main(self):
        try:
            self.load_nodes()
            self.hub.route()
        except Stop:
            pass
        except BaseException as exc:  # a fault of the engine itself: reported, not swallowed
            if not self.hub.stopping:
                self.error = exc
        finally:
            self.done.set()


class Hub:
    """The routing of one Ray run, in the hub's thread: when each node is called, where each batch goes.

    The hub asks the flow (``flow.py``) for the rules between nodes, the
    nodes' rooms (:meth:`HubNode.room_for`) whether their results have room,
    :class:`~dissyslab.ray_wire.Wire` to call the nodes' processes, and
    :class:`~dissyslab.ray_snapshots.SnapshotCarrier`
    to carry snapshots. ``stopping`` ends its loop; ``in_local`` is true while it
    is inside the function of a node placed in this process.
    """

    def __init__(self, ray, run: Run, capacity: int, where: dict[str, str],
                 snapshot_every: float | None = None) -> None:
        self.ray, self.run = ray, run
        self.edges = list(run.net.edges)
        self.index = {id(e): i for i, e in enumerate(self.edges)}
        self.flow = run.flow
        self.hnodes = {name: HubNode(name, nr, [e for e in self.edges if e.dst is nr.node],
                                     where[name] == HERE, capacity)
                       for name, nr in run.nodes.items()}
        self.hnode_of = {id(p.nr.node): p for p in self.hnodes.values()}
        for hnode in self.hnodes.values():
            hnode.find_targets(self.hnode_of, self.flow)
        # time.time() + this = time.perf_counter(), in this process (for the events' stamps)
        self.wall_to_perf = time.perf_counter() - time.time()
        # snapshots (snapshots.py): started from any thread, begun and carried out by the hub
        self.snapshots = SnapshotCarrier(run, self.hnodes, self._call, snapshot_every,
                                         self.wall_to_perf)
        self.wire = None  # its connections to the nodes' processes, once they are loaded
        self.stopping = False
        self.in_local = False  # the hub is inside the function of a node placed here

    # --- the hub's loop ------------------------------------------------------------------
    def route(self) -> None:
        """Route until every node has ended (or ``stopping``)."""
        hnodes = list(self.hnodes.values())
        self.snapshots.resend(self._enqueue)  # resume=: what was in flight goes first
        while not self.stopping:
            self.snapshots.begin_new()
            handled_here = self._dispatch(hnodes)
            if all(p.ended and not p.calls for p in hnodes):  # a snapshot may still ask an ended node
                return
            if not any(p.calls for p in hnodes if p.local is None):
                if handled_here:  # a node here made room: look again at who may go on
                    continue
                if self._lift():  # every node waits: see there
                    continue
                if not any(p.waiting for p in hnodes):
                    raise RuntimeError("the Ray engine has nothing to wait for, yet nodes have "
                                       "not ended: " + ", ".join(p.name for p in hnodes if not p.ended))
                time.sleep(HUB_TICK)  # waiting for room downstream
                continue
            for name, report in self.wire.reports(HUB_TICK):
                self._answer(self.hnodes[name], report)

    def _answer(self, hnode, report):
        """The oldest call made to ``hnode`` has been answered (``report``: ``(True, report)``,
        ``(False, text)`` if the engine's code failed there, None if its process ended), or
        has made something so far (``(None, part)``)."""
        if hnode.dead:
            return  # (what a host whose node has failed so still says)
        if report is not None and report[0] is None:
            self._early(hnode, *report[1])
        elif report is not None and report[0] and hnode.calls:
            what, items, reserved = hnode.calls.popleft()
            self._apply(hnode, what, items, reserved, report[1])
        elif not self.stopping and (hnode.calls or not hnode.ended):
            exc = RemoteError(report[1]) if report is not None else None
            self._died(hnode, exc)

    def _dispatch(self, hnodes) -> bool:
        """Make every call that can be made now; hand what waits for sinks to them.

        True if a node of this process (a sink) handled messages: that may have
        made room for a sender looked at before it.
        """
        handled_here = False
        for hnode in hnodes:
            if hnode.ended or hnode.ending:
                continue
            if (hnode.here and hnode.kind == "sink") or hnode.dead:
                handled_here |= self._local(hnode)
                continue
            while hnode.due:  # a snapshot has started: a source records at its next turn
                self.snapshots.ask(hnode, hnode.due.pop(0), "start")
            made = self._calls(hnode)
            if hnode.local is not None and made:
                handled_here = True  # it may have made room, or messages, for a node before it
            if not hnode.calls and hnode.idle() and not hnode.ended:
                hnode.ending = True
                self._call(hnode, "end", None, None, 0)
                self._tell_receivers(hnode)  # ending makes no message: they need not wait for it
            elif hnode.calls and hnode.nr.failure is None:
                hnode.nr.state = "busy"  # its process is at work (or has work waiting)
        return handled_here

    def _calls(self, hnode) -> int:
        """Make the calls ``hnode`` may take now (at most IN_FLIGHT waiting); how many were made
        (a node placed here: made and answered at once)."""
        made = 0
        while len(hnode.calls) < IN_FLIGHT and made < IN_FLIGHT:
            if hnode.waiting and hnode.waiting[0][3].__class__ is Marker:
                # a snapshot's marker, in its place among the messages of its edge: the
                # node takes it between two calls of its function (and records, if first)
                entry = hnode.waiting.popleft()
                self.snapshots.ask(hnode, entry[3].recording, "marker", entry)
            elif hnode.kind == "source":
                if not self._produce(hnode):
                    break
            elif not (hnode.waiting and self._take(hnode)):
                break
            made += 1
        return made

    def _produce(self, hnode) -> bool:
        """Ask a source for its next batch, as large as its receivers have room for; False if none."""
        if hnode.exhausted or hnode.nr.failure is not None:
            return False
        k = hnode.room_for(hnode.size)
        if not k or (k < hnode.size // 4 and hnode.calls):  # (wait for room for a fuller batch)
            return False
        hnode.reserve(k)
        self._call(hnode, "produce", k, None, k)
        return True

    def _take(self, hnode) -> bool:
        """Hand ``hnode`` what waits for it, up to a call's size (in messages and in bytes) and a
        marker; False if its results have no room downstream yet."""
        items, count, size = [], 0, 0
        while hnode.waiting and hnode.waiting[0][3].__class__ is not Marker:  # a call stops at one
            _, _, n, data = hnode.waiting[0]
            if items and (count + n > hnode.size or size + len(data) > CALL_BYTES):
                break
            items.append(hnode.waiting.popleft())
            count, size = count + n, size + len(data)
        k = hnode.room_for(count, whole=True)
        if k < count:  # no room for the results downstream yet
            hnode.waiting.extendleft(reversed(items))
            return False
        hnode.reserve(k)
        payload = [(self.index[id(e)], port, data) for e, port, _, data in items]
        self._call(hnode, "take", payload, items, k)
        return True

    def _call(self, hnode, what, argument, items, reserved):
        """Ask ``hnode`` to ``what`` (produce, take, end, or record for a snapshot: "marker",
        "record"): its process, over the wire, or at once if placed here."""
        local = hnode.local
        method = "record" if what == "marker" else what
        if local is None:
            hnode.calls.append((what, items, reserved))
            self.wire.call(hnode.name, method, *(() if what == "end" else (argument,)))
            return
        hnode.nr.state = "busy" if hnode.nr.failure is None else hnode.nr.state
        self.in_local = True
        try:
            report = local.end() if what == "end" else getattr(local, method)(argument)
        finally:
            self.in_local = False
        self._apply(hnode, what, items, reserved, report)

    def _lift(self) -> bool:
        """Every node waits: the flow's lifting rule for full MergeSynch inputs; True if any.

        The hub sees every node, so "every node waits" is: no call can be made
        and none is on its way.
        """
        lifted = False
        for hnode in self.hnodes.values():
            if hnode.ended or hnode.dead or not hnode.has_more():
                continue  # nothing to send: it waits for no room
            for dst, room, _ in hnode.targets:
                if dst.room.liftable(room) and not dst.ended and dst.nr.failure is None:
                    dst.room.lift(room)
                    lifted = True
        return lifted

    # --- reports ------------------------------------------------------------------------------
    def _early(self, hnode, made, events, out, err):
        """A call still running sent what it has made so far: pass it on (its report, the rest).

        ``made``: ``(port, count, data)``, results of one output port, for each of its edges.
        They are counted as sent here; the report's counters, which count them too, replace
        these. (The room reserved for the call's results is given back with its report.)
        """
        nr = hnode.nr
        self._show(nr, events, out, err)
        for port, count, data in made:
            nr.stats.sent += count
            hnode.early += count
            for e in nr.outs[port]:
                nr.edge_counts[e] = nr.edge_counts.get(e, 0) + count
                self._deliver(e, count, data)

    def _show(self, nr, events, out, err):
        """What a node printed, and the events of a traced run, in this process."""
        if out:
            sys.stdout.write(out)
        if err:
            sys.stderr.write(err)
        if events is not None and nr.watch is not None:
            replay(nr.watch, pickle.loads(events), self.edges, lambda name: self.hnodes[name].nr.failure,
                   self.run.observers, self.wall_to_perf)

    def _apply(self, hnode, what, items, reserved, report):
        """A call's report has come: copy what it says of the node, pass on what it made."""
        sent, counters, failure, events, elapsed, out, err, recorded = report
        nr = hnode.nr
        hnode.reserve(reserved, -1)
        before = nr.paired, nr.stats.received, nr.stats.failed
        hnode.exhausted, state = copy_counters(nr, counters, self.edges)
        if failure is not None:  # placed here: the failure itself, with its traceback
            nr.failure = hnode.local.nr.failure if hnode.local else failure_from(nr, failure)
        self._show(nr, events, out, err)
        # what it made goes on first (and is counted into loops before what it handled)
        for index, count, data in sent:
            self._deliver(self.edges[index], count, data)
        if what in ("marker", "record"):  # the state it recorded for a snapshot
            self.snapshots.recorded(hnode, what, items, recorded)
        if what == "take":
            self._took(hnode, items, elapsed, before)
        elif what == "produce" and reserved:
            self._produced(hnode, (sent[0][1] if sent else 0) + hnode.early, elapsed)
        hnode.early = 0
        if what in ("take", "produce") and sent:  # calls of big messages carry only a few
            made = sum({id(data): len(data) for _, _, data in sent}.values()) / max(1, sent[0][1])
            hnode.size = max(1, min(hnode.size, int(CALL_BYTES / made)))
        self._after(hnode, what, state)

    def _took(self, hnode, items, elapsed, before):
        """``hnode`` handled ``items``: their room is given back, and its calls sized to CALL_TIME.

        ``before``: its paired, received and failed counts before the call.
        """
        nr = hnode.nr
        self.snapshots.took(hnode, items)  # messages in flight, for the snapshots recording them
        handled = sum(c for _, _, c, _ in items)
        for e, _, c, _ in items:
            self.flow.give_back(hnode.room, e, c)
        if hnode.kind == "merge_synch":
            hnode.room.give_paired(nr.paired - before[0], nr.failure is not None)
        if nr.on_sink and hnode.kind == "sink":  # a sink in a process: the views see it here
            tell_views(nr, items, nr.stats.received - before[1] - (nr.stats.failed - before[2]))
        self._handled(items)
        if handled:
            per = elapsed / handled
            hnode.size = max(1, min(BATCH, int(CALL_TIME / per) if per > 0 else BATCH))

    @staticmethod
    def _produced(hnode, made, elapsed):
        """A source made a batch of ``made``: its next ones are sized to take about CALL_TIME."""
        if made and elapsed > 0:
            hnode.size = max(1, min(BATCH, int(CALL_TIME * made / elapsed)))
        else:
            hnode.size = min(BATCH, hnode.size * 2)

    def _after(self, hnode, what, state):
        """The node's state after a call; its receivers hear if it failed or ended."""
        nr = hnode.nr
        if what == "end":
            nr.state = state
        elif not hnode.ended:  # (a snapshot may ask a node that has ended for its state)
            nr.state = "failed" if nr.failure is not None else ("busy" if hnode.calls else "waiting")
        if nr.failure is not None or what == "end":
            self._tell_receivers(hnode)
        if what == "end":
            hnode.ended = True
            self.snapshots.record_ended(hnode)

    def _deliver(self, edge, count, data):
        self.flow.made(edge, count)
        self._enqueue(edge, count, data)

    def _enqueue(self, edge, count, data):
        dst = self.hnode_of[id(edge.dst)]
        dst.waiting.append((edge, edge.dst_port or 0, count, data))
        if self.flow.bounded(edge):
            dst.room.take(dst.room.room_of(edge), count)

    def _handled(self, items):
        for edge, _, count, _ in items:
            self._end_edges(self.flow.handled(edge, count))

    def _tell_receivers(self, hnode):
        """``hnode`` has ended (or failed): the receivers the flow names hear that it has ended."""
        if not hnode.told:
            hnode.told = True
            self._end_edges(self.flow.ended(hnode.nr.outs))

    def _end_edges(self, edges):
        for e in edges:
            self.hnode_of[id(e.dst)].open_in.discard(e)

    # --- this process's own nodes: sinks, and nodes whose process died ----------------------
    def _local(self, hnode) -> bool:
        """Hand what waits for a sink (or a node whose process died) to it here; True if any."""
        nr = hnode.nr
        handled = bool(hnode.waiting)
        while hnode.waiting and not self.stopping:
            edge, port, count, data = hnode.waiting.popleft()
            if data.__class__ is Marker:  # a sink records in place; a dead node has nothing
                self.snapshots.marker_here(hnode, edge, data)
                continue
            self._hand_here(hnode, edge, port, count, data)
        if nr.failure is None:
            nr.state = "waiting"
        if not hnode.open_in and not hnode.waiting and not self.stopping:
            nr.end()
            self._tell_receivers(hnode)
            hnode.ended = True
            self.snapshots.record_ended(hnode)
        return handled

    def _hand_here(self, hnode, edge, port, count, data):
        """Hand one batch to a node of this process, in the hub's thread."""
        nr = hnode.nr
        batch = pickle.loads(data)
        self.snapshots.took_here(hnode, edge, batch)
        nr.state = "busy" if nr.failure is None else nr.state
        self.in_local = True
        try:
            nr.take(port, edge, batch)
        finally:
            self.in_local = False
        self.flow.give_back(hnode.room, edge, count)
        self._handled([(edge, port, count, data)])
        if nr.failure is not None:
            self._tell_receivers(hnode)

    def _died(self, hnode, exc):
        """The process of ``hnode`` ended (``exc`` None), or the engine's code failed there
        (``exc``): its node failed; what it had not handled is discarded."""
        asked = hnode.died(exc)
        self._tell_receivers(hnode)  # what reaches it from now on is discarded (in _local)
        self.snapshots.died(hnode, reversed(asked))  # snapshots that asked for its state


def _death(exc: BaseException | None, pid: int | None) -> tuple[Exception, str]:
    """The error, and the detail, of a node whose process ended during the run (``exc`` None),
    or in which the engine's own code failed (``exc``)."""
    if exc is not None:
        return exc, "stopped unexpectedly"
    error = NodeProcessDied(
        "its process ended while the network ran: it was killed, or ran out of memory")
    error.pid = pid
    return error, "stopped: its process died"


def _slow_start(timeout: float, starting: float, still: bool, ray_start: float | None) -> str:
    """What a timeout says when the nodes' processes took much of it to start (``still``: they
    were still starting)."""
    text = (f"The network did not finish within {timeout:g} seconds, so it was stopped: "
            + (f"its nodes' processes were still starting ({starting:.1f} s)"
               if still else
               f"starting its nodes' processes took {starting:.1f} s of that")
            + ". A new process starts Python and Ray and imports the modules the functions "
              "use; the next runs reuse the processes. Give a larger timeout.")
    if ray_start:
        text += (f" (This run also started Ray itself, in {ray_start:.1f} s, which the "
                 f"timeout does not count.)")
    return text


# --- a run ----------------------------------------------------------------------------------
HERE, PROCESS = "here", "process"


def placement(net: Graph, place: dict | None) -> dict[str, str]:
    """Where each node runs, by name: ``place`` checked, and the defaults for the others.

    By default sinks run "here" (in this process, so they fill this process's
    lists) and every other node in a "process" of its own. ``place`` maps a
    node (its name, or the node itself) to "here" or "process".
    """
    names = {net.name_of(n): n for n in net.nodes}
    where = {name: HERE if n.kind == "sink" else PROCESS for name, n in names.items()}
    if place is None:
        return where
    if not isinstance(place, dict):
        raise TypeError(f"place= must be a dict from node names to \"here\" or \"process\", "
                        f"such as place={{\"save\": \"process\"}}, but got {short_repr(place)}.")
    for key, value in place.items():
        name = _placed_name(key, names)
        _check_place(name, names[name], value)
        where[name] = value
    return where


def _placed_name(key: Any, names: dict) -> str:
    """The name of the node ``key`` of ``place=`` stands for (its name, or the node itself)."""
    name = next((n for n, node in names.items() if node is key), None) \
        if not isinstance(key, str) else key
    if name in names:
        return name
    if isinstance(key, str):
        import difflib
        close = difflib.get_close_matches(key, list(names), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(
            f"place= names a node '{key}', but this network has no node of that name.{hint} "
            f"Its nodes are: {', '.join(names)}.")
    raise ValueError(f"place= names {short_repr(key)}, which is not a node of this "
                     f"network. Its nodes are: {', '.join(names)}.")


def _check_place(name: str, node: Any, value: Any) -> None:
    """Refuse a place that is not "here" or "process", and a list-filling sink in a process."""
    if value not in (HERE, PROCESS):
        raise ValueError(
            f"place= puts {node.kind} '{name}' at {value!r}, but a node is placed "
            f"\"here\" (in this process, the notebook's) or \"process\" (in a process of "
            f"its own).")
    if value == PROCESS and node.kind == "sink" and isinstance(
            getattr(node.fn, "__self__", None), (list, dict, set, deque)):
        raise ValueError(
            f"place= puts sink '{name}' in a process of its own, but its function "
            f"({getattr(node.fn, '__qualname__', 'a method')}) fills a "
            f"{type(node.fn.__self__).__name__} of this process: there it would fill a copy "
            f"in its own process, and yours would stay empty. Leave this sink \"here\" (the "
            f"default for sinks), or let its function save the messages (to a file, say).")


def check_picklable(net: Graph, where: dict[str, str]) -> None:
    """Refuse, before starting anything, a node placed in a process whose function cannot be sent there."""
    for node in net.nodes:
        name = net.name_of(node)
        if where[name] == HERE:
            continue
        from ray import cloudpickle
        try:
            cloudpickle.dumps((node.fn, node.params))
        except Exception as exc:
            raise TypeError(
                f"{node.kind} '{name}' cannot run on Ray: on Ray it runs in a process of its own, "
                f"so its function (with everything it uses) is sent there with pickle, and it "
                f"cannot be pickled ({exception_text(exc, 300)}). A function that holds a lock, "
                f"an open file, a generator or a connection cannot travel: let the function "
                f"open what it needs itself, or run it in this process with "
                f"run_network(engine=\"ray\", place={{\"{name}\": \"here\"}}), or run this "
                f"network with engine=\"threads\"."
            ) from exc


def run(net: Graph, timeout: float | None = None, capacity: int | None = None,
        observers: Iterable[Observer] = (), place: dict | None = None, *,
        snapshot_every: float | None = None, resume=None) -> Run:
    """Run ``net`` on Ray (see the module's text and :meth:`Network.run_network`); return the Run.

    ``snapshot_every``: seconds between two snapshots; ``resume``: a Snapshot to
    start from. A sink placed here gets its state back in place before the run
    (``snapshots.restore``); every other node gets it where it runs (``ray_hosts.NodeHost.resume``).
    """
    where, ray, pool, ray_start = {}, None, None, None

    def prepare():
        nonlocal ray, pool, ray_start
        where.update(placement(net, place))
        started = ray_module().is_initialized()
        ray = connect(say=_say)
        if not started and ray.is_initialized():
            ray_start = ray_pool.started_in
        pool = host_pool(ray)
        # the processes start while the functions are checked and the run is wired
        pool.prestart(sum(w == PROCESS for w in where.values()))
        check_picklable(net, where)

    kinds = {net.name_of(n): n.kind for n in net.nodes}
    return execute(net, lambda r, cap: RayEngine(ray, r, cap, where, pool, timeout, ray_start,
                                                 snapshot_every),
                   timeout, capacity, observers, before=prepare, resume=resume,
                   in_place=lambda name: where[name] == HERE and kinds[name] == "sink",
                   stuck_text="A node placed in this process (a sink, say) was still inside its "
                              "function when the network stopped. It ends as soon as that call "
                              "returns (a long time.sleep, say).")


def _say(text: str) -> None:
    """Tell the student at once (a notebook cell shows it while Ray starts)."""
    print(text, flush=True)
