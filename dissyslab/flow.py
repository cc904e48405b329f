"""The flow: how nodes interact, written once for every scheduler.

``semantics.py`` says what one node does with one message. This module says
what happens *between* nodes: how much may wait in front of a node, when a
node's input has ended, when a loop is over, and what a failed node's
receivers hear. Every scheduler (``threads.py``, the stepping engine of
``seeded.py`` and ``exhaustive.py`` in ``stepping.py``, the Ray hub in
``ray_engine.py``) makes one :class:`Flow` per run and asks it; a scheduler
itself only moves messages (its *transport*) and decides *when* a node works.

Where each rule lives:

=====================================  =========================================
rule                                   home
=====================================  =========================================
room: at most ``capacity`` messages    :meth:`Room.grant` (one rule), a
wait for a node, counting those held   :class:`Room` per receiver (threads wrap
back and those being handled           it in a lock, ``channels.py``)
a MergeSynch input's own room, given   :meth:`Room.taken`, :meth:`Room.paired`
back only as messages are paired
more edges from one sender into one    :meth:`Room.grant` (an empty room takes
room than ``capacity``                 one message, whatever it needs)
every node waits: lift a full          :meth:`Room.liftable`, :meth:`Room.lift`
MergeSynch input's bound               (threads: ``channels.lift_when_stalled``)
edges that close a loop take no room   :meth:`Flow.bounded`
end of the stream; edges round a loop  :meth:`Flow.ended`
end only when the loop is quiet
a loop's count: what a step sent is    :meth:`Flow.made` (or ``made_by``),
counted before what it handled         then :meth:`Flow.handled`
                                       (``termination.py``)
a failed node ends its receivers at    :meth:`Flow.ended`, called on failure;
once, and throws away what reaches it  ``NodeRun.take`` counts it as discarded
a message that cannot be copied or     ``NodeRun`` (``semantics.py``): the node
pickled fails its node at that message fails there, earlier results are sent
snapshot markers: record, then pass    ``snapshots.Recording``; a node that
the marker on behind what was made     has ended records as it is, as it ends
                                       (``snapshots.record_ended``) or as a
                                       snapshot starts (``snapshots.start``)
faults asked for (``faults=``): a      ``faults.NodeFaults``, which
message lost, duplicated or cut off    ``NodeRun.take`` hands each batch to
where it arrives; a node that crashes  first; a lost message counts as
after ``k`` messages                   handled here (it leaves its loop)
a node's ``timeout=``: when it is      :class:`Alarm` (one per such node; the
waited for, when it rings, and that a  scheduler measures the seconds: real in
waiting node keeps its loop and its    threads, virtual under a seed)
inputs from ending
start, wait, timeout, Ctrl-C, stop     ``running.execute`` (one skeleton, the
with grace, conclude; a start gate     ``running.Engine`` hooks per scheduler);
for node threads                       ``running.StartGate``
=====================================  =========================================
"""

from __future__ import annotations

from .termination import LoopWatch, loop_watches

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Callable

    from .nodes import Edge


