"""Running a network: one thread per node, joined by bounded channels.

How a run works:

* Every node gets a thread and an inbox (a MergeSynch gets one inbox per input).
* Messages travel in small batches, so a fast stream costs little per message;
  a slow function's results are sent on at once, so nothing waits long.
* A fanout sends every receiver its own copy (``copying.py``).
* A node that has finished tells each receiver "end"; a node whose senders
  have all ended finishes too. That is how the end of the stream flows
  from the sources to the sinks.
* If a node's function raises, that node stops and its receivers end
  normally; what still reaches it is counted and thrown away, so its senders
  never block. The error is reported when the whole network has finished.
* The calling thread waits. On timeout or Ctrl-C it stops every node and
  waits for its thread to end.
"""

import ctypes
import functools
import threading
import time
import warnings
from collections import deque

from .copying import all_immutable, copy_batch, copy_message
from .errors import (
    CopyError,
    MergeSynchWarning,
    NetworkError,
    NetworkTimeout,
    NodeFailure,
    NodeStillRunningWarning,
    _short_repr,
)
from .graph import NodeStats
from .sources import ListSource

#: messages that may wait in front of a node before its senders pause
DEFAULT_CAPACITY = 10_000
#: most messages sent on together
BATCH = 256
#: seconds a result may wait to be batched with the next ones
LATENCY = 0.002
#: seconds given to the nodes to stop after a timeout or an interrupt
STOP_GRACE = 1.0


class _Stop(BaseException):
    """Raised inside a node's thread to stop it (timeout or interrupt)."""


class _Failed(Exception):
    """A node's function raised while handling ``message``."""

    def __init__(self, exception, message=None, has_message=True, detail=None):
        super().__init__(exception)
        self.exception = exception
        self.message = message
        self.has_message = has_message
        self.detail = detail


class Channel:
    """A FIFO of message batches from one or more senders to one receiver.

    ``put`` waits until the batch fits within ``capacity`` queued messages
    (None: no limit; a batch always fits into an empty channel).
    ``get`` returns every waiting batch at once, or None when every sender
    has ended and nothing is left.
    """

    def __init__(self, senders, capacity):
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._writable = threading.Condition(self._lock)
        self._batches = deque()
        self._size = 0
        self._capacity = capacity
        self._senders = senders
        self._discarding = False
        self._stopped = False
        self.discarded = 0

    def put(self, edge, batch, wait=True):
        with self._lock:
            if self._capacity is not None and wait:
                while (self._size and self._size + len(batch) > self._capacity
                       and not (self._discarding or self._stopped)):
                    self._writable.wait()
            if self._stopped:
                raise _Stop
            if self._discarding:
                self.discarded += len(batch)
                return
            self._batches.append((edge, batch))
            self._size += len(batch)
            self._readable.notify()

    def end(self):
        with self._lock:
            self._senders -= 1
            self._readable.notify()

    def get(self):
        with self._lock:
            while not self._batches:
                if self._stopped:
                    raise _Stop
                if self._senders <= 0:
                    return None
                self._readable.wait()
            if self._stopped:
                raise _Stop
            batches, self._batches, self._size = self._batches, deque(), 0
            self._writable.notify_all()
            return batches

    def discard(self):
        """The receiver has failed: from now on, count what arrives and drop it."""
        with self._lock:
            self._discarding = True
            self.discarded += self._size
            self._batches.clear()
            self._size = 0
            self._writable.notify_all()

    def stop(self):
        with self._lock:
            self._stopped = True
            self._readable.notify_all()
            self._writable.notify_all()


