"""Snapshots on Ray: the hub carries the markers and the recorded states; the rules are the Recording's.

A snapshot (``snapshots.py``) follows the same rules under every scheduler,
written once in its :class:`~dissyslab.snapshots.Recording`: each source
records its state, then sends a marker along each of its edges; a node records
when the first marker reaches it, and what comes along an edge after it has
recorded but before that edge's marker was in flight. On Ray
(``ray_engine.py``) the nodes run in processes of their own, so
:class:`SnapshotCarrier` does the carrying for the hub:

* it puts a marker in each edge's queue in the hub, in its place among the
  messages (:meth:`~SnapshotCarrier.send_markers`); the hub hands it to the
  node between two calls of its function, and the node records then;
* it asks a node's process for its state (:meth:`~SnapshotCarrier.ask`), after
  every call already made to it, and hands the state to the Recording when the
  call's report comes back (:meth:`~SnapshotCarrier.recorded`), in the order of
  that node's calls;
* it shows the Recording what the nodes took along edges it still records
  (:meth:`~SnapshotCarrier.took`), and records nodes that have ended as they
  are (:meth:`~SnapshotCarrier.record_ended`).
* resuming from a snapshot (``resume=``), it puts what the snapshot recorded in
  flight first in the queues of its edges (:meth:`~SnapshotCarrier.resend`).

A sink in the notebook's process records in place, and a node whose process
died has no state to give (:data:`DIED` says so in the snapshot). Every batch
goes through the hub, so every marker keeps its place among the messages.
"""

from __future__ import annotations

import pickle
import time
from collections import deque
from typing import Any, Callable

from .errors import exception_text
from .ray_hosts import dumps
from .ray_reports import clocks_at
from .running import Run
from .snapshots import Marker, Recording
from .snapshots import start as start_snapshot

#: why a snapshot has no state for a node whose process died
DIED = "its process had died, and its state with it"