class Room:
    """The room in front of one receiving node: how many messages may wait for it.

    A node has one room, or (a MergeSynch) one per input, so that a fast input
    waits for a slow one while the slow one can still send. ``used[r]`` counts
    the slots taken in room ``r``: messages on their way, waiting, or being
    handled; a MergeSynch's also until they are paired. ``capacity`` None
    means no bound. The counting is the scheduler's to guard (a lock, in
    threads); the rules are here.
    """

    __slots__ = ("capacity", "limit", "used", "owed", "merge")

    def __init__(self, capacity: int | None, rooms: int = 1, merge: bool = False) -> None:
        self.capacity = capacity
        self.limit = [capacity] * rooms  # per room; None once unbounded (see lift)
        self.used = [0] * rooms
        self.merge = merge
        self.owed = [0] * rooms  # a MergeSynch's: taken into its buffers, not yet paired

    def room_of(self, edge: Edge) -> int:
        """Which room a message along ``edge`` takes: each MergeSynch input has its own."""
        return (edge.dst_port or 0) if self.merge else 0

    def grant(self, room: int, want: int, at_least: int = 1) -> int:
        """How many of ``want`` slots room ``room`` gives now (0 to ``want``).

        The rule: slots up to ``capacity``; and a room with nothing in it
        gives ``at_least`` (the slots one message takes) even beyond
        ``capacity``, or a sender with more edges into it than ``capacity``
        could never send. It is the one case where more than ``capacity``
        messages wait. The slots are not taken here: see :meth:`take`.
        """
        limit = self.limit[room]
        if limit is None:
            return want
        used = self.used[room]
        free = limit - used
        if free < at_least and used <= 0:
            free = at_least
        return max(0, min(want, free))

    def fits(self, room: int, per: int) -> bool:
        """Is there room now for one message that takes ``per`` slots here?"""
        return self.grant(room, per, per) >= per

    def take(self, room: int, n: int) -> None:
        """``n`` slots are taken (messages on their way here, or reserved for them)."""
        self.used[room] += n

    def give(self, room: int, n: int) -> None:
        """``n`` slots are free again."""
        self.used[room] -= n

    def taken(self, room: int, n: int) -> int:
        """The receiver has handled ``n`` messages of ``room``: how many slots that frees.

        A MergeSynch keeps them (they wait in its buffers) until they are paired.
        """
        if self.merge:
            self.owed[room] += n
            return 0
        return n

    def paired(self, pairs: int, failed: bool) -> list[int]:
        """A MergeSynch made ``pairs`` pairs: the slots freed per room (each pair took one per input).

        After a failure it pairs nothing more, and frees all it holds.
        """
        freed = []
        for room, held in enumerate(self.owed):
            k = held if failed else min(held, pairs)
            self.owed[room] = held - k
            freed.append(k)
        return freed

    def give_paired(self, pairs: int, failed: bool) -> None:
        """Give back what :meth:`paired` frees (threads: under their channel's lock)."""
        for room, k in enumerate(self.paired(pairs, failed)):
            self.give(room, k)

    def liftable(self, room: int) -> bool:
        """May this room's bound be lifted when every node waits? (A MergeSynch input that is full.)"""
        return self.merge and self.limit[room] is not None and self.used[room] > 0

    def lift(self, room: int) -> None:
        """Lift the bound of ``room``: every node waits, and a MergeSynch input is full.

        That happens when the paths into a MergeSynch deliver different numbers
        of messages (one filters): its full input waits for partners that never
        come, and the fork feeding both paths waits for that input. Without the
        bound the run goes on, ends, and reports what was never paired.
        """
        self.limit[room] = None