class _Worker:
    """The thread of one node: takes messages from its inbox, calls the function, sends results."""

    def __init__(self, run, node):
        self.run = run
        self.node = node
        self.stats = NodeStats()
        self.inboxes = []  # one per input (a MergeSynch has several)
        ports = node.num_outputs or 1
        self.outputs = [[] for _ in range(ports)]  # per output port: [(edge, channel)]
        self.pending = [[] for _ in range(ports)]  # per output port: results not yet sent
        self.sent_upto = [0] * ports  # per port: how many of them the run's thread sent
        self.send_lock = threading.Lock()
        self.skipped = [0] * ports  # per Split port: items that were None
        self.unpaired = {}
        self.last_sent = 0.0
        self._unread = 0
        self.edge = None  # the edge the current messages came along
        self.failure = None
        self.state = "waiting"
        fn = node.fn
        self.call = functools.partial(fn, **node.params) if node.params else fn
        self.body = getattr(self, "_run_" + node.kind)
        self.thread = threading.Thread(
            target=self._main, name=f"dissyslab {node.kind} {node.name}", daemon=True
        )

    # --- the thread ------------------------------------------------------
    def _main(self):
        try:
            try:
                self.body()
                self._send_all()
                self.state = "done"
            except _Failed as failed:
                self._record(failed)
                self._send_all()  # results made before the failure are kept
        except _Stop:
            self.state = "stopped"
        except _Failed as failed:  # the results made before the failure could not be sent
            if self.failure is None:
                self._record(failed)
        except BaseException as exc:  # a fault of the runtime itself: still reported
            self._record(_Failed(exc, has_message=False, detail="stopped unexpectedly"))
        finally:
            for outs in self.outputs:
                for _, channel in outs:
                    channel.end()
            self.run.finished(self)

    def _record(self, failed):
        self.state = "failed"
        self.stats.failed += 1 if failed.has_message else 0
        self.failure = NodeFailure(
            self.node, failed.exception, failed.message, failed.has_message, failed.detail
        )
        for inbox in self.inboxes:
            inbox.discard()

    def _send(self, port):
        """Send the pending results of one output port to every edge leaving it."""
        if not self.pending[port]:
            return
        with self.send_lock:
            items, done = self.pending[port], self.sent_upto[port]
            self.pending[port], self.sent_upto[port] = [], 0
            self._deliver(port, items[done:] if done else items)

    def send_stalled(self, now):
        """Called from the run's thread: send on results that wait behind a long call.

        A function that was fast and then blocks (a source polling for data,
        say) would otherwise hold the results it already made until it returns.
        """
        if now - self.last_sent <= LATENCY or not self.send_lock.acquire(blocking=False):
            return
        try:
            for port, items in enumerate(self.pending):
                done, end = self.sent_upto[port], len(items)
                if end > done:
                    self._deliver(port, items[done:end], wait=False)
                    self.sent_upto[port] = end
        except (_Failed, _Stop):
            pass  # the node's own thread meets the same problem and reports it
        finally:
            self.send_lock.release()

    def _deliver(self, port, items, wait=True):
        if not items:
            return
        self.last_sent = time.perf_counter()
        outs = self.outputs[port]
        # every copy is made before any receiver can touch the original;
        # messages that cannot change (numbers, strings...) are shared, not copied
        shared = len(outs) > 1 and all_immutable(items)
        batches = [items] + [items[:] if shared else self._copies(items, edge)
                             for edge, _ in outs[1:]]
        for (edge, channel), batch in zip(outs, batches):
            channel.put(edge, batch, wait)
            self.run.edge_counts[edge] += len(batch)
        self.stats.sent += len(items)

    def _send_all(self):
        for port in range(len(self.pending)):
            self._send(port)

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
                        f"copied ({type(exc).__name__}: {exc}). Send plain data such as numbers, "
                        f"strings, lists, dicts or tuples instead."
                    )
                    error.__cause__ = exc
                    raise _Failed(error, msg, detail=f"could not send {_short_repr(msg)} "
                                  f"along the edge {edge.label}") from None
            raise

    def _fail(self, exc, msg, has_message=True):
        if isinstance(exc, _Stop):
            raise exc
        raise _Failed(exc, msg, has_message) from None

    # --- one body per kind of node ---------------------------------------
    def _run_source(self):
        call, clock, largest = self.call, time.perf_counter, self.run.largest_batch
        pending = self.pending[0]
        self.state = "busy"
        size = 1
        while True:
            started = clock()
            for _ in range(size):
                try:
                    msg = call()
                except BaseException as exc:
                    self._fail(exc, None, has_message=False)
                if msg is None:
                    return
                pending.append(msg)
            now = clock()
            size = 1 if now - started > LATENCY else min(size * 2, largest)
            if len(pending) >= largest or now - self.last_sent > LATENCY:
                self._send(0)
                pending = self.pending[0]

    def _run_transform(self):
        call, stats = self.call, self.stats
        for chunk in self._chunks(0):
            pending = self.pending[0]
            dropped = 0
            try:
                for i, msg in enumerate(chunk):
                    result = call(msg)
                    if result is None:
                        dropped += 1
                    else:
                        pending.append(result)
            except BaseException as exc:
                self._failed_at(exc, msg, chunk, i, dropped)
            stats.received += len(chunk)
            stats.dropped += dropped

    def _run_split(self):
        call, stats = self.call, self.stats
        k = self.node.num_outputs
        pending, skipped = self.pending, self.skipped
        for chunk in self._chunks(0):
            dropped = 0
            try:
                for i, msg in enumerate(chunk):
                    items = call(msg)
                    if type(items) not in (list, tuple) or len(items) != k:
                        raise ValueError(self._bad_split_result(items))
                    sent = False
                    for port in range(k):
                        item = items[port]
                        if item is None:
                            skipped[port] += 1
                            continue
                        if any(item is other for other in items[:port]):
                            item = copy_message(item)  # one object sent to two ports: copy it
                        pending[port].append(item)
                        sent = True
                    if not sent:
                        dropped += 1
            except BaseException as exc:
                self._failed_at(exc, msg, chunk, i, dropped)
            stats.received += len(chunk)
            stats.dropped += dropped

    def _bad_split_result(self, items):
        k = self.node.num_outputs
        kind = type(items).__name__
        got = (f"a list of {len(items)}" if type(items) in (list, tuple)
               else f"{_short_repr(items)} ({'an' if kind[0] in 'aeiou' else 'a'} {kind})")
        return (
            f"split '{self.node.name}' has {k} outputs, so its function must return a list of "
            f"{k} items, one per output (None means 'send nothing there'), but it returned {got}."
        )

    def _run_sink(self):
        call, stats, observers = self.call, self.stats, self.run.observers
        for chunk in self._chunks(0):
            try:
                for i, msg in enumerate(chunk):
                    call(msg)
            except BaseException as exc:
                for observer in observers:
                    observer.sink_received(self, chunk[:i])
                self._failed_at(exc, msg, chunk, i, 0)
            stats.received += len(chunk)
            for observer in observers:
                observer.sink_received(self, chunk)

    def _failed_at(self, exc, msg, chunk, i, dropped):
        """The function raised on ``chunk[i]``: count what was done, then stop the node."""
        if isinstance(exc, _Stop):
            raise exc
        self.stats.received += i + 1
        self.stats.dropped += dropped
        self.stats.discarded += len(chunk) - i - 1 + self._unread
        raise _Failed(exc, msg) from None

    def _run_merge_synch(self):
        k = self.node.num_inputs
        buffers = [deque() for _ in range(k)]
        ended = [False] * k
        while True:
            for i in range(k):
                while not buffers[i] and not ended[i]:
                    ended[i] = not self._fill(i, buffers[i])
            if not all(buffers):
                break
            for _ in range(min(len(b) for b in buffers)):
                self.pending[0].append([b.popleft() for b in buffers])
                if len(self.pending[0]) >= self.run.largest_batch:
                    self._send(0)
            self._send(0)
        # One input has run out: take what the others still send, so they can finish.
        for i in range(k):
            while not ended[i]:
                ended[i] = not self._fill(i, buffers[i])
        self.unpaired = {i: list(b) for i, b in enumerate(buffers) if b}
        self.stats.dropped = sum(len(b) for b in buffers)

    def _fill(self, i, buffer):
        """Move what waits at input ``i`` into ``buffer``; False once that input has ended."""
        self.state = "waiting"
        batches = self.inboxes[i].get()
        self.state = "busy"
        if batches is None:
            return False
        for _, batch in batches:
            buffer.extend(batch)
            self.stats.received += len(batch)
        return True

    def _chunks(self, i):
        """The messages arriving at input ``i``, in chunks sized to the function's speed.

        A fast function gets large chunks (little overhead per message); a slow
        one gets one message at a time, and its results are sent on after each.
        """
        inbox, clock, largest = self.inboxes[i], time.perf_counter, self.run.largest_batch
        size = 1
        while True:
            self._send_all()  # nothing waits in this node while it waits for input
            self.state = "waiting"
            got = inbox.get()
            if got is None:
                return
            self.state = "busy"
            self._unread = sum(len(b) for _, b in got)
            for edge, batch in got:
                self.edge = edge
                pos, n = 0, len(batch)
                while pos < n:
                    chunk = batch if pos == 0 and size >= n else batch[pos:pos + size]
                    pos += len(chunk)
                    self._unread -= len(chunk)
                    started = clock()
                    yield chunk
                    now = clock()
                    size = 1 if now - started > LATENCY else min(size * 2, largest)
                    if now - self.last_sent > LATENCY:
                        self._send_all()


