"""The live view: while a network runs in Jupyter, the diagram and each path's results update on screen.

``g.run_network()`` shows it by default in a Jupyter kernel (``live=False``
turns it off). This module is imported only then: plain Python never loads
Jupyter code.

How it stays cheap and safe:

* Node threads never touch widgets. A sink's thread only appends what it
  received to a short buffer under a lock (:meth:`LiveView.sink_received`).
* The thread that called ``run_network`` is the one publisher. While it waits
  for the nodes it reads those buffers, the nodes' states and the edge counts
  at most ``RATE`` times a second (:meth:`LiveView.tick`) and sets the
  widget's value only when something changed, however many messages flow.
* The view appears after the first interval, or at the end of a run that is
  over sooner: a run over in a blink costs one widget, shown once, final.
* When the run ends (finished, failed, timed out or interrupted) that thread
  draws the final state, which stays on screen and is what an executed
  notebook stores. A clean finish is drawn by writing the counts into a
  picture laid out while the nodes ran (:class:`_Counts`), or by an earlier
  run of the same picture (:class:`_LaidOut`).
* The whole view is one HTML widget, and one ``dot`` process is kept for all
  drawings (:class:`_DotProcess`): each widget or message costs the kernel
  time, and the runs being watched are often fast. Showing the widget waits
  for ipykernel to flush stdout or stderr only when it holds text
  (:func:`_display`).

One panel per sink: a sink reached by several paths gets one panel titled with
all of its paths (results there interleave as they arrive; when they arrive
along several edges, each is tagged with the node it came from).

What a notebook stores: the view's output carries the widget (what JupyterLab
shows, from the widget state an executed notebook keeps) and, next to it, a
static copy of the same page as ``text/html`` and a plain-text stand-in. The
static copy is set again when the run ends (an ``update_display_data`` message
to the same output, only when the view was shown before the end), so it always
holds the final state: that is what renderers without widgets show (GitHub,
nbviewer without its network, ``jupyter nbconvert --to html`` offline with the
project's ``jupyter_nbconvert_config.json``, which prefers it). For example::

    jupyter nbconvert --to notebook --execute --inplace \\
        --ExecutePreprocessor.store_widget_state=True lesson.ipynb
"""

import html
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import deque

from .errors import short_repr

#: results shown per panel (the newest); the panel also shows the total count
LATEST = 50
#: most updates per second sent to the browser
RATE = 10
#: results shown in all panels together at most (each panel shows at least MIN_ROWS)
MAX_ROWS = 400
MIN_ROWS = 5
#: path titles listed in one panel's heading before "and N more paths"
MAX_TITLES = 3
#: pictures of networks kept laid out, ready for their counts (the most recently used)
LAID_OUT = 32

_warned_no_widgets = False