class Flow:
    """The rules between the nodes of one run: loops, the end of the stream, which edges take room."""

    def __init__(self, net, loops: list[LoopWatch] | None = None,
                 loop_of_edge: dict | None = None) -> None:
        if loops is None:
            loops, loop_of_edge = loop_watches(net)
        self.loops = loops
        self.loop_of_edge = loop_of_edge  # edge -> the LoopWatch of the loop it goes into or round
        self.feedback = frozenset(net.feedback_edges)
        self.loop_of_node = {name: loop for loop in loops for name in loop.names}

    def alarm(self, name: str, seconds: float) -> Alarm:
        """The :class:`Alarm` of node ``name``, whose ``timeout=`` is ``seconds``."""
        return Alarm(self.loop_of_node.get(name), seconds)

    def bounded(self, edge: Edge) -> bool:
        """Does a message along ``edge`` take room? Not along an edge that closes a loop:
        a loop must never wait for itself."""
        return edge not in self.feedback

    def give_back(self, room: Room, edge: Edge, n: int) -> None:
        """The receiver whose room is ``room`` has taken ``n`` messages that came along ``edge``:
        give back the slots that frees (threads: under their channel's lock)."""
        if self.bounded(edge):
            r = room.room_of(edge)
            room.give(r, room.taken(r, n))

    def made(self, edge: Edge, n: int) -> None:
        """``n`` messages were sent along ``edge``. Call it *before* :meth:`handled` for the
        message that caused them: a loop's count then never touches zero while work remains."""
        loop = self.loop_of_edge.get(edge)
        if loop is not None:
            loop.sent(n)

    def loop_edges(self, outs: list[list[Edge]]) -> list[list[Edge]] | None:
        """Per output port, which of a node's edges ``outs`` go into or round a loop; None if
        none does. What the node makes along them is counted by :meth:`made_by`."""
        edges = [[e for e in port if e in self.loop_of_edge] for port in outs]
        return edges if any(edges) else None

    def made_by(self, loop_edges: list[list[Edge]] | None, out: list, call: Callable, *args):
        """``call(*args)``, a step of a node whose results wait in ``out`` (per port), then
        :meth:`made` for what it added there along its ``loop_edges`` (None: nothing to count).

        Returns what ``call`` returns. The scheduler then calls :meth:`handled`.
        """
        if loop_edges is None:
            return call(*args)
        before = [len(o) for o in out]
        result = call(*args)
        for port, edges in enumerate(loop_edges):
            n = len(out[port]) - before[port]
            if n:
                for edge in edges:
                    self.made(edge, n)
        return result

    def handled(self, edge: Edge, n: int) -> list[Edge]:
        """A receiver finished with ``n`` messages that came along ``edge`` (handled or thrown
        away). Returns the edges that end now: those round a loop that has just gone quiet."""
        loop = self.loop_of_edge.get(edge)
        if loop is not None and loop.handled(n):
            return list(loop.inside)
        return []

    def ended(self, outs: list[list[Edge]]) -> list[Edge]:
        """A sender has ended, or failed: the edges whose receivers hear "end" now.

        ``outs`` lists its edges per output port. An edge round a loop ends only
        when the loop goes quiet (then every edge round it ends at once).
        """
        ending = []
        for edges in outs:
            for edge in edges:
                loop = self.loop_of_edge.get(edge)
                if loop is not None and edge in loop.inside:
                    continue
                ending.append(edge)
                if loop is not None and loop.sender_ended():
                    ending.extend(loop.inside)
        return ending

    def going_round(self) -> list[LoopWatch]:
        """The loops with messages still in them."""
        return [loop for loop in self.loops if not loop.quiet and loop.outstanding]


class Alarm:
    """A node's ``timeout=``: the rule of when it rings, written once for every scheduler.

    * The alarm is *set* when the run starts and again each time a message
      reaches the node (one lost where it arrives, by a ``drop`` or a
      ``partition``, is silence). Once the node has waited ``seconds`` with nothing to
      take, the alarm *rings*: the node's function is called with a
      :class:`~dissyslab.timers.Timeout` instead of a message.
    * A timeout that sends something (a retry, a suspicion) sets the alarm
      again, as long as a message can still come (an input has not ended): if
      nothing comes, it rings once more ``seconds`` later. A timeout that sends
      nothing (it gave up) does not: the alarm waits for the next message. A
      node that has failed or crashed rings no more.
    * While its alarm is set, a node does not end, even once every input has
      ended (a monitor still notices the silence of a node that crashed), and a
      loop it is in is not quiet: the alarm counts as one message still to
      handle in that loop (``termination.py``), so termination cannot cut a
      retry short. A node ends once its inputs have ended and its alarm has
      rung without sending anything.

    The scheduler measures the seconds (real ones in threads, at the lessons'
    pace; virtual under a seed) from the moment the node starts waiting, and
    calls :meth:`took` and :meth:`rang`; only the node's own thread or step
    touches its alarm.
    """

    __slots__ = ("loop", "seconds", "armed")

    def __init__(self, loop: LoopWatch | None, seconds: float) -> None:
        self.loop = loop
        self.seconds = seconds
        self.armed = True
        if loop is not None:
            loop.sent(1)

    def took(self) -> None:
        """The node took a message: the alarm is set (before the message counts as handled)."""
        if not self.armed:
            self.armed = True
            if self.loop is not None:
                self.loop.sent(1)

    def rang(self, sent: bool, open_inputs: bool = True) -> list[Edge]:
        """The alarm rang and the node handled it; ``sent``: it sent something;
        ``open_inputs``: an input of the node has not ended yet.

        Returns the edges that end now (those round a loop that has just gone quiet).
        """
        if (sent and open_inputs) or not self.armed:
            return []
        self.armed = False
        if self.loop is not None and self.loop.handled(1):
            return list(self.loop.inside)
        return []

    def off(self) -> list[Edge]:
        """The node failed or crashed: the alarm rings no more. The edges that end now."""
        return self.rang(False)