class _Run:
    """One run of a network: its workers, channels and outcome."""

    def __init__(self, net, capacity, observers=()):
        self.net = net
        self.largest_batch = min(BATCH, capacity)  # a batch never overfills a channel
        self.observers = list(observers)
        self.workers = {n.name: _Worker(self, n) for n in net.nodes}
        self.edge_counts = {e: 0 for e in net.edges}
        self._left = len(self.workers)
        self._lock = threading.Lock()
        self.done = threading.Event()
        self.channels = []
        for w in self.workers.values():
            node = w.node
            inputs = node.num_inputs or 1
            for port in range(inputs):
                edges_in = [e for e in net.edges if e.dst is node and (e.dst_port or 0) == port]
                if node.kind == "source":
                    break
                # a MergeSynch waits for one message from each input, so its inputs are not
                # bounded: a bound there could stop a fork from feeding the input it needs.
                ch = Channel(len(edges_in), None if node.kind == "merge_synch" else capacity)
                w.inboxes.append(ch)
                self.channels.append(ch)
                for e in edges_in:
                    self.workers[e.src.name].outputs[e.src_port or 0].append((e, ch))
        # the nodes whose results the run's thread may send on (see send_stalled)
        self.senders = [w for w in self.workers.values()
                        if w.node.kind in ("source", "transform", "split")]

    def send_stalled(self):
        now = time.perf_counter()
        for w in self.senders:
            w.send_stalled(now)

    def finished(self, worker):
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()

    def start(self):
        for w in self.workers.values():
            w.thread.start()

    def stop(self):
        """Stop every node and wait (at most a little over STOP_GRACE) for its thread to end."""
        for ch in self.channels:
            ch.stop()  # wakes every node that waits for input or for room
        deadline = time.monotonic() + STOP_GRACE
        alive = self.alive()
        while alive and time.monotonic() < deadline:
            for w in alive:
                w.thread.join(0.05)
                if w.state == "busy":  # inside its function: interrupt it there
                    _raise_in_thread(w.thread, _Stop)
            alive = self.alive()
        return alive

    def alive(self):
        return [w for w in self.workers.values() if w.thread.is_alive()]


