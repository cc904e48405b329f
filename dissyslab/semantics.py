"""What each kind of node does with a message: the meaning of a network, written once.

A scheduler decides *when* and *where* a node works (one thread per node in
``threads.py``; one step at a time, chosen by a seed, in ``seeded.py``). This
module says *what* happens when it does. Every scheduler makes one
:class:`NodeRun` per node and calls just three things on it:

* ``produce(k)`` on a source: call its function up to ``k`` times;
* ``take(port, edge, messages)`` on any other node: these messages arrived at
  input ``port`` along ``edge``, in order; handle them;
* ``end()`` once every input has ended (for a source: once it has returned None).

What a node makes waits in ``out[port]`` until the scheduler hands it on with
``hand_over(port)``, which gives every edge leaving that port its own batch
(fanout: the first edge gets the originals, the others copies). The copies
are made as each message is made, before any receiver can see it: a message
that cannot be copied fails its node at that very message, whatever the
scheduler, and everything made before it is still sent.

The rules, kind by kind:

* **Source** calls ``fn()`` again and again; each result is a message, and
  ``None`` ends its stream.
* **Transform** sends ``fn(msg)`` on; ``None`` drops the message (a filter).
* **Sink** calls ``fn(msg)`` and sends nothing on.
* **Split** calls ``fn(msg)``, which returns one item per output port; item
  ``i`` goes to ``out_i``, ``None`` goes nowhere. One object returned for two
  ports is copied, so the two paths never share it.
* **MergeSynch** keeps the messages of each input in arrival order and, as
  soon as every input has one, sends the list ``[m0, m1, ...]``. What is left
  when the inputs end was never paired (``unpaired``).
* **A failure**: if a function raises, the node stops handling messages. Its
  results so far are still sent, the error is kept (``failure``), and every
  message that reaches it afterwards is counted as *discarded* and thrown away,
  so its senders never wait for it.
* **End of stream**: a node ends when all its inputs have ended; the scheduler
  then tells its receivers that this sender has ended.

Observers (tracing) hear about each message through ``watch``, and the views
hear about what reaches a sink through ``on_sink`` (see ``observers.py``).
With neither, nothing but the node's own counters is touched.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

from .copying import ATOMS, copier_of, copy_any, copy_message
from .errors import CopyError, NodeFailure, exception_text, short_repr
from .nodes import Node, NodeStats

if TYPE_CHECKING:
    from .nodes import Edge
    from .observers import Events, Observer
    from .shapes import Graph


class Stop(BaseException):
    """Raised by a scheduler inside a node's function to stop it (timeout, Ctrl-C).

    It is not a failure of the node, so nothing here catches it.
    """


class NodeRun:
    """One node during one run: its function, its counters, and what waits to be sent.

    ``outs[port]`` lists the edges leaving each output port, in the order they
    were wired. ``state`` is "waiting", "busy" (set by the scheduler while the
    node works), "done", "failed", "stopped" or "crashed" (a ``crash`` fault:
    ``faults.py``).
    """

    def __init__(self, node: Node, outs: list, watch: Events | None = None,
                 on_sink: list[Observer] | tuple = (), name: str | None = None,
                 copies: bool = True, check: Any = None) -> None:
        self.node = node
        self.name = node.name if name is None else name  # the network's name for the node
        self.kind = node.kind
        self.call = partial(node.fn, **node.params) if node.params else node.fn
        self.outs = outs
        self.out = [[] for _ in outs]  # per output port: results not yet handed over
        # per fanout port: one list of copies per edge after the first, made with each result
        # (``copies`` False: the transport gives every receiver its own copy, as pickling does).
        # While every result of the batch is a number, string... (``copying.ATOMS``) they stay
        # empty: the edges share the results, which cannot change (``mixed[port]`` False).
        self.copies = [[[] for _ in edges[1:]] if copies and len(edges) > 1 else None
                       for edges in outs]
        self.mixed = [False] * len(outs)
        # ``check(item, edge)``: raises CannotSend if ``item`` cannot travel along ``edge``
        # (Ray: pickle); numbers, strings and the like always can
        self.check = check
        # results go straight into out: no copies, no transport check, not traced
        self.plain = check is None and watch is None and not any(self.copies)
        self.stats = NodeStats()
        self.edge_counts = {e: 0 for port in outs for e in port}
        self.skipped = [0] * len(outs)  # per Split port: items that were None
        self.buffers = [deque() for _ in range(node.num_inputs or 0)]  # MergeSynch only
        self.paired = 0  # MergeSynch only: pairs made (each took one message from every input)
        self.unpaired = {}
        self.failure = None
        self.exhausted = False  # a source has returned None
        self.state = "waiting"
        self.edge = None  # the edge the messages being handled came along
        self.watch = watch
        self.on_sink = tuple(on_sink)
        self._handle = getattr(self, "handle_" + node.kind, None)
        self.received_on = {}  # per edge into the node: messages it handled
        self.in_hand = None  # (edge, how many) while take() handles messages that came along it
        self.discarded_on = {}  # per edge into the node: messages thrown away after a failure
        # faults.py (run_network(faults=...)): this node's faults, else None; what they did per edge
        self.faults = None
        self.lost_on, self.duplicated_on = {}, {}
        self.timeouts = 0  # timers.py: how many times ``timeout=`` rang and the function was called

    def take(self, port: int, edge: Edge, batch: list) -> None:
        """``batch`` arrived at input ``port`` along ``edge``, in order: handle it (one method per kind).

        A node with faults (``faults.py``) first loses, duplicates or crashes as they say.
        """
        if self.faults is not None:
            self.faults.take(self, port, edge, batch)
        else:
            self.handle_batch(port, edge, batch)

    def handle_batch(self, port: int, edge: Edge, batch: list) -> None:
        """Handle ``batch``, which arrived along ``edge``: a failed node throws it away."""
        before = self.stats.discarded
        self.in_hand = (edge, len(batch))  # no longer waiting, not yet handled (the live view)
        if self.failure is not None:  # a failed node throws away what still reaches it
            self._discard(edge, batch)
        else:
            self._handle(port, edge, batch)
        self.in_hand = None
        thrown = self.stats.discarded - before
        if thrown:
            self.discarded_on[edge] = self.discarded_on.get(edge, 0) + thrown
        if thrown < len(batch):
            self.received_on[edge] = self.received_on.get(edge, 0) + len(batch) - thrown

    # --- sources ------------------------------------------------------------
    def produce(self, k: int) -> None:
        """Call a source's function up to ``k`` times; ``None`` ends it (``exhausted``)."""
        if self.faults is not None and self.faults.crash_after is not None:
            self.faults.produce(self, k)  # faults.py: it crashes after so many messages
        else:
            self.make_messages(k)

    def make_messages(self, k: int) -> None:
        """A source's function, called up to ``k`` times."""
        call, watch = self.call, self.watch
        add = self.adder(0)
        try:
            for _ in range(k):
                msg = call()
                if msg is None:
                    self.exhausted = True
                    return
                if watch is not None:
                    watch.emit(self.name, msg)
                add(msg)
        except Stop:
            raise
        except CannotSend as failed:
            self.exhausted = True
            self.fail(failed.error, failed.message, detail=failed.detail)
        except BaseException as exc:
            self.exhausted = True
            self.fail(exc, None, has_message=False)

    # --- one method per kind that receives (``take`` calls the node's own) -------------
    # A transform and a sink run the function over the batch in one of two loops: without
    # tracing (the common case, kept tight) or with it. After a failure, the list iterator
    # ``it`` says how far the loop got.
    def handle_transform(self, port: int, edge: Edge, batch: list) -> None:
        """A transform: ``fn(msg)`` for each message; None drops it, anything else is a result."""
        self.edge = edge
        call, watch, name = self.call, self.watch, self.name
        add = self.adder(0)
        dropped = 0
        it = iter(batch)
        try:
            if watch is None:
                for result in map(call, it):
                    if result is None:
                        dropped += 1
                    else:
                        add(result)
            else:
                for msg in it:
                    watch.receive(name, edge, msg)
                    result = call(msg)
                    if result is None:
                        dropped += 1
                        watch.drop(name, msg)
                    else:
                        add(result)
        except Stop:
            raise
        except BaseException as exc:
            self._failed_on(exc, edge, batch, len(batch) - it.__length_hint__() - 1, dropped)
            return
        self.stats.received += len(batch)
        self.stats.dropped += dropped

    def handle_sink(self, port: int, edge: Edge, batch: list) -> None:
        """A sink: ``fn(msg)`` for each message; nothing is sent on."""
        self.edge = edge
        call, watch, name = self.call, self.watch, self.name
        it = iter(batch)
        try:
            if watch is None:
                for _ in map(call, it):
                    pass
            else:
                for msg in it:
                    watch.receive(name, edge, msg)
                    call(msg)
        except Stop:
            raise
        except BaseException as exc:
            done = len(batch) - it.__length_hint__() - 1
            self._told_sink(batch[:done])
            self._failed_on(exc, edge, batch, done, 0)
            return
        self.stats.received += len(batch)
        self._told_sink(batch)

    def handle_split(self, port: int, edge: Edge, batch: list) -> None:
        """A split: ``fn(msg)`` returns one item per output port; None sends nothing there."""
        self.edge = edge
        call, out, watch, name = self.call, self.out, self.watch, self.name
        k, skipped = len(out), self.skipped
        adds = None if self.plain else [self.adder(p) for p in range(k)]
        done = dropped = 0
        try:
            for msg in batch:
                if watch is not None:
                    watch.receive(name, edge, msg)
                items = call(msg)
                if type(items) not in (list, tuple) or len(items) != k:
                    raise ValueError(self._bad_split_result(items))
                sent = False
                for p in range(k):
                    item = items[p]
                    if item is None:
                        skipped[p] += 1
                        continue
                    if any(item is other for other in items[:p]):
                        item = copy_message(item)  # one object sent to two ports: copy it
                    if adds is None:
                        out[p].append(item)
                    else:
                        adds[p](item)
                    sent = True
                if not sent:
                    dropped += 1
                    if watch is not None:
                        watch.drop(name, msg)
                done += 1
        except Stop:
            raise
        except BaseException as exc:
            self._failed_on(exc, edge, batch, done, dropped)
            return
        self.stats.received += done
        self.stats.dropped += dropped

    def handle_merge_synch(self, port: int, edge: Edge, batch: list) -> None:
        """A MergeSynch: keep each input's messages; send a list as soon as every input has one."""
        self.edge = edge
        watch, buffers = self.watch, self.buffers
        if watch is not None:
            for msg in batch:
                watch.receive(self.name, edge, msg)
        buffers[port].extend(batch)
        self.stats.received += len(batch)
        add = self.adder(0)
        while all(buffers):
            pair = [b[0] for b in buffers]
            try:
                add(pair)
            except CannotSend as failed:
                self.fail(failed.error, failed.message, detail=failed.detail)
                return
            for b in buffers:
                b.popleft()
            self.paired += 1

    # --- a timeout (timers.py; when it rings is flow.Alarm's rule) ----------------------
    def arrives(self, edge: Edge, batch: list) -> bool:
        """Will a message of ``batch`` reach the node, not lost on the way by a fault (``faults.py``)?

        A message lost where it arrives (``drop``, ``partition``, a crashed
        node) is silence to the node: it does not set its ``timeout=`` again.
        """
        f = self.faults
        return f is None or (self.state != "crashed" and bool(f.arriving(edge, batch)))

    def time_out(self, at: float) -> bool:
        """Nothing arrived for ``node.timeout`` seconds: call the function with a Timeout.

        ``at``: the time of the run it rang at. Whatever the function returns is
        handled as for a message (a transform sends it unless it is None, a
        split routes it), but a Timeout is not a message: it counts in no edge
        and in no counter except ``timeouts``. Returns True if it sent something.
        """
        from .timers import Timeout

        msg = Timeout(self.node.timeout, at)
        self.timeouts += 1
        if self.failure is not None:
            return False
        watch, kind = self.watch, self.kind
        if watch is not None and hasattr(watch, "timeout"):
            watch.timeout(self.name, msg)
        made = sum(len(o) for o in self.out)
        self.state = "busy"
        try:
            result = self.call(msg)
            if kind == "transform" and result is not None:
                self.adder(0)(result)
            elif kind == "split":
                if type(result) not in (list, tuple) or len(result) != len(self.out):
                    raise ValueError(self._bad_split_result(result))
                for p, item in enumerate(result):
                    if item is not None:
                        self.adder(p)(copy_message(item) if any(
                            item is other for other in result[:p]) else item)
        except Stop:
            raise
        except CannotSend as failed:
            self.fail(failed.error, failed.message, detail=failed.detail)
        except BaseException as exc:
            self.fail(exc, msg)
        if self.failure is None:
            self.state = "waiting"
        return sum(len(o) for o in self.out) > made

    # --- the end ----------------------------------------------------------------
    def end(self) -> None:
        """Every input has ended (a source: it returned None): the node is done."""
        if self.failure is None:
            self.state = "done"
            if self.kind == "merge_synch":
                self.unpaired = {i: list(b) for i, b in enumerate(self.buffers) if b}
                self.stats.dropped = sum(len(b) for b in self.buffers)
                if self.watch is not None:
                    for i, rest in self.unpaired.items():
                        for msg in rest:
                            self.watch.drop(self.name, msg, note=f"never paired (in_{i})")
        elif getattr(self.failure, "injected", False):  # a crash fault (faults.py)
            self.state = "crashed"
        if self.watch is not None:
            self.watch.end(self.name, self.state)

    def stop(self) -> None:
        """The run was stopped (timeout, Ctrl-C) before this node ended."""
        if self.failure is None:
            self.state = "stopped"
        if self.watch is not None:
            self.watch.end(self.name, self.state)

    # --- handing results on -----------------------------------------------------
    def hand_over(self, port: int, start: int = 0, end: int | None = None,
                  clear: bool = True) -> list[list]:
        """One batch per edge leaving ``port``, of the results ``start:end``; counts them as sent.

        The first edge gets the results themselves, the others the copies made
        with them (or, when the transport copies, such as pickling, the same
        list). ``clear``: the port's results are handed over for good and the
        node starts a new list; without it (a scheduler's other thread sending
        what a busy node made so far) they stay, and the caller remembers ``end``.
        """
        out = self.out[port]
        if end is None:
            end = len(out)
        # the list itself only when it is handed over for good: otherwise the node adds to it
        items = out if clear and start == 0 and end == len(out) else out[start:end]
        edges = self.outs[port]
        copies = self.copies[port]
        if copies is None:
            batches = [items] * len(edges)
        elif self.mixed[port]:
            batches = [items] + [c[start:end] for c in copies]
        else:  # results that cannot change: each edge its own list of the same results
            batches = [items] + [out[start:end] for _ in copies]
        if clear:
            self.out[port] = []
            if copies is not None:
                self.copies[port] = [[] for _ in copies]
                self.mixed[port] = False
        n = end - start
        counts = self.edge_counts
        for edge in edges:
            counts[edge] += n
        self.stats.sent += n
        return batches

    def adder(self, port: int) -> Any:
        """The function that adds a result for ``port``: ``out[port].append`` in the plain case.

        With fanout, each result's copies for the other edges are made with it;
        on Ray the transport checks it (``check``); in a traced run its sends
        are recorded before it can leave. A result that cannot be copied (or
        cannot travel) is not added: the node fails at the message that made
        it (:class:`CannotSend`). Made again for each batch: ``hand_over``
        starts new lists.
        """
        out = self.out[port]
        append = out.append
        copies, check, watch = self.copies[port], self.check, self.watch
        edges = self.outs[port]
        if copies is None and watch is None:
            if check is None:
                return append
            if edges:
                first = edges[0]

                def add_checked(item):  # on Ray (no copies here: pickling makes them), only
                    # what is not a number, string... needs a look, against the port's first edge
                    if item.__class__ not in ATOMS:
                        check(item, first)
                    append(item)
                return add_checked
        appends = [c.append for c in copies] if copies is not None else ()
        copy, mixed = self._copy, self.mixed

        def first_changeable():
            """The first result that can change: from now on each edge keeps its own copies,
            and those before it (which cannot change) are shared."""
            for c in copies:
                c.extend(out)
            mixed[port] = True

        if check is None and watch is None and len(appends) == 1:  # fanout to two: the common case
            other, second = appends[0], edges[1]

            def add_two(item):
                if item.__class__ not in ATOMS:
                    if not mixed[port]:
                        first_changeable()
                    other(copy(item, second))
                elif mixed[port]:
                    other(item)
                append(item)
            return add_two

        rest = edges[1:]

        def add(item):
            if item.__class__ in ATOMS:
                if mixed[port]:
                    for a in appends:
                        a(item)
            else:
                if appends and not mixed[port]:
                    first_changeable()
                if check is not None:
                    check(item, edges[0])
                if appends:
                    copier = copier_of(item)
                    try:  # all, before any is kept
                        made = [copier(item) for _ in rest]
                    except Exception:  # say which edge, and why (CannotSend)
                        made = [copy(item, edge) for edge in rest]
                    for a, m in zip(appends, made, strict=True):
                        a(m)
            if watch is not None:
                for edge in edges:
                    watch.send(self.name, edge, item)
            append(item)
        return add

    @staticmethod
    def _copy(msg: Any, edge: Edge) -> Any:
        try:
            return copy_any(msg)
        except Exception as exc:
            error = CopyError(
                f"fanout gives every receiver its own copy, and this message cannot be "
                f"copied ({exception_text(exc, 300)}). Send plain data such as numbers, "
                f"strings, lists, dicts or tuples instead.")
            error.__cause__ = exc
            raise CannotSend(error, msg, f"could not send {short_repr(msg)} along the "
                              f"edge {edge.label}") from None

    # --- failures -----------------------------------------------------------------
    def fail(self, exc: BaseException, msg: Any = None, has_message: bool = True,
             detail: str | None = None) -> None:
        """Record that the node failed; from now on what reaches it is discarded."""
        self.state = "failed"
        self.stats.failed += 1 if has_message else 0
        self.failure = NodeFailure(self.node, exc, msg, has_message, detail, name=self.name)
        if self.watch is not None:
            self.watch.fail(self.name, msg, exc)

    def _failed_on(self, exc, edge, batch, done, dropped):
        """The function raised on ``batch[done]`` (or its result cannot be sent): count what was
        handled, discard the rest."""
        self.stats.received += done + 1
        self.stats.dropped += dropped
        if isinstance(exc, CannotSend):
            self.fail(exc.error, exc.message, detail=exc.detail)
        else:
            self.fail(exc, batch[done])
        self._discard(edge, batch[done + 1:])

    def _discard(self, edge, batch):
        self.stats.discarded += len(batch)
        if self.watch is not None:
            for msg in batch:
                self.watch.discard(self.name, edge, msg)

    # --- helpers --------------------------------------------------------------------
    def _told_sink(self, messages):
        for observer in self.on_sink:
            observer.sink_received(self, messages)

    def _bad_split_result(self, items):
        k = self.node.num_outputs
        kind = type(items).__name__
        got = (f"a list of {len(items)}" if type(items) in (list, tuple)
               else f"{short_repr(items)} ({'an' if kind[0] in 'aeiou' else 'a'} {kind})")
        return (
            f"split '{self.name}' has {k} outputs, so its function must return a list of "
            f"{k} items, one per output (None means 'send nothing there'), but it returned {got}."
        )


class CannotSend(Exception):
    """A result cannot be copied for fanout, or cannot travel (pickled, on Ray): it fails its node."""

    def __init__(self, error, message, detail):
        super().__init__(error)
        self.error, self.message, self.detail = error, message, detail


def wiring(net: Graph) -> dict[str, list[list[Edge]]]:
    """Per node name, the edges leaving each of its output ports.

    They are ordered by receiver (in the network's node order), then by the
    receiver's input port, then as listed: every scheduler uses this order, so
    the same receiver of a fanout gets the original under each of them.
    """
    outs = {net.name_of(n): [[] for _ in range(n.num_outputs or 1)] for n in net.nodes}
    for node in net.nodes:
        for port in range(node.num_inputs or 1):
            for e in net.edges:
                if e.dst is node and (e.dst_port or 0) == port:
                    outs[net.name_of(e.src)][e.src_port or 0].append(e)
    return outs
