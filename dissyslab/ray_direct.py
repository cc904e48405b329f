"""Batches sent straight from process to process on Ray: which ones may go, and the calls that send them.

On Ray (``ray_engine.py``) the hub in the notebook's process makes every call
to a node. Routing every batch through it costs two trips through the
notebook's process per edge. So when the hub asks a node for a batch whose
receiver runs in a process too, it may make the receiver's call at once, with
the sender's result (a Ray object reference) as its argument: Ray starts that
call when the batch is made and hands the batch over between the two
processes (through shared memory, for a large one), and the hub neither waits
for it nor unpickles it. The sender's report only says how many messages it holds.

:class:`DirectSends` does this for one run:

* :meth:`~DirectSends.connect` finds the edges that qualify: both ends in
  processes, the receiver a transform or a Split with no other edge into it,
  and the edge in no loop (whose count the hub keeps as each message goes by);
* :meth:`~DirectSends.plan` decides, call by call, which batches go directly:
  only while each edge keeps its order (nothing of the edge waits in the hub,
  and every call of the sender not yet answered sends there directly too), and
  never while a snapshot is being taken (its markers go through the hub, in
  their place among the messages);
* :meth:`~DirectSends.send` makes the receivers' calls, :meth:`~DirectSends.sent`
  counts their batches once the sender's report has come, and
  :meth:`~DirectSends.lost` marks them lost when the sender's process died first.

The room the batches take is the flow's (``flow.py``), counted by the hub's
nodes (``room_for``, ``reserve``); this module only says where batches go.
"""

from __future__ import annotations

from typing import Any, Callable

from .flow import Flow
from .running import Run

#: the batch of a receiver's entry whose sender died before making it
LOST = "lost"


class Forward:
    """A batch a call sends straight to a receiver's process: along ``edge`` (number ``index``) to
    ``dst``, with the room its results need reserved (``reserved``), and what ``dst`` sends on
    directly in turn (``then``). ``item`` is the receiver's entry for it: ``[edge, port, count,
    None]``, its count known when the sender's report comes (None until then)."""

    __slots__ = ("edge", "index", "dst", "reserved", "then", "item")

    def __init__(self, edge, index, dst, reserved, then) -> None:
        self.edge, self.index, self.dst, self.reserved, self.then = edge, index, dst, reserved, then
        self.item = [edge, edge.dst_port or 0, None, None]


class DirectSends:
    """The batches of one run that go straight from a node's process to its receiver's.

    ``index`` numbers the network's edges (by ``id``); ``snapshotting()`` is true
    while a snapshot is starting or being taken.
    """

    def __init__(self, run: Run, flow: Flow, index: dict[int, int],
                 snapshotting: Callable[[], bool]) -> None:
        self.run, self.flow, self.index, self.snapshotting = run, flow, index, snapshotting

    def connect(self, hnodes: list, hnode_of: dict[int, Any]) -> None:
        """Give each node in a process (``hnodes``) the edges whose batches may go straight to
        their receiver (``hnode.direct``: (edge, receiver) pairs). Whether a batch does go
        directly is decided call by call (:meth:`plan`)."""
        for hnode in hnodes:
            if hnode.actor is None:
                continue
            hnode.direct = tuple(
                (e, dst) for edges in hnode.nr.outs for e in edges
                for dst in (hnode_of[id(e.dst)],)
                if dst.actor is not None and dst.kind in ("transform", "split")
                and dst.inputs == 1 and self.flow.loop_of_edge.get(e) is None)

    def plan(self, hnode: Any, k: int, cap: bool = False) -> tuple[int, list[Forward]]:
        """Which of ``hnode``'s next batches (at most ``k`` messages per edge) go straight to their
        receivers' processes; returns ``(k, plan)``, a list of :class:`Forward`.

        The receiver gets its calls in the order the hub makes them, so an edge
        keeps its order when nothing of it waits in the hub and every call of
        ``hnode`` not yet answered sends there directly too. The room the
        receiver's results need downstream is reserved now, as when the hub
        calls the receiver itself (whose batches may go on directly in turn).
        ``cap``: a source makes no larger batches than its receivers take, and
        none (``k`` 0: it waits) while a receiver times its function on its first batch.
        """
        if not hnode.direct or self.snapshotting():
            return k, []
        chosen = self._receivers(hnode, k, cap)
        if cap and chosen:
            if any(dst.calls and not dst.measured for _, dst in chosen):
                return 0, []  # wait until the receiver has timed its function on a first batch
            k = max(1, min([k] + [dst.size for _, dst in chosen]))
        plan = []
        for e, dst in chosen:
            if dst.room_for(k) < k:
                continue
            dst.reserve(k)
            plan.append(Forward(e, self.index[id(e)], dst, k, self.plan(dst, k)[1]))
        return k, plan

    @staticmethod
    def _receivers(hnode: Any, k: int, cap: bool) -> list:
        """The (edge, receiver) pairs of ``hnode`` that may take its next batch directly."""
        open_calls = [c[4] for c in hnode.calls if c[1] in ("produce", "take")]
        chosen = []
        for e, dst in hnode.direct:
            if (dst.dead or dst.ending or dst.ended or dst.nr.failure is not None or dst.waiting
                    or not all(any(f.edge is e for f in plan) for plan in open_calls)):
                continue
            if dst.size < k and not cap:
                continue
            chosen.append((e, dst))
        return chosen

    def send(self, plan: list[Forward], batches: list) -> None:
        """Make the receivers' calls of ``plan``, each with its batch (``batches``: references)."""
        self.run.ray_direct += len(plan)
        for f, batch in zip(plan, batches, strict=True):
            dst, port = f.dst, f.edge.dst_port or 0
            then = [g.index for g in f.then]
            method = dst.actor.take_direct
            if then:
                refs = method.options(num_returns=1 + len(then)).remote(f.index, port, batch, then)
                ref = refs[0]
                self.send(f.then, refs[1:])
            else:
                ref = method.remote(f.index, port, batch)
            dst.calls.append((ref, "take", [f.item], f.reserved, f.then))

    def sent(self, plan: list[Forward], sent: list) -> None:
        """The sender's report (``sent``) has come: how many messages each batch of ``plan`` holds."""
        counts = {index: count for index, count, data in sent if data is None}
        for f in plan:
            count = counts.get(f.index, 0)
            f.item[2] = count
            edge, dst = f.edge, f.dst
            self.flow.made(edge, count)
            if self.flow.bounded(edge):
                dst.room.take(dst.room.room_of(edge), count)

    def lost(self, plan: list[Forward]) -> None:
        """The sender's process died before it made the batches of ``plan``: its receivers'
        calls fail for want of them, and are not theirs to answer for."""
        for f in plan:
            f.item[2], f.item[3] = 0, LOST
            self.lost(f.then)
