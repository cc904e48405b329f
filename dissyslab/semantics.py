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
``hand_over(port, items)``, which gives every edge leaving that port its own
batch (fanout: the first edge gets the originals, the others copies).

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

from .copying import all_immutable, copy_batch, copy_message
from .errors import CopyError, NodeFailure, exception_text, short_repr
from .nodes import Node, NodeStats

if TYPE_CHECKING:
    from .graph import Edge, Network
    from .observers import Events, Observer


class Stop(BaseException):
    """Raised by a scheduler inside a node's function to stop it (timeout, Ctrl-C).

    It is not a failure of the node, so nothing here catches it.
    """


class NodeRun:
    """One node during one run: its function, its counters, and what waits to be sent.

    ``outs[port]`` lists the edges leaving each output port, in the order they
    were wired. ``state`` is "waiting", "busy" (set by the scheduler while the
    node works), "done", "failed" or "stopped".
    """

    def __init__(self, node: Node, outs: list, watch: Events | None = None,
                 on_sink: list[Observer] | tuple = (), name: str | None = None) -> None:
        self.node = node
        self.name = node.name if name is None else name  # the network's name for the node
        self.kind = node.kind
        self.call = partial(node.fn, **node.params) if node.params else node.fn
        self.outs = outs
        self.out = [[] for _ in outs]  # per output port: results not yet handed over
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
        self._handle = getattr(self, "_take_" + node.kind, None)
        self.received_on = {}  # per edge into the node: messages it handled
        self.in_hand = None  # (edge, how many) while take() handles messages that came along it
        self.discarded_on = {}  # per edge into the node: messages thrown away after a failure

    def take(self, port: int, edge: Edge, batch: list) -> None:
        """``batch`` arrived at input ``port`` along ``edge``, in order: handle it (one method per kind)."""
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
        call, out, watch = self.call, self.out[0], self.watch
        made = 0
        try:
            while made < k:
                msg = call()
                if msg is None:
                    self.exhausted = True
                    return
                out.append(msg)
                made += 1
                if watch is not None:
                    watch.emit(self.name, msg)
                    self._sends(0, msg)
        except Stop:
            raise
        except BaseException as exc:
            self.exhausted = True
            self.fail(exc, None, has_message=False)

    # --- one method per kind that receives ----------------------------------
    def _take_transform(self, port: int, edge, batch: list) -> None:
        self.edge = edge
        call, out, watch, name = self.call, self.out[0], self.watch, self.name
        done = dropped = 0
        try:
            for msg in batch:
                if watch is not None:
                    watch.receive(name, edge, msg)
                result = call(msg)
                if result is None:
                    dropped += 1
                    if watch is not None:
                        watch.drop(name, msg)
                else:
                    out.append(result)
                    if watch is not None:
                        self._sends(0, result)
                done += 1
        except Stop:
            raise
        except BaseException as exc:
            self._failed_on(exc, edge, batch, done, dropped)
            return
        self.stats.received += done
        self.stats.dropped += dropped

    def _take_sink(self, port: int, edge, batch: list) -> None:
        self.edge = edge
        call, watch, name = self.call, self.watch, self.name
        done = 0
        try:
            for msg in batch:
                if watch is not None:
                    watch.receive(name, edge, msg)
                call(msg)
                done += 1
        except Stop:
            raise
        except BaseException as exc:
            self._told_sink(batch[:done])
            self._failed_on(exc, edge, batch, done, 0)
            return
        self.stats.received += done
        self._told_sink(batch)

    def _take_split(self, port: int, edge, batch: list) -> None:
        self.edge = edge
        call, out, watch, name = self.call, self.out, self.watch, self.name
        k, skipped = len(out), self.skipped
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
                    out[p].append(item)
                    sent = True
                    if watch is not None:
                        self._sends(p, item)
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

    def _take_merge_synch(self, port: int, edge, batch: list) -> None:
        self.edge = edge
        watch, buffers, out = self.watch, self.buffers, self.out[0]
        if watch is not None:
            for msg in batch:
                watch.receive(self.name, edge, msg)
        buffers[port].extend(batch)
        self.stats.received += len(batch)
        while all(buffers):
            pair = [b.popleft() for b in buffers]
            out.append(pair)
            self.paired += 1
            if watch is not None:
                self._sends(0, pair)

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
        if self.watch is not None:
            self.watch.end(self.name, self.state)

    def stop(self) -> None:
        """The run was stopped (timeout, Ctrl-C) before this node ended."""
        if self.failure is None:
            self.state = "stopped"
        if self.watch is not None:
            self.watch.end(self.name, self.state)

    # --- handing results on -----------------------------------------------------
    def hand_over(self, port: int, items: list, copies: bool = True) -> list:
        """One batch per edge leaving ``port``: the first gets ``items``, the others copies.

        Every copy is made before any receiver can touch the original; messages
        that cannot change (numbers, strings...) are shared, not copied. If a
        message cannot be copied, the node fails naming it and the edge, and
        nothing of ``items`` is sent. ``copies=False`` is for a scheduler whose
        transport gives every receiver its own copy anyway (the Ray engine's
        pickling): every edge then gets ``items`` itself.
        """
        edges = self.outs[port]
        batches = [items]
        if len(edges) > 1 and not copies:
            batches = [items] * len(edges)
        elif len(edges) > 1:
            shared = all_immutable(items)
            try:
                for edge in edges[1:]:
                    batches.append(items[:] if shared else self._copies(items, edge))
            except _CopyFailed as failed:
                self.fail(failed.error, failed.message, detail=failed.detail)
                return [[] for _ in edges]
        counts = self.edge_counts
        for edge in edges:
            counts[edge] += len(items)
        self.stats.sent += len(items)
        return batches

    def _copies(self, items, edge):
        try:
            return copy_batch(items)
        except Exception:
            for msg in items:
                try:
                    copy_message(msg)
                except Exception as exc:
                    error = CopyError(
                        f"fanout gives every receiver its own copy, and this message cannot be "
                        f"copied ({exception_text(exc, 300)}). Send plain data such as numbers, "
                        f"strings, lists, dicts or tuples instead.")
                    error.__cause__ = exc
                    raise _CopyFailed(error, msg, f"could not send {short_repr(msg)} along the "
                                      f"edge {edge.label}") from None
            raise

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
        """The function raised on ``batch[done]``: count what was handled, discard the rest."""
        self.stats.received += done + 1
        self.stats.dropped += dropped
        self.fail(exc, batch[done])
        self._discard(edge, batch[done + 1:])

    def _discard(self, edge, batch):
        self.stats.discarded += len(batch)
        if self.watch is not None:
            for msg in batch:
                self.watch.discard(self.name, edge, msg)

    # --- helpers --------------------------------------------------------------------
    def _sends(self, port, msg):
        for edge in self.outs[port]:
            self.watch.send(self.name, edge, msg)

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


class _CopyFailed(Exception):
    def __init__(self, error, message, detail):
        super().__init__(error)
        self.error, self.message, self.detail = error, message, detail


def wiring(net: Network) -> dict[str, list[list[Edge]]]:
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