def run(net, timeout=None, capacity=None, observers=()):
    """Run ``net`` (see :meth:`Network.run_network`).

    Each of ``observers`` (the live view, the tracer) is told ``started(run)``, then
    ``sink_received(worker, messages)`` from each sink's thread as messages
    arrive (it must be quick: it runs on the nodes' threads), ``tick()`` from
    the calling thread every few milliseconds while it waits, then
    ``finished(run, outcome)`` with outcome "finished", "timeout" or "interrupted".
    """
    capacity = check_arguments(timeout, capacity)
    begin(net)
    busy, stuck = "", []
    try:
        r = _Run(net, capacity, observers)
        attach(net, r)
        for observer in r.observers:
            observer.started(r)
        r.start()
        outcome = wait(r, timeout, tick=r.send_stalled)
        if outcome != "finished":
            busy, stuck = _busy(r), r.stop()
    finally:
        net._running = False
    net.state = {name: w.state for name, w in r.workers.items()}
    if stuck:
        warnings.warn(
            "These nodes were still inside their function when the network stopped: "
            + ", ".join(f"'{w.node.name}'" for w in stuck)
            + ". Each thread ends as soon as that call returns (a long time.sleep, say).",
            NodeStillRunningWarning, stacklevel=3)
    conclude(net, r, list(r.workers.values()), outcome, busy, timeout)


# --- the steps every run takes, threaded or seeded (replay.py) -----------------
def check_arguments(timeout, capacity):
    """Check ``timeout`` and ``capacity``; return the capacity to use."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout <= 0):
        raise ValueError(f"timeout must be a positive number of seconds, like timeout=5, "
                         f"but got {timeout!r}.")
    if capacity is None:
        return DEFAULT_CAPACITY
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be a whole number of messages of at least 1, "
                         f"but got {capacity!r}.")
    return capacity


def begin(net):
    """Mark ``net`` as running (once at a time) and rewind its ListSources."""
    if net._running:
        raise RuntimeError("This network is already running. Wait for that run to finish "
                           "before starting it again.")
    for node in net.sources:
        owner = getattr(node.fn, "__self__", None)
        if isinstance(owner, ListSource):
            owner.reset()
    net._running = True


def attach(net, r):
    """Let ``net`` show the counters of run ``r`` while it goes."""
    net._run = r
    net.stats = {name: w.stats for name, w in r.workers.items()}
    net.edge_counts = r.edge_counts
    net.failures, net.unpaired = [], {}


def wait(r, timeout, tick=None):
    """Wait for run ``r`` to end: "finished", "timeout" or "interrupted" (Ctrl-C)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not r.done.wait(LATENCY * 5):
            if tick is not None:
                tick()
            for observer in r.observers:
                observer.tick()
            if deadline is not None and time.monotonic() >= deadline:
                return "timeout"
    except KeyboardInterrupt:
        return "interrupted"
    return "finished"