def in_kernel():
    """True inside a running Jupyter kernel; never imports IPython to find out."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def live_view(net, live):
    """The observer showing the live view for one run of ``net``, or None when there is none.

    ``live`` is what was passed to ``run_network``: None (show it in Jupyter)
    or True (insist on it).
    """
    global _warned_no_widgets
    if live is not None and not isinstance(live, bool):
        raise TypeError(
            f"run_network(live=...) must be True (show the live view), False (don't) or "
            f"left out (show it when running in Jupyter), but got {live!r}."
        )
    if not in_kernel():
        if live:
            warnings.warn(
                "run_network(live=True): there is no Jupyter kernel here to show the live view "
                "in, so the network runs without it. Run it in JupyterLab to watch it live.",
                stacklevel=3,
            )
        return None
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        if live or not _warned_no_widgets:
            _warned_no_widgets = True
            warnings.warn(
                "The live view needs the ipywidgets package, which this kernel does not have, "
                "so the network runs without it. Install it with "
                "pip install 'dissyslab[notebook]' (or pip install ipywidgets) and restart "
                "the kernel.",
                stacklevel=3,
            )
        return None
    return LiveView(net)


class _SinkLog:
    """What one sink has received so far: a count and its newest chunks of messages."""

    __slots__ = ("count", "chunks", "tagged")

    def __init__(self, rows, tagged):
        self.count = 0
        # (sender name or None, messages): ``rows`` chunks always hold the newest ``rows``
        self.chunks = deque(maxlen=rows)
        self.tagged = tagged


def _newest(chunks, n):
    """The newest ``n`` messages of ``chunks`` as (sender, message) pairs, oldest first."""
    out = []
    for sender, msgs in reversed(chunks):
        out.extend((sender, m) for m in reversed(msgs[-(n - len(out)):]))
        if len(out) >= n:
            break
    out.reverse()
    return out


class LiveView:
    """One HTML widget showing one run of a network: its diagram and a panel of results per sink.

    It is a runtime observer (``started``, ``sink_received``, ``tick``, ``finished``).
    The view appears once the run has gone on for one update interval, or when
    it ends if that is sooner: a run over in a blink shows just its final state.
    ``show=False`` builds and updates the widget without displaying it.
    The page carries the state as data attributes (``data-outcome``,
    ``data-sink``, ``data-count``, ``data-state``) for tests and tools.
    """

    def __init__(self, net, *, latest=LATEST, rate=RATE, show=True):
        self.net = net
        self.interval = 1.0 / rate
        self.show = show
        self.shown = False
        self._shown_final = False  # the output shown holds the final state as its static copy
        self._display_id = None
        self.run = None
        self.outcome = "running"
        self.error = None  # what went wrong updating the view, if anything: then it is left alone
        self._lock = threading.Lock()  # guards the sink logs
        self._widget = None
        self._value = None  # the widget's HTML
        self._drawing = _Drawing(net)
        self._next_update = 0.0
        self._picture = None  # what the shown diagram was drawn from
        self._next_drawing = 0.0
        self._shown_key = None
        self._loops = []  # (loop as "a → b → a", messages going round it, quiet) per loop
        self._diagram_html = self._drawing.placeholder()
        self._snapshot_note = ""  # a snapshot being taken, or how many were taken

        self.sinks = []  # sink names, in the order their first path appears
        self.titles = {}  # sink name -> its path names
        name_of = net.name_of
        for p in net.paths():
            name = name_of(p[-1])
            if name not in self.titles:
                self.sinks.append(name)
                self.titles[name] = []
            self.titles[name].append(" → ".join(name_of(n) for n in p))
        for s in net.sinks:
            if name_of(s) not in self.titles:
                self.sinks.append(name_of(s))
                self.titles[name_of(s)] = [name_of(s)]
        self._above = {name: _ancestors(net, name) for name in self.sinks}
        # panels of sinks inside a sub-network are grouped under its name (None: outside any)
        part_of = getattr(net, "part_of", None)
        self.groups = {None: []}  # the panels outside any sub-network come first
        for name in self.sinks:
            part = part_of(name) if part_of is not None and net.parts else None
            self.groups.setdefault(part, []).append(name)
        if not self.groups[None]:
            del self.groups[None]
        # many panels show fewer results each, so the page stays small
        self.rows = max(1, min(latest, max(MIN_ROWS, MAX_ROWS // len(self.sinks))))
        self._logs = {}
        for name in self.sinks:
            senders = {id(e.src) for e in net.in_edges(name)}
            self._logs[name] = _SinkLog(self.rows, tagged=len(senders) > 1)

    # --- display ---------------------------------------------------------
    @property
    def widget(self):
        """The ``ipywidgets.HTML`` widget holding the view, made when first needed."""
        if self._widget is None:
            self._set(self._value or self._html())
        return self._widget

    def _set(self, value):
        self._value = value
        if self._widget is not None:
            self._widget.value = value
            return
        import ipywidgets as widgets

        layout, style = _shared_looks()
        self._widget = widgets.HTML(value=value, layout=layout, style=style,
                                    _dom_classes=("dissyslab-live",))

    def _repr_mimebundle_(self, **kwargs):
        # what the widget's own bundle holds, with a static copy of the page for renderers
        # without widgets, and a text stand-in that is the same at every run
        view = {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id}
        return {"application/vnd.jupyter.widget-view+json": view,
                "text/html": self._value, "text/plain": self.text()}

    def text(self):
        """A plain-text stand-in where widgets cannot be shown; the same at every run."""
        n = len(self.sinks)
        lines = [f"Live view of the network: {n} result panel{'s' if n != 1 else ''}"]
        for part, names in self.groups.items():
            if part is not None:
                lines.append(f"  in sub-network {part}:")
            for name in names:
                lines.extend(f"  {'  ' if part is not None else ''}{t}" for t in self.titles[name])
        return "\n".join(lines)

    def _show(self, final=False):
        """Show the view; at the end, give the output shown earlier its final static copy."""
        if not self.show or self._shown_final:
            return
        if not self.shown:
            self._display_id = uuid.uuid4().hex
            _display(self._repr_mimebundle_(), self._display_id)
            self.shown = True
        elif final:  # the widget has its final value already: only its static copy lags
            _display(self._repr_mimebundle_(), self._display_id, update=True)
        self._shown_final = final

    # --- the runtime's observer calls --------------------------------------
    def started(self, run):
        """The run is about to start (calling thread): have the final picture laid out meanwhile."""
        self.run = run
        self.outcome = "running"
        self._shown_final = False
        self._snapshot_note = ""
        self._next_update = time.monotonic() + self.interval
        with self._lock:
            for log in self._logs.values():
                log.count = 0
                log.chunks.clear()
        self._drawing.prepare()

    def sink_received(self, worker, messages):
        """A sink took ``messages`` (on that sink's thread): remember them, nothing more."""
        log = self._logs[worker.name]
        sender = None
        if log.tagged:
            edge = worker.edge
            sender = self.net.name_of(edge.src) if edge is not None else None
        tail = messages[-self.rows:]  # a copy: the newest are all the view will show
        with self._lock:
            log.count += len(messages)
            log.chunks.append((sender, tail))

    def tick(self):
        """The run goes on (calling thread, every few ms): show and update the view at its rate."""
        if self.error is not None:
            return
        try:
            self._drawing.collect()  # the final picture, laid out by now: not left to the end
            now = time.monotonic()
            if now >= self._next_update:
                self._next_update = now + self.interval
                self.publish()
                self._show()
        except Exception as exc:  # the view must never break a run: say what went wrong
            self.error = exc
            try:
                self._set((self._value or self._html()) + _note(
                    f"The live view stopped updating ({type(exc).__name__}: {exc}); "
                    f"the network itself is not affected."))
            except Exception:
                pass

    def finished(self, run, outcome):
        """The run has ended (calling thread): show its final state, which stays on screen."""
        self.outcome = outcome
        try:
            self.publish(final=True)
            self._show(final=True)
        except Exception as exc:  # the run's own outcome and errors must still come through
            self.error = exc
        if self.error is not None:
            warnings.warn(
                f"The live view could not be updated ({type(self.error).__name__}: "
                f"{self.error}). The network itself is not affected; "
                f"run_network(live=False) runs it without the view.",
                RuntimeWarning, stacklevel=5)

    # --- publishing ------------------------------------------------------
    def publish(self, final=False):
        """Set the widget from the run's current state, if anything changed."""
        run = self.run
        states = {name: w.state for name, w in run.nodes.items()}
        # taken before sent, so that a message is never counted as taken and not sent
        # a message a node is handling right now is not waiting any more (unless the run is over)
        in_hand = run.edge_in_hand if not final else dict.fromkeys(self.net.edges, 0)
        taken = run.edge_received
        discarded = run.edge_discarded
        counts = {e: run.edge_counts[e] for e in self.net.edges}
        # faults (faults.py): a lost message waits nowhere; a duplicate's copy waits as well
        lost, copies = run.edge_lost, run.edge_duplicated
        waiting = {e: max(0, counts[e] + copies[e] - taken[e] - discarded[e] - lost[e] - in_hand[e])
                   for e in self.net.edges}
        with self._lock:
            snapshot = {name: (log.count, list(log.chunks)) for name, log in self._logs.items()}
        # a crash asked for in faults= (faults.py) is a fault, not an error: its node shows "crashed"
        failures = {name: w.failure for name, w in run.nodes.items()
                    if w.failure is not None and not getattr(w.failure, "injected", False)}

        # a snapshot being taken (snapshots.py): the nodes that have recorded, the edges recorded
        recorded, recording = set(), set()
        notes = []
        for rec in () if final else tuple(run.recordings):
            nodes, edges = rec.progress()
            recorded.update(nodes)
            recording.update(edges)
            notes.append(f"taking snapshot {rec.number}: {len(nodes)} of {len(states)} nodes "
                         f"recorded")
        kept = len(run.snapshots)
        if kept:
            notes.append(f"{kept} snapshot{'s' if kept != 1 else ''} taken")
        self._snapshot_note = "; ".join(notes)
        marks = (tuple(n in recorded for n in states), tuple(e in recording for e in self.net.edges))
        picture = (final, tuple(states.values()), tuple(counts.values()), tuple(waiting.values()),
                   marks)
        if picture != self._picture and (final or time.monotonic() >= self._next_drawing):
            began = time.monotonic()
            # a run that did not end cleanly is drawn with each node's counters and errors
            troubled = final and (self.outcome != "finished" or bool(failures))
            try:
                drawn = self._drawing.draw(states, counts, waiting, stats=troubled,
                                           recorded=recorded, recording=recording)
            except Exception as exc:  # the panels are still worth showing
                self.error = exc
                drawn = (f'<div class="dsl-diagram dsl-muted" data-drawn="no">The diagram could '
                         f'not be drawn ({html.escape(type(exc).__name__)}: '
                         f'{html.escape(str(exc))}).</div>')
            # a slow drawing (a big network) is redrawn less often, so the panels stay lively
            self._next_drawing = time.monotonic() + 2 * (time.monotonic() - began)
            self._picture = picture
            if drawn is not None:
                self._diagram_html = drawn

        # each loop's count of messages still going round it (flow.py), while it runs
        self._loops = [(loop.describe(), loop.outstanding, loop.quiet) for loop in run.flow.loops]
        key = (self.outcome, self._picture, self._snapshot_note, tuple(states.values()),
               tuple(c for c, _ in snapshot.values()), len(failures), tuple(self._loops))
        if key != self._shown_key:
            self._shown_key = key
            self._set(self._html(states, snapshot, failures))

    # --- HTML ------------------------------------------------------------
    def _html(self, states=None, snapshot=None, failures=None):
        failures = failures or {}
        parts = [_STYLE, '<div class="dsl-live tex2jax_ignore mathjax_ignore">',
                 self._status_html(failures), self._loops_html(), self._diagram_html]
        for part, names in self.groups.items():
            if part is not None:  # the panels of the sinks inside one sub-network, together
                parts.append(f'<div class="dsl-group" data-part="{html.escape(part)}">'
                             f'<div class="dsl-group-head">sub-network '
                             f'<b>{html.escape(part)}</b></div>')
            parts.append('<div class="dsl-panels">')
            for name in names:
                count, chunks = snapshot[name] if snapshot else (0, [])
                recent = _newest(chunks, self.rows)
                state, failed = self._panel_state(name, states or {}, failures)
                parts.append(self._panel_html(name, count, recent, state, failed))
            parts.append("</div></div>" if part is not None else "</div>")
        parts.append("</div>")
        return _inline("".join(parts))

    def _loops_html(self):
        """One line per loop: the messages going round it now, so an endless loop shows itself.

        A loop ends once its count is 0 (and nothing more can come in): a count that
        never gets back to 0 while the results keep coming is a loop that never ends.
        """
        lines = []
        for label, outstanding, quiet in self._loops:
            n = f"{outstanding:,} message{'s' if outstanding != 1 else ''}"
            if quiet:
                text, ink = "quiet: no message left in it, so it has ended", "#1a7f37"
            elif self.outcome == "running":
                text, ink = f"{n} going round", "#8a5a00"
            else:
                text, ink = f"{n} still going round when it was stopped", "#b42318"
            lines.append(
                f'<div class="dsl-loop" data-loop="{html.escape(label)}" '
                f'data-outstanding="{outstanding}" style="font-size:12px;margin:0 0 4px 0">'
                f'<span style="color:{ink};font-weight:600">⟳ loop {html.escape(label)}</span>: '
                f'<span style="font-variant-numeric:tabular-nums">{html.escape(text)}</span></div>')
        return f'<div class="dsl-loops">{"".join(lines)}</div>' if lines else ""

    def _panel_state(self, name, states, failures):
        """(state word, failures on this sink's paths) for one panel."""
        failed = [failures[n] for n in self._above[name] if n in failures]
        if failed:
            return "failed", failed
        state = states.get(name, "waiting")
        if state == "done":
            return "done", []
        if state == "stopped" or self.outcome in ("timeout", "interrupted"):
            return "stopped", []
        return "running", []

    def _status_html(self, failures):
        n = len(failures)
        failed = f"{n} node{'s' if n != 1 else ''} failed"
        word, text = {
            "running": ("failed", f"Running, {failed}") if n else ("running", "Running"),
            "finished": ("failed", f"Finished, {failed}") if n else ("done", "Finished"),
            "timeout": ("stopped", "Stopped: timeout" + (f", {failed}" if n else "")),
            "interrupted": ("stopped", "Stopped: interrupted" + (f", {failed}" if n else "")),
        }[self.outcome]
        nodes, edges = len(self.net.nodes), len(self.net.edges)
        detail = f"{nodes} node{'s' if nodes != 1 else ''}, {edges} edge{'s' if edges != 1 else ''}"
        note = ""
        if self._snapshot_note:
            note = (f'<span class="dsl-snapshot" style="color:#C2185B">'
                    f'{html.escape(self._snapshot_note)}</span>')
        return (f'<div class="dsl-status" data-outcome="{self.outcome}">{_pill(word, text)}'
                f'<span class="dsl-muted">{detail}</span>{note}</div>')

    def _panel_html(self, name, count, recent, state, failed):
        titles = self.titles[name]
        title = "".join(f'<div class="dsl-path">{_path_html(t)}</div>'
                        for t in titles[:MAX_TITLES])
        if len(titles) > MAX_TITLES:
            more = len(titles) - MAX_TITLES
            title += f'<div class="dsl-muted">and {more} more path{"s" if more != 1 else ""}</div>'
        tagged = self._logs[name].tagged
        first = count - len(recent) + 1
        rows = []
        for i, (sender, msg) in enumerate(recent):
            tag = (f'<span class="dsl-from">← {html.escape(sender)}</span>'
                   if tagged and sender is not None else "")
            rows.append(f'<li data-index="{first + i}"><span class="dsl-i">{first + i}</span>'
                        f'<span class="dsl-v">{html.escape(short_repr(msg, 200))}</span>{tag}</li>')
        rows.reverse()  # newest first in the page: column-reverse shows it at the bottom
        if rows:
            body = f'<ol class="dsl-results">{"".join(rows)}</ol>'
        else:
            body = (f'<div class="dsl-results dsl-empty">'
                    f'{"no results yet" if state == "running" else "no results"}</div>')
        footer = ""
        if count > len(recent):
            footer = (f'<div class="dsl-more">showing the newest {len(recent):,} '
                      f'of {count:,}</div>')
        errors = "".join(f'<div class="dsl-error">✗ {html.escape(f.summary())}</div>'
                         for f in failed)
        noun = "result" if count == 1 else "results"
        return (f'<div class="dsl-panel" data-sink="{html.escape(name)}" data-count="{count}" '
                f'data-state="{state}"><div class="dsl-head"><div class="dsl-title">{title}</div>'
                f'<div class="dsl-side"><span class="dsl-count">{count:,} {noun}</span>'
                f'{_pill(state, state)}</div></div>{body}{footer}{errors}</div>')


def _display(bundle, display_id=None, update=False):
    """Show ``bundle`` in the cell's output, as ``IPython.display.publish_display_data`` does.

    ``display_id`` names the output, so that ``update=True`` can replace what it shows.

    Before each display ipykernel flushes stdout and stderr, so that text printed
    earlier comes out first. Each flush waits for the kernel's IO thread, even
    with nothing to send: together about 1.5 ms, most of what a short run's view
    cost. So only a stream that holds text is flushed (and waited for) here,
    before the display is sent without ipykernel's own flushes. When the streams
    are not ipykernel's, or this cannot tell, it flushes both as usual.
    """
    from IPython import get_ipython
    from IPython.display import publish_display_data

    publisher = getattr(get_ipython(), "display_pub", None)
    streams = (sys.stdout, sys.stderr)
    options = {"transient": {"display_id": display_id}} if display_id is not None else {}
    if update:
        options["update"] = True
    with _display_lock:
        waiting = [_waiting_text(stream) for stream in streams]
        if (publisher is None or None in waiting
                or not callable(getattr(type(publisher), "_flush_streams", None))
                or "_flush_streams" in vars(publisher)):
            publish_display_data(bundle, **options)
            return
        for stream, text in zip(streams, waiting, strict=True):
            if text:
                stream.flush()
        publisher._flush_streams = _nothing
        try:
            publish_display_data(bundle, **options)
        finally:
            del publisher._flush_streams


_display_lock = threading.Lock()


def _nothing():
    pass


def _waiting_text(stream):
    """Whether ipykernel's ``stream`` holds text not sent yet: True, False, or None (cannot tell)."""
    pending = getattr(stream, "_flush_pending", None)
    buffers = getattr(stream, "_buffers", None)  # text a write is just adding
    if not isinstance(pending, bool) or buffers is None:
        return None
    return (pending or bool(getattr(stream, "_subprocess_flush_pending", False))
            or any(b.tell() for b in list(buffers.values())))


def _shared_looks():
    """One Layout and one style model shared by every live view: each new model costs a message."""
    import ipywidgets as widgets
    from ipywidgets.widgets.widget_string import HTMLStyle

    if not _looks or any(getattr(w, "comm", None) is None for w in _looks):  # none, or closed
        _looks[:] = [widgets.Layout(width="100%", margin="0"), HTMLStyle()]
    return _looks


_looks = []


def _ancestors(net, name):
    """``name`` and every node with a path to it."""
    seen, todo = {name}, [name]
    while todo:
        for up in net.upstream(todo.pop()):
            if net.name_of(up) not in seen:
                seen.add(net.name_of(up))
                todo.append(net.name_of(up))
    return seen


class _Drawing:
    """Draws the network with :mod:`dissyslab.diagram`, or as text when Graphviz is missing."""

    def __init__(self, net):
        self.net = net
        self.reason = None
        self.diagram = None
        self._clean_end = None  # what prepare() asked dot for, then the _Counts made of it
        self._text_shown = False
        try:
            from . import diagram
        except ImportError as exc:
            self.reason = f"The diagram cannot be drawn here ({exc}), so here is the network as text"
            return
        self.diagram = diagram
        if not diagram.graphviz_package_available():
            self.reason = ("The graphviz Python package is not installed, so here is the "
                           "network as text. " + diagram.INSTALL_PY)
        elif not diagram.dot_available():
            self.reason = ("Graphviz's dot program is not installed, so here is the network "
                           "as text. " + diagram.INSTALL_DOT)

    def placeholder(self):
        if self.reason is None:
            return '<div class="dsl-diagram dsl-muted" data-drawn="no">drawing the network…</div>'
        return self._text()

    def _text(self):
        text = self.diagram.text(self.net) if self.diagram is not None else self.net.describe()
        return (f'<div class="dsl-diagram" data-drawn="text"><div class="dsl-muted">'
                f'{html.escape(self.reason)}</div><pre>{html.escape(text)}</pre></div>')

    def prepare(self):
        """Ask ``dot`` to lay out the picture of every node done, its edge counts to fill in.

        ``dot`` draws it while the nodes run. A run that ends cleanly is then
        drawn by writing its counts into this picture, without waiting for a
        layout while the cell waits to finish. The same picture (a cell run
        again builds the same network) is laid out, and written as DOT, only once.
        """
        self._clean_end = None
        if self.reason is not None:
            return
        try:
            done = {self.net.name_of(node): "done" for node in self.net.nodes}
            ones = dict.fromkeys(self.net.edges, 1)
            picture = self.diagram.picture(self.net, states=done, edge_counts=ones, waiting=ones)
            parts = _LaidOut.recall(picture.key)
            if parts is not None:
                self._clean_end = _Counts(parts, picture.arrows)
                return
            answer = _DotProcess.ask(self.diagram.digraph(picture).source)
            if answer is not None:
                self._clean_end = (answer, picture.key, picture.arrows)
        except Exception:  # then the end is laid out like any other picture
            pass

    def collect(self):
        """Parse the picture :meth:`prepare` asked for now if ``dot`` has drawn it, else later."""
        if isinstance(self._clean_end, tuple) and self._clean_end[0].arrived():
            try:
                self.clean_end()
            except Exception:  # then the end is laid out like any other picture
                self._clean_end = None

    def clean_end(self):
        """The picture :meth:`prepare` asked for, as a :class:`_Counts` (None if there is none)."""
        if isinstance(self._clean_end, tuple):
            answer, key, arrows = self._clean_end
            svg = answer.svg()
            self._clean_end = _Counts.parse(svg, arrows) if svg is not None else None
            if self._clean_end is not None:
                _LaidOut.keep(key, self._clean_end.parts)
        return self._clean_end

    def draw(self, states, counts, waiting=None, stats=False, recorded=(), recording=()):
        """The diagram as HTML with these node states and edge counts (None: nothing new).

        ``waiting``: ``{Edge: messages sent along it and not taken yet}``.
        ``recorded``, ``recording``: while a snapshot is taken, the nodes that have
        recorded their state and the edges whose messages are being recorded.
        """
        if self.reason is not None:
            if self._text_shown:
                return None
            self._text_shown = True
            return self._text()
        if not stats and not recorded and not recording and all(
                state == "done" for state in states.values()):
            clean_end = self.clean_end()
            if clean_end is not None:
                return self._html(clean_end.fill(counts, waiting))
        waiting = waiting if waiting is not None else dict.fromkeys(self.net.edges, 0)
        digraph = self.diagram.build(self.net, stats=stats, states=states, edge_counts=counts,
                                     waiting=waiting, recorded=recorded, recording=recording)
        return self._html(self._svg(digraph))

    def _svg(self, digraph):
        svg = _DotProcess.shared_render(digraph.source)
        return svg if svg is not None else self.diagram.svg(digraph)

    def _html(self, svg):
        # as wide as the page at most, scaled down no further than keeps its text readable
        return f'<div class="dsl-diagram" data-drawn="svg">{self.diagram.fitted_svg(svg)}</div>'


class _LaidOut:
    """The pictures :meth:`_Drawing.prepare` had laid out, kept for the next runs.

    They are found by :attr:`dissyslab.diagram.Picture.key`: equal keys give the
    same DOT text, so the same SVG.
    """

    _parts = {}  # picture key -> the _Counts parts of its SVG, the least recently used first
    _lock = threading.Lock()

    @classmethod
    def recall(cls, key):
        with cls._lock:
            parts = cls._parts.pop(key, None)
            if parts is not None:
                cls._parts[key] = parts
            return parts

    @classmethod
    def keep(cls, key, parts):
        with cls._lock:
            cls._parts.pop(key, None)
            cls._parts[key] = parts
            while len(cls._parts) > LAID_OUT:
                del cls._parts[next(iter(cls._parts))]


class _Counts:
    """An SVG diagram whose edge counts can be rewritten without laying it out again.

    The diagram gives each count a fixed-size cell with a transparent
    background, which the SVG draws as a box: a new count is written centred in
    that box, and an arrow no message crossed turns pale, as Graphviz draws it.
    Next to it, a second such cell says how many messages wait on the arrow.
    """

    # one arrow's group, up to the end of its count's text
    ARROW = re.compile(
        r'<g id="edge(?P<n>\d+)" class="edge">'
        r'(?P<body>(?:(?!</g>).)*?<polygon fill="(?:transparent|none)"[^>]*? '
        r'points="(?P<box>[^"]*)"/>\s*<text) text-anchor="start" x="[^"]*"'
        r'(?P<rest> y="[^"]*"[^>]*>)[^<]*(?=</text>)', re.S)

    # the cell after the count, up to the end of its text: the messages waiting
    WAIT = re.compile(
        r'(?P<body></text>\s*<polygon fill="transparent"[^>]*? points="(?P<box>[^"]*)"/>\s*<text)'
        r' text-anchor="start" x="[^"]*"(?P<rest> y="[^"]*"[^>]*>)[^<]*(?=</text>)')

    def __init__(self, parts, arrows):
        # text; (arrow index, its group drawn as usual, drawn pale) before each count;
        # (arrow index, text) before each number waiting
        self.parts = parts
        self.arrows = arrows

    @classmethod
    def parse(cls, svg, arrows):
        """A _Counts from an SVG of the diagram with edge counts, or None if it is not as expected."""
        from .diagram import WIRE, ZERO_WIRE

        parts, at, found, waits = [], 0, set(), set()
        for m in cls.ARROW.finditer(svg):
            xs = [float(point.split(",")[0]) for point in m.group("box").split()]
            body = (f'{m.group("body")} text-anchor="middle" x="{(min(xs) + max(xs)) / 2:g}"'
                    f'{m.group("rest")}')
            pale = re.sub(re.escape(WIRE), ZERO_WIRE.lower(), body, flags=re.I)
            index = int(m.group("n")) - 1
            parts += [svg[at:m.start("body")], (index, body, pale)]
            found.add(index)
            at = m.end()
            w = cls.WAIT.match(svg, at)
            if w is not None:
                xs = [float(point.split(",")[0]) for point in w.group("box").split()]
                parts.append((index, f'{w.group("body")} text-anchor="middle" '
                                     f'x="{(min(xs) + max(xs)) / 2:g}"{w.group("rest")}'))
                waits.add(index)
                at = w.end()
        parts.append(svg[at:])
        every = set(range(len(arrows)))
        return cls(parts, arrows) if found == every and waits in (set(), every) else None

    def fill(self, counts, waiting=None):
        """The SVG text with the arrows showing ``counts`` ({Edge: number of messages sent})
        and ``waiting`` ({Edge: number of those not taken yet}; None: none)."""
        from .diagram import count_text, wait_text

        out, sent, wait = [], 0, 0
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if len(part) == 3:
                index, body, pale = part
                sent = sum(counts.get(e, 0) for e in self.arrows[index])
                wait = min(sent, sum((waiting or {}).get(e, 0) for e in self.arrows[index]))
                out += [body if sent else pale, html.escape(count_text(sent - wait))]
            else:
                out += [part[1], html.escape(wait_text(wait))]
        return "".join(out)


class _DotProcess:
    """One ``dot -Tsvg`` process, kept for the kernel's life, that draws graph after graph.

    Starting ``dot`` costs ~10 ms; a kept one draws a small network in ~1 ms.
    A drawing can be asked for now and collected later (:meth:`ask`, then
    :meth:`_DotAnswer.svg`), so ``dot`` works while the nodes run. If it
    misbehaves once, pictures are drawn by :func:`dissyslab.diagram.svg` instead.
    """

    WAIT = 10.0  # seconds to wait for one picture before giving up on the process
    _shared = None
    _lock = threading.Lock()  # guards the process and the drawings it owes
    _broken = False

    @classmethod
    def shared_render(cls, source):
        """The SVG text of DOT ``source``, or None when the kept process cannot draw it."""
        drawing = cls.ask(source)
        return drawing.svg() if drawing is not None else None

    @classmethod
    def ask(cls, source):
        """Send DOT ``source`` to the kept process: a :class:`_DotAnswer`, or None if there is none."""
        if cls._broken:
            return None
        with cls._lock:
            if cls._shared is None or cls._shared.proc.poll() is not None:
                if os.name != "posix" or shutil.which("dot") is None:
                    cls._broken = True
                    return None
                cls._shared = cls()
            process = cls._shared
            if process.owed:  # one drawing at a time: a big one could fill both pipes
                process.read_until(process.owed[-1])
                if process.proc.poll() is not None:
                    return None
            answer = _DotAnswer(process)
            try:
                process.proc.stdin.write(source.encode("utf-8") + b"\n")
                process.proc.stdin.flush()
            except (OSError, ValueError):
                process.end()
                return None
            except BaseException:
                process.end(broken=False)
                raise
            process.owed.append(answer)
            return answer

    def __init__(self):
        # a session of its own: Jupyter interrupts a kernel by signalling its whole process
        # group, and dot, interrupted, writes its last picture again before it exits: the next
        # drawing asked for would then get that old one (an interrupted run's final picture)
        self.proc = subprocess.Popen(
            [shutil.which("dot"), "-Tsvg"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.owed = deque()  # the answers not read yet, in the order they were asked for
        self.unread = bytearray()  # what dot wrote beyond the last answer read

    def read_until(self, answer, wait=True):
        """Read dot's answers, in order, until ``answer`` has its own (the lock is held).

        ``wait=False``: read only what dot has written already.
        """
        try:
            fd = self.proc.stdout.fileno()
            deadline = time.monotonic() + self.WAIT
            while not answer.ready:
                end = self.unread.find(b"</svg>")
                if end < 0:
                    left = deadline - time.monotonic() if wait else 0
                    if not select.select([fd], [], [], max(left, 0))[0]:
                        if not wait:
                            return
                        raise TimeoutError("dot did not answer")
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        raise EOFError("dot ended")
                    self.unread += chunk
                    continue
                end += len(b"</svg>")
                text = self.unread[:end].decode("utf-8")
                del self.unread[:end]
                self.owed.popleft().set(
                    re.sub(r"<!-- Generated by graphviz[^>]*-->\n?", "", text).lstrip())
        except (OSError, ValueError, TimeoutError, EOFError):
            self.end()
        except BaseException:  # Ctrl-C while dot draws: start a new process next time
            self.end(broken=False)
            raise

    def end(self, broken=True):
        """Stop the process; every drawing it still owes comes back as None."""
        self.proc.kill()
        self.proc.wait()
        while self.owed:
            self.owed.popleft().set(None)
        if _DotProcess._shared is self:
            _DotProcess._shared = None
            _DotProcess._broken = broken


class _DotAnswer:
    """A drawing asked of the kept ``dot`` process; :meth:`svg` waits for it."""

    __slots__ = ("process", "ready", "text")

    def __init__(self, process):
        self.process, self.ready, self.text = process, False, None

    def set(self, text):
        self.text, self.ready = text, True

    def svg(self):
        """The SVG text, or None if the process could not draw it."""
        if not self.ready:
            with _DotProcess._lock:
                self.process.read_until(self)
        return self.text

    def arrived(self):
        """True once :meth:`svg` has its answer without waiting: reads what dot has written."""
        if not self.ready and _DotProcess._lock.acquire(blocking=False):
            try:
                self.process.read_until(self, wait=False)
            finally:
                _DotProcess._lock.release()
        return self.ready


def _path_html(title):
    return ' <span class="dsl-muted">→</span> '.join(html.escape(p) for p in title.split(" → "))


def _pill(state, text):
    return f'<span class="dsl-state dsl-{state}">{html.escape(text)}</span>'


def _note(text):
    return f'<div class="dsl-muted">{html.escape(text)}</div>'


# Calm colours; JupyterLab's theme variables where there is one, so a dark theme works too.
_STYLE = """<style>
.dsl-live{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;
 line-height:1.45;white-space:normal;color:var(--jp-content-font-color1,#1f2328);padding:4px 0}
.dsl-live .dsl-muted{color:var(--jp-content-font-color2,#656d76);font-size:12px}
.dsl-live .dsl-status{display:flex;align-items:center;gap:10px;margin:0 0 8px 0}
.dsl-live .dsl-diagram{text-align:center;margin:0 0 12px 0;overflow-x:auto;min-height:40px;
 width:0;min-width:100%}
.dsl-live .dsl-diagram svg{max-width:100%;height:auto;background:#fff;border-radius:8px}
.dsl-live .dsl-diagram pre{font-size:12px;margin:4px 0}
.dsl-live .dsl-panels{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.dsl-live .dsl-group{margin:12px 0 0 0;padding:8px 10px 10px 10px;border-radius:10px;
 border:1px dashed var(--jp-border-color1,#9aa5b1);background:var(--jp-layout-color2,#f7f9fb)}
.dsl-live .dsl-group-head{font-size:12px;margin:0 0 6px 0;
 color:var(--jp-content-font-color2,#656d76)}
.dsl-live .dsl-panel{flex:1 1 300px;max-width:560px;min-width:260px;overflow:hidden;
 border:1px solid var(--jp-border-color2,#d0d7de);border-radius:8px;
 background:var(--jp-layout-color1,#fff)}
.dsl-live .dsl-head{display:flex;justify-content:space-between;align-items:flex-start;gap:10px;
 padding:7px 10px;border-bottom:1px solid var(--jp-border-color2,#d0d7de);
 background:var(--jp-layout-color2,#f6f8fa)}
.dsl-live .dsl-title{font-family:var(--jp-code-font-family,ui-monospace,Menlo,monospace);
 font-size:12px;word-break:break-word}
.dsl-live .dsl-side{display:flex;flex-direction:column;align-items:flex-end;gap:3px;flex:none}
.dsl-live .dsl-count{font-size:12px;font-variant-numeric:tabular-nums}
.dsl-live .dsl-results{list-style:none;margin:0;padding:6px 10px;display:flex;
 flex-direction:column-reverse;max-height:220px;overflow-y:auto;
 font-family:var(--jp-code-font-family,ui-monospace,Menlo,monospace);font-size:12px}
.dsl-live .dsl-results li{display:flex;gap:10px;margin:0;padding:0}
.dsl-live .dsl-i{color:var(--jp-content-font-color3,#8c959f);min-width:3em;text-align:right;
 flex:none;font-variant-numeric:tabular-nums}
.dsl-live .dsl-v{white-space:pre-wrap;word-break:break-word}
.dsl-live .dsl-from{color:var(--jp-content-font-color2,#656d76);flex:none}
.dsl-live .dsl-empty{color:var(--jp-content-font-color2,#656d76);font-family:inherit}
.dsl-live .dsl-more{padding:4px 10px;border-top:1px solid var(--jp-border-color2,#d0d7de);
 color:var(--jp-content-font-color2,#656d76);font-size:11px}
.dsl-live .dsl-error{padding:6px 10px;border-top:1px solid var(--jp-border-color2,#d0d7de);
 color:#b42318;font-family:var(--jp-code-font-family,ui-monospace,Menlo,monospace);
 font-size:12px;white-space:pre-wrap;word-break:break-word}
.dsl-live .dsl-state{display:inline-block;padding:1px 9px;border-radius:10px;font-size:11px;
 font-weight:600;white-space:nowrap}
.dsl-live .dsl-running{color:#0b5cad;background:#ddf0ff}
.dsl-live .dsl-done{color:#1a7f37;background:#dcf5e3}
.dsl-live .dsl-failed{color:#b42318;background:#fde8e6}
.dsl-live .dsl-stopped{color:#8a5a00;background:#fff4d1}
</style>"""


def _class_styles(sheet):
    """{class: its declarations} for the rules of ``sheet`` that style one class alone."""
    styles = {}
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", sheet.split("<style>", 1)[-1]):
        last = selector.split()[-1] if selector.split() else ""
        for name in re.findall(r"\.([\w-]+)", last) if re.fullmatch(r"(\.[\w-]+)+", last) else ():
            styles[name] = styles.get(name, "") + " ".join(body.split()) + ";"
    return styles


#: the style sheet's rules as inline styles, per class: GitHub strips <style> from the
#: static copies it shows, but keeps the style attributes
_INLINE = _class_styles(_STYLE)
_CLASS_ATTR = re.compile(r'(<[a-z]+[^<>]*?\sclass="([^"]*)")')


def _inline(page):
    """``page`` with each element of a class in :data:`_STYLE` also carrying its rules inline."""
    def add(m):
        styles = "".join(_INLINE.get(c, "") for c in m.group(2).split())
        return f'{m.group(1)} style="{styles}"' if styles and "style=" not in m.group(1) else m.group(1)
    return _CLASS_ATTR.sub(add, page)