class SnapshotCarrier:
    """The snapshots of one Ray run, started from any thread and carried out by the hub's thread.

    ``hnodes`` are the hub's nodes by name; ``call(hnode, what, argument,
    items, reserved)`` asks a node for its state (the hub's own call);
    ``every``: seconds between two snapshots (``snapshot_every=``), or None;
    ``wall_to_perf``: ``time.perf_counter() - time.time()`` in this process.
    """

    def __init__(self, run: Run, hnodes: dict[str, Any], call: Callable, every: float | None,
                 wall_to_perf: float) -> None:
        self.run, self.hnodes, self.call = run, hnodes, call
        self.hnode_of = {id(p.nr.node): p for p in hnodes.values()}
        self.every, self.due = every, None
        self.wall_to_perf = wall_to_perf
        self.new = deque()  # Recordings started, not yet begun by the hub
        self.taking = []  # Recordings the hub has begun, until each is kept or dropped

    # --- from any thread -------------------------------------------------------------------
    def start(self) -> Recording:
        """Start a snapshot, from any thread; the hub begins it at its next look round."""
        rec = start_snapshot(self.run)
        self.new.append(rec)
        return rec

    def tick(self, ready_at: float | None) -> None:
        """``snapshot_every``: start the next snapshot once the last is taken (the nodes have
        been ready since ``ready_at``, None while they load)."""
        if self.every is None or ready_at is None:
            return
        now = time.perf_counter()
        if self.due is None:
            self.due = ready_at + self.every
        if now >= self.due and not self.run.recordings:
            self.due = now + self.every
            self.start()

    # --- in the hub's thread ---------------------------------------------------------------
    def begin_new(self) -> None:
        """Begin the snapshots started since the hub last looked round."""
        while self.new:
            self.begin(self.new.popleft())

    def begin(self, rec: Recording) -> None:
        """A snapshot starts: each source records at its next turn, a node that has ended records now."""
        self.taking = [r for r in self.taking if not (r.kept or r.dropped)] + [rec]
        for hnode in self.hnodes.values():
            if hnode.ended:
                self.record_ended(hnode, rec)
            elif hnode.kind == "source" and not hnode.ending and not hnode.dead:
                hnode.due.append(rec)
            # a source ending (or whose process died) records as it ends (record_ended)

    def ask(self, hnode: Any, rec: Recording, why: str, entry: tuple | None = None) -> None:
        """Ask ``hnode`` to record its state for ``rec``, after every call made to it so far.

        ``why``: "marker" (``entry``, the marker of an edge, has reached it),
        "start" (a source, as the snapshot starts) or "ended". Its state is
        recorded only the first time it is asked for ``rec``; it comes back
        with the call's report, and :meth:`recorded` hands it to ``rec``.
        """
        wanted = rec.number not in hnode.asked
        hnode.asked.add(rec.number)
        if why == "marker":
            self.call(hnode, "marker", wanted, [entry], 0)
        else:
            self.call(hnode, "record", wanted, (why, rec), 0)

    def recorded(self, hnode: Any, what: str, items: Any, recorded: tuple) -> None:
        """A state recorded in ``hnode``'s process has come: the Recording's rules take it from here.

        The trace shows the marker taken and the state recorded at the moment
        they happened in the node's process.
        """
        state, problem, at = recorded
        if state is not None and hnode.local is None:
            state = pickle.loads(state)
        with clocks_at(self.run.observers, self.wall_to_perf, [at]):
            if what == "marker":
                edge, _, _, marker = items[0]
                rec = marker.recording
                first = rec.marker(hnode.nr, edge, (state, problem))
            else:
                why, rec = items
                if why == "start":
                    first = rec.record(hnode.nr, (state, problem))
                else:
                    first = rec.ended(hnode.nr, (state, problem))
        if first:
            self.send_markers(hnode, rec)

    def send_markers(self, hnode: Any, rec: Recording) -> None:
        """``hnode`` has recorded for ``rec``: a marker goes on every edge leaving it, behind what it sent."""
        for edges in hnode.nr.outs:
            for edge in edges:
                dst = self.hnode_of[id(edge.dst)]
                if not dst.ended:
                    dst.waiting.append((edge, edge.dst_port or 0, 0, rec.token))  # it takes no room

    def record_ended(self, hnode: Any, rec: Recording | None = None) -> None:
        """``hnode`` has ended: each snapshot being taken (or ``rec``) records it as it is now."""
        if rec is None:
            hnode.due.clear()
            recs = [r for r in self.taking if not (r.kept or r.dropped)]
        else:
            recs = [rec]
        for r in recs:
            if hnode.dead or (hnode.here and hnode.kind == "sink"):
                # a sink here records in place; a node whose process died has no state to give
                if r.ended(hnode.nr, (None, DIED) if hnode.dead else None):
                    self.send_markers(hnode, r)
            else:
                self.ask(hnode, r, "ended")

    def took(self, hnode: Any, items: list) -> None:
        """``hnode``'s process took ``items`` (the hub's entries): those of edges being recorded
        are in flight."""
        if not self.taking:
            return
        self.taking = [r for r in self.taking if not (r.kept or r.dropped)]
        for edge, _, _, data in items:
            recs = [r for r in self.taking if r.records(hnode.nr, edge)]
            if recs:
                batch = pickle.loads(data)
                for r in recs:
                    r.took(hnode.nr, edge, batch)

    def took_here(self, hnode: Any, edge: Any, batch: list) -> None:
        """A node of this process (a sink, or one whose process died) is handed ``batch``."""
        for rec in self.taking:
            rec.took(hnode.nr, edge, batch)

    def marker_here(self, hnode: Any, edge: Any, marker: Marker) -> None:
        """A marker reaches a node of this process: a sink records in place; a dead node has nothing."""
        rec = marker.recording
        if rec.marker(hnode.nr, edge, (None, DIED) if hnode.dead else None):
            self.send_markers(hnode, rec)

    def resend(self, enqueue: Callable[[Any, int, bytes], None]) -> None:
        """``resume=``: what the snapshot recorded in flight waits first, along its edge
        (``enqueue(edge, count, batch)``, the batch pickled).

        (``snapshots.restore`` has counted it as sent, and as going round its loop.)
        """
        for edge, msgs in self.run.resend:
            try:
                data = dumps(msgs)
            except Exception as exc:
                raise TypeError(
                    f"This snapshot recorded messages in flight on the edge {edge.label} that "
                    f"cannot be pickled ({exception_text(exc, 200)}), and on Ray every message "
                    f"travels pickled: resume from it with engine=\"threads\".") from None
            enqueue(edge, len(msgs), data)

    def died(self, hnode: Any, asked: list) -> None:
        """``hnode``'s process died: the snapshots that had asked for its state (``asked``: (why,
        Recording) pairs) get none."""
        for why, rec in asked:
            recorded = (None, DIED)
            if rec.record(hnode.nr, recorded) if why == "start" else rec.ended(hnode.nr, recorded):
                self.send_markers(hnode, rec)
