"""When is a network with a loop finished? Counting the work still to do.

Without loops, the end of the stream simply flows downstream: a node ends
once every node that sends to it has ended. A loop breaks that rule: the
nodes of a loop send to one another, so each would wait for the others to
end first, for ever. And "every source has ended" is not enough either: a
message may still be going round.

So each loop keeps one count, the messages that were sent into it or inside
it and that their receiver has not finished handling yet (the loop's
*outstanding* messages). The rules are few:

* When a message is sent along an edge into the loop or inside it, the
  count goes up by one.
* When a node of the loop has finished handling a message (its function has
  returned, or it threw the message away after a failure), the count goes
  down by one, and only then: whatever the node sent while handling it has
  been counted already.
* The loop is *quiet* when the count is zero and every node outside the loop
  that sends into it has ended. Nothing can then be inside the loop and
  nothing more can come in, so it is over for good: its nodes end, each
  edge inside the loop is told "end", and the end of the stream flows on
  downstream as usual.

Because a node counts what it sends before it counts the message it
handled, the count can never touch zero while work remains: a message being
handled is still counted, and so is every message it caused. This is the
idea of Dijkstra and Scholten's algorithm for diffusing computations (each
message is a unit of work that must be acknowledged before the work that
caused it can be), kept as one shared counter because every node of a loop
lives in this one process. A loop that never goes quiet (a message that goes
round for ever) ends only by ``timeout`` or Ctrl-C, and the error says how
many messages were still outstanding.

Every scheduler uses these counters: the threaded one from the nodes'
threads (so they are guarded by a lock), the seeded one at each step.
"""

from __future__ import annotations

import threading


class LoopWatch:
    """The outstanding-message count of one loop, and whether it has gone quiet."""

    def __init__(self, nodes: list, entering: list, inside: list, names: list | None = None) -> None:
        self.nodes = nodes  # the loop's nodes, in the network's order
        self.names = names or [n.name for n in nodes]  # their names in the network
        self.entering = entering  # edges from outside the loop into it
        self.inside = inside  # edges between nodes of the loop
        self._lock = threading.Lock()
        self.outside = len(entering)  # entering edges whose sender has not ended
        self.outstanding = 0  # messages sent into or inside the loop and not yet handled
        self.quiet = False

    def sent(self, n: int) -> None:
        """``n`` messages were sent along an edge into the loop or inside it."""
        with self._lock:
            self.outstanding += n

    def handled(self, n: int) -> bool:
        """A node of the loop finished with ``n`` messages; True if the loop has just gone quiet."""
        with self._lock:
            self.outstanding -= n
            return self._check()

    def sender_ended(self) -> bool:
        """A node outside the loop that sends into it has ended; True if the loop has just gone quiet."""
        with self._lock:
            self.outside -= 1
            return self._check()

    def _check(self) -> bool:
        if not self.quiet and self.outside == 0 and self.outstanding == 0:
            self.quiet = True
            return True
        return False

    def describe(self) -> str:
        """The loop as "a → b → a"."""
        return " → ".join(self.names + [self.names[0]])


def loop_watches(net) -> tuple[list, dict]:
    """A LoopWatch per loop of ``net``, and for each edge into or inside a loop, its watch."""
    watches, of_edge = [], {}
    for nodes in net.loops:
        members = {id(n) for n in nodes}
        entering = [e for e in net.edges if id(e.dst) in members and id(e.src) not in members]
        inside = [e for e in net.edges if id(e.dst) in members and id(e.src) in members]
        watch = LoopWatch(nodes, entering, inside, [net.name_of(n) for n in nodes])
        watches.append(watch)
        for e in entering + inside:
            of_edge[e] = watch
    return watches, of_edge
