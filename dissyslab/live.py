"""The live view: while a network runs in Jupyter, the diagram and each path's results update on screen.

``g.run_network()`` shows it by default in a Jupyter kernel (``live=False``
turns it off). This module is imported only then: plain Python never loads
Jupyter code.

How it stays cheap and safe:

* Node threads never touch widgets. A sink's thread only appends what it
  received to a short buffer under a lock (:meth:`LiveView.sink_received`).
* One publisher thread (:class:`_Publisher`) reads those buffers, the nodes'
  states and the edge counts at most ``RATE`` times a second and sets the
  widget's value only when something changed, however many messages flow.
* When the run ends (finished, failed, timed out or interrupted) the calling
  thread draws the final state, which stays on screen and is what an executed
  notebook stores.
* The whole view is one HTML widget, and one ``dot`` process is kept for all
  drawings (:class:`_DotProcess`): each widget or message costs the kernel
  time, and the runs being watched are often fast.

One panel per sink: a sink reached by several paths gets one panel titled with
all of its paths (results there interleave as they arrive; when they arrive
along several edges, each is tagged with the node it came from).

An executed notebook keeps the final view in its widget state, so a static
render shows it; for example:
``jupyter nbconvert --to notebook --execute --ExecutePreprocessor.store_widget_state=True --inplace lesson.ipynb``
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
import warnings
from collections import deque

from .errors import _short_repr

#: results shown per panel (the newest); the panel also shows the total count
LATEST = 50
#: most updates per second sent to the browser
RATE = 10
#: results shown in all panels together at most (each panel shows at least MIN_ROWS)
MAX_ROWS = 400
MIN_ROWS = 5
#: path titles listed in one panel's heading before "and N more paths"
MAX_TITLES = 3

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

    It is a runtime observer (``started``, ``sink_received``, ``finished``).
    ``show=False`` builds and updates the widget without displaying it.
    The page carries the state as data attributes (``data-outcome``,
    ``data-sink``, ``data-count``, ``data-state``) for tests and tools.
    """

    def __init__(self, net, *, latest=LATEST, rate=RATE, show=True):
        import ipywidgets as widgets

        self.net = net
        self.interval = 1.0 / rate
        self.show = show
        self.run = None
        self.outcome = "running"
        self.publisher = None  # the thread updating this view while its network runs
        self.error = None  # what went wrong updating the view, if anything: then it is left alone
        self.publishing = threading.Lock()  # held while the widget is being updated
        self._lock = threading.Lock()  # guards the sink logs
        self._drawing = _Drawing(net)
        self._picture = None  # what the shown diagram was drawn from
        self._next_drawing = 0.0
        self._shown_key = None
        self._diagram_html = self._drawing.placeholder()

        self.sinks = []  # sink names, in the order their first path appears
        self.titles = {}  # sink name -> its path names
        for p in net.paths():
            name = p[-1].name
            if name not in self.titles:
                self.sinks.append(name)
                self.titles[name] = []
            self.titles[name].append(" → ".join(n.name for n in p))
        for s in net.sinks:
            if s.name not in self.titles:
                self.sinks.append(s.name)
                self.titles[s.name] = [s.name]
        self._above = {name: _ancestors(net, name) for name in self.sinks}
        # many panels show fewer results each, so the page stays small
        self.rows = max(1, min(latest, max(MIN_ROWS, MAX_ROWS // len(self.sinks))))
        self._logs = {}
        for name in self.sinks:
            senders = {e.src.name for e in net.in_edges(name)}
            self._logs[name] = _SinkLog(self.rows, tagged=len(senders) > 1)

        layout, style = _shared_looks()
        self.widget = widgets.HTML(value=self._html(), layout=layout, style=style,
                                   _dom_classes=("dissyslab-live",))

    # --- display ---------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        bundle["text/plain"] = self.text()
        return bundle

    def text(self):
        """A plain-text stand-in where widgets cannot be shown; the same at every run."""
        n = len(self.sinks)
        lines = [f"Live view of the network: {n} result panel{'s' if n != 1 else ''}"]
        for name in self.sinks:
            lines.extend(f"  {t}" for t in self.titles[name])
        return "\n".join(lines)

    # --- the runtime's observer calls --------------------------------------
    def started(self, run):
        """The run is about to start (calling thread): show the view, hand it to the publisher."""
        self.run = run
        self.outcome = "running"
        with self._lock:
            for log in self._logs.values():
                log.count = 0
                log.chunks.clear()
        try:
            if self.show:
                from IPython.display import publish_display_data

                publish_display_data(self._repr_mimebundle_())
            publisher = _Publisher(self)
            publisher.start()
            self.publisher = publisher
        except Exception as exc:  # a view that cannot be shown must not stop the run
            self.error = exc

    def sink_received(self, worker, messages):
        """A sink took ``messages`` (on that sink's thread): remember them, nothing more."""
        log = self._logs[worker.node.name]
        sender = None
        if log.tagged:
            edge = worker.edge
            sender = edge.src.name if edge is not None else None
        tail = messages[-self.rows:]  # a copy: the newest are all the view will show
        with self._lock:
            log.count += len(messages)
            log.chunks.append((sender, tail))

    def finished(self, run, outcome):
        """The run has ended (calling thread): stop the publisher and show the final state."""
        if self.publisher is None:  # the view could not be shown
            return self._warn()
        self.publisher.stop()
        self.outcome = outcome
        try:
            self.publish(final=True)
        except Exception as exc:  # the run's own outcome and errors must still come through
            self.error = exc
        self._warn()

    def _warn(self):
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
        states = {name: w.state for name, w in run.workers.items()}
        counts = {e: run.edge_counts[e] for e in self.net.edges}
        with self._lock:
            snapshot = {name: (log.count, list(log.chunks)) for name, log in self._logs.items()}
        failures = {name: w.failure for name, w in run.workers.items() if w.failure is not None}

        picture = (final, tuple(states.values()), tuple(counts.values()))
        if picture != self._picture and (final or time.monotonic() >= self._next_drawing):
            began = time.monotonic()
            # the final picture also shows each node's counters and a failed node's error
            drawn = self._drawing.draw(states, counts, stats=final)
            # a slow drawing (a big network) is redrawn less often, so the panels stay lively
            self._next_drawing = time.monotonic() + 2 * (time.monotonic() - began)
            self._picture = picture
            if drawn is not None:
                self._diagram_html = drawn

        key = (self.outcome, self._picture, tuple(states.values()),
               tuple(c for c, _ in snapshot.values()), len(failures))
        if key != self._shown_key:
            self._shown_key = key
            self.widget.value = self._html(states, snapshot, failures)

    # --- HTML ------------------------------------------------------------
    def _html(self, states=None, snapshot=None, failures=None):
        failures = failures or {}
        parts = [_STYLE, '<div class="dsl-live tex2jax_ignore mathjax_ignore">',
                 self._status_html(failures), self._diagram_html, '<div class="dsl-panels">']
        for name in self.sinks:
            count, chunks = snapshot[name] if snapshot else (0, [])
            recent = _newest(chunks, self.rows)
            state, failed = self._panel_state(name, states or {}, failures)
            parts.append(self._panel_html(name, count, recent, state, failed))
        parts.append("</div></div>")
        return "".join(parts)

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
        return (f'<div class="dsl-status" data-outcome="{self.outcome}">{_pill(word, text)}'
                f'<span class="dsl-muted">{detail}</span></div>')

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
                        f'<span class="dsl-v">{html.escape(_show(msg))}</span>{tag}</li>')
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


class _Publisher(threading.Thread):
    """The one thread that updates a view while its network runs, at most ``RATE`` times a second.

    One per run, started from the cell that runs the network, so that every
    version of ipykernel sends its updates to that cell. ``stop`` takes the
    view back, never in the middle of an update.
    """

    #: seconds after a run ended without telling its view before the view draws its end itself
    ORPHAN_AFTER = 1.0

    def __init__(self, view):
        super().__init__(name="live view publisher (dissyslab)", daemon=True)
        self.view = view
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        with self.view.publishing:  # waits for an update in progress
            pass

    def run(self):
        view, over_since = self.view, None
        while not self._stop_event.wait(view.interval):
            with view.publishing:
                if self._stop_event.is_set():
                    return
                try:
                    if view.net._running:
                        view.publish()
                        continue
                    # The run is over but its end was never reported (an exception escaped
                    # the runtime): after a grace period, draw the final state and stop.
                    now = time.monotonic()
                    over_since = over_since or now
                    if now - over_since < self.ORPHAN_AFTER:
                        continue
                    view.outcome = _outcome_from_states(view.run)
                    view.publish(final=True)
                except Exception as exc:  # the view must never break a run: say what went wrong
                    view.error = exc
                    try:
                        view.widget.value += _note(
                            f"The live view stopped updating ({type(exc).__name__}: {exc}); "
                            f"the network itself is not affected.")
                    except Exception:
                        pass
                return


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
            if up.name not in seen:
                seen.add(up.name)
                todo.append(up.name)
    return seen


def _outcome_from_states(run):
    states = [w.state for w in run.workers.values()]
    return "timeout" if "stopped" in states else "finished"


def _show(msg):
    try:
        return _short_repr(msg, 200)
    except Exception:
        return f"<{type(msg).__name__} that cannot be shown>"


class _Drawing:
    """Draws the network with :mod:`dissyslab.diagram`, or as text when Graphviz is missing."""

    def __init__(self, net):
        self.net = net
        self.reason = None
        self.diagram = None
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

    def draw(self, states, counts, stats=False):
        """The diagram as HTML with these node states and edge counts (None: nothing new)."""
        if self.reason is not None:
            if self._text_shown:
                return None
            self._text_shown = True
            return self._text()
        digraph = self.diagram.build(self.net, stats=stats, states=states, edge_counts=counts)
        svg = _DotProcess.shared_render(digraph.source)
        if svg is None:
            svg = self.diagram.svg(digraph)
        start = svg.find("<svg")  # drop the XML prologue: the SVG sits inside HTML
        return f'<div class="dsl-diagram" data-drawn="svg">{svg[max(start, 0):]}</div>'


class _DotProcess:
    """One ``dot -Tsvg`` process, kept for the kernel's life, that draws graph after graph.

    Starting ``dot`` costs ~10 ms; a kept one draws a small network in ~1 ms,
    so even the final picture, drawn while the cell waits, costs little. If it
    misbehaves once, pictures are drawn by :func:`dissyslab.diagram.svg` instead.
    """

    WAIT = 10.0  # seconds to wait for one picture before giving up on the process
    _shared = None
    _lock = threading.Lock()
    _broken = False

    @classmethod
    def shared_render(cls, source):
        """The SVG text of DOT ``source``, or None when the kept process cannot draw it."""
        if cls._broken:
            return None
        with cls._lock:
            if cls._shared is None or cls._shared.proc.poll() is not None:
                if os.name != "posix" or shutil.which("dot") is None:
                    cls._broken = True
                    return None
                cls._shared = cls()
            svg = cls._shared.render(source)
            if svg is None:
                cls._broken = True
                cls._shared = None
            return svg

    def __init__(self):
        self.proc = subprocess.Popen(
            [shutil.which("dot"), "-Tsvg"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)

    def render(self, source):
        """The SVG text of ``source``, or None if dot did not answer (then it is ended)."""
        try:
            self.proc.stdin.write(source.encode("utf-8") + b"\n")
            self.proc.stdin.flush()
            fd = self.proc.stdout.fileno()
            out = bytearray()
            deadline = time.monotonic() + self.WAIT
            while not out.rstrip().endswith(b"</svg>"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError("dot did not answer")
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise EOFError("dot ended")
                out += chunk
        except (OSError, ValueError, TimeoutError, EOFError):
            self.proc.kill()
            self.proc.wait()
            return None
        return re.sub(r"<!-- Generated by graphviz[^>]*-->\n?", "", out.decode("utf-8"))


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
.dsl-live .dsl-diagram{display:flex;justify-content:center;margin:0 0 12px 0;overflow-x:auto;
 min-height:40px}
.dsl-live .dsl-diagram svg{max-width:100%;height:auto;background:#fff;border-radius:8px}
.dsl-live .dsl-diagram pre{font-size:12px;margin:4px 0}
.dsl-live .dsl-panels{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
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