def conclude(net, r, workers, outcome, busy, timeout, timeout_text=None):
    """Record how run ``r`` went on ``net``, tell the observers, then raise what went wrong."""
    try:
        for w in workers:
            w.stats.discarded += sum(ch.discarded for ch in w.inboxes)
        net.failures = [w.failure for w in workers if w.failure is not None]
        net.unpaired = {w.node.name: w.unpaired for w in workers if w.unpaired}
        _warn_merges(net, r)
    finally:  # whatever happened, the observers hear that the run ended
        for observer in r.observers:
            observer.finished(r, outcome)

    if outcome == "interrupted":
        raise KeyboardInterrupt(
            f"The network was interrupted and stopped.{busy} Results collected so far are kept."
        )
    if outcome == "timeout":
        text = timeout_text or (
            f"The network did not finish within {timeout:g} seconds, so it was stopped.{busy} "
            f"Results collected so far are kept. If it is just slow, give a larger timeout; "
            f"a source that never returns None never ends.")
        err = NetworkTimeout(text + (f"\n{NetworkError(net.failures)}" if net.failures else ""))
        err.failures = net.failures
        raise err
    if net.failures:
        discarded = {w.node.name: w.stats.discarded for w in workers
                     if w.failure is not None and w.stats.discarded}
        raise NetworkError(net.failures, discarded) from net.failures[0].exception


def _busy(r):
    """' Still running: ...' naming the nodes that had not finished, and what they were doing."""
    parts = []
    for w in r.workers.values():
        if w.state == "busy":
            parts.append(f"{w.node.kind} '{w.node.name}' (inside its function)")
        elif w.state == "waiting" and w.thread.is_alive():
            parts.append(f"{w.node.kind} '{w.node.name}' (waiting for messages)")
    return f" Still running: {', '.join(parts)}." if parts else ""


def _warn_merges(net, r):
    """Warn when a MergeSynch could not pair its inputs one to one."""
    for w in r.workers.values():
        node = w.node
        if node.kind != "merge_synch":
            continue
        for i, rest in w.unpaired.items():
            warnings.warn(
                f"merge '{node.name}': input in_{i} got {len(rest)} more message"
                f"{'s' if len(rest) != 1 else ''} than another input, so "
                f"{'they were' if len(rest) != 1 else 'it was'} never paired: "
                f"{_short_repr(rest, 120)}. {'They are' if len(rest) != 1 else 'It is'} kept in "
                f"g.unpaired[{node.name!r}][{i}].",
                MergeSynchWarning, stacklevel=5)
        for place, count in _exclusive_drops(net, r, node):
            warnings.warn(
                f"merge '{node.name}': {place} dropped {count} message{'s' if count != 1 else ''} "
                f"on the way into one input but not the others, so after the first drop the "
                f"lists it made may pair messages that do not belong together.",
                MergeSynchWarning, stacklevel=5)


def _exclusive_drops(net, r, merge):
    """(place, count) for each filter upstream of only some of ``merge``'s inputs that dropped."""
    def places_above(port):
        found, todo = set(), [e for e in net.edges if e.dst is merge and e.dst_port == port]
        while todo:
            e = todo.pop()
            place = (e.src.name, e.src_port)
            if place not in found:
                found.add(place)
                todo.extend(x for x in net.edges if x.dst is e.src)
        return found

    above = [places_above(i) for i in range(merge.num_inputs)]
    shared = set.intersection(*above)
    out = []
    for name, port in sorted(set.union(*above) - shared, key=lambda p: (p[0], p[1] or 0)):
        w = r.workers[name]
        count = w.skipped[port] if port is not None else w.stats.dropped
        if count and w.node.kind != "merge_synch":
            where = f"{w.node.kind} '{name}'" + ("" if port is None else f" (output out_{port})")
            out.append((where, count))
    return out


def _raise_in_thread(thread, exc_type):
    """Ask Python to raise ``exc_type`` in ``thread`` at its next Python instruction."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(exc_type))
