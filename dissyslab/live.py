"""The live view: while a network runs in Jupyter, each path's results and the diagram update on screen.

``g.run_network()`` shows it by default in a Jupyter kernel (``live=False``
turns it off). This module is imported only then: plain Python never loads
Jupyter code.

How it stays cheap and safe:

* Node threads never touch widgets. A sink's thread only appends what it
  received to a short buffer under a lock (:meth:`LiveView.sink_received`).
* One publisher thread reads those buffers, the nodes' states and the edge
  counts at most ``rate`` times a second and sets the widgets' values only
  when something changed, however many messages flow.
* When the run ends (finished, failed, timed out or interrupted) the publisher
  stops and the calling thread draws the final state, which stays on screen.

One panel per sink: a sink reached by several paths gets one panel titled with
all of its paths, and when its messages arrive along several edges each result
is tagged with the node it came from (they interleave as they arrive).
"""

import html
import sys
import threading
import warnings
from collections import deque
from itertools import repeat

from .errors import _short_repr

#: results shown per panel (the newest); the panel also shows the total count
LATEST = 50
#: most updates per second sent to the browser
RATE = 10
#: longest path titles listed in one panel's heading
MAX_TITLES = 3

_STATE_WORDS = {
    "waiting": "waiting", "running": "running", "done": "done",
    "failed": "failed", "stopped": "stopped",
}
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
    """The observer that shows the live view for one run of ``net``, or None if there is none.

    ``live`` is what the student passed to ``run_network``: None (show it in
    Jupyter), True (insist on it) or False (never reaches here).
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
                "The live view needs the ipywidgets package, which is not installed in this "
                "kernel, so the network runs without it. Install it with "
                "pip install 'dissyslab[notebook]' (or pip install ipywidgets) and restart "
                "the kernel.",
                stacklevel=3,
            )
        return None
    return LiveView(net)


class _SinkLog:
    """What one sink has received so far: a count and the newest messages."""

    __slots__ = ("count", "recent", "tagged")

    def __init__(self, latest, tagged):
        self.count = 0
        self.recent = deque(maxlen=latest)  # (sender name or None, message)
        self.tagged = tagged


class LiveView:
    """Widgets showing one run of a network: the diagram, and one panel of results per sink.

    It is a runtime observer (``started``, ``sink_received``, ``finished``).
    ``show=False`` builds and updates the widgets without displaying them.
    """

    def __init__(self, net, *, latest=LATEST, rate=RATE, show=True):
        import ipywidgets as widgets

        self.net = net
        self.latest = latest
        self.interval = 1.0 / rate
        self.show = show
        self.run = None
        self.outcome = "waiting"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._drawing = _Drawing(net)
        self._shown_diagram = None
        self._panel_key = None

        paths = net.paths()
        self.sinks = []  # sink names, in the order their first path appears
        self.titles = {}  # sink name -> list of path names
        for p in paths:
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
        self._logs = {}
        for name in self.sinks:
            senders = {e.src.name for e in net.in_edges(name)}
            self._logs[name] = _SinkLog(latest, tagged=len(senders) > 1)

        self.panels = widgets.HTML(value=self._panels_html())
        self.diagram = widgets.HTML(value=self._drawing.placeholder())
        self.widget = widgets.VBox(
            [self.diagram, self.panels], layout=widgets.Layout(width="100%")
        )
        self.widget.add_class("dissyslab-live")

    # --- display ---------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        bundle["text/plain"] = self._text()
        return bundle

    def _text(self):
        """Plain-text stand-in where widgets cannot be shown; the same at every run."""
        lines = [f"Live view of {len(self.sinks)} result panel{'s' if len(self.sinks) != 1 else ''}:"]
        for name in self.sinks:
            lines.extend(f"  {t}" for t in self.titles[name])
        return "\n".join(lines)

    # --- the runtime's observer calls --------------------------------------
    def started(self, run):
        """The run is about to start (calling thread): show the view and start the publisher."""
        self.run = run
        self.outcome = "running"
        self._stop.clear()
        with self._lock:
            for log in self._logs.values():
                log.count = 0
                log.recent.clear()
        self.panels.value = self._panels_html()
        if self.show:
            from IPython.display import display

            display(self)
        self._thread = threading.Thread(
            target=self._publish_loop, name="dissyslab live view", daemon=True
        )
        self._thread.start()

    def sink_received(self, worker, messages):
        """A sink took ``messages`` (on that sink's thread): remember them, nothing more."""
        log = self._logs[worker.node.name]
        if log.tagged:
            edge = worker.edge
            items = zip(repeat(edge.src.name if edge is not None else None), messages)
        else:
            items = zip(repeat(None), messages)
        with self._lock:
            log.count += len(messages)
            log.recent.extend(items)

    def finished(self, run, outcome):
        """The run has ended (calling thread): stop the publisher and show the final state."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.outcome = outcome
        self._publish()
        self._drawing.close()

    # --- publishing ------------------------------------------------------
    def _publish_loop(self):
        """The publisher thread: redraw at most ``rate`` times a second until the run ends."""
        try:
            self._publish()
            over = 0
            while not self._stop.wait(self.interval):
                self._publish()
                over = over + 1 if not self.net._running else 0
                if over > 5:
                    # The run is over but finished() never came (an exception escaped
                    # the runtime): draw the final state ourselves and stop.
                    self.outcome = _outcome_from_states(self.run)
                    self._publish()
                    self._drawing.close()
                    return
        except Exception as exc:  # the view must never break a run; say what went wrong
            self.panels.value = self._panels_html() + _note(
                f"The live view stopped updating ({type(exc).__name__}: {exc}); "
                f"the network keeps running.")

    def _publish(self):
        run = self.run
        states = {name: w.state for name, w in run.workers.items()}
        counts = dict(run.edge_counts)
        with self._lock:
            snapshot = {name: (log.count, list(log.recent)) for name, log in self._logs.items()}
        failures = {name: w.failure for name, w in run.workers.items() if w.failure is not None}

        key = (self.outcome, tuple(states.values()),
               tuple(c for c, _ in snapshot.values()), len(failures))
        if key != self._panel_key:
            self._panel_key = key
            self.panels.value = self._panels_html(states, snapshot, failures)

        picture = (tuple(states.values()), tuple(counts.values()))
        if picture != self._shown_diagram:
            svg = self._drawing.draw(states, counts)
            if svg is not None:
                self._shown_diagram = picture
                self.diagram.value = svg

    # --- HTML ------------------------------------------------------------
    def _panel_state(self, name, states, failures):
        """(state word, failures on this sink's paths) for one panel."""
        failed = [failures[n] for n in self._above[name] if n in failures]
        if failed:
            return "failed", failed
        state = states.get(name, "waiting") if states else "waiting"
        if state == "done":
            return "done", []
        if state == "stopped" or self.outcome in ("timeout", "interrupted"):
            return "stopped", []
        if self.outcome == "waiting":
            return "waiting", []
        return "running", []

    def _panels_html(self, states=None, snapshot=None, failures=None):
        failures = failures or {}
        parts = [_STYLE_OPEN]
        parts.append(self._status_html(states, failures))
        parts.append('<div class="dsl-panels" style="display:flex;flex-wrap:wrap;gap:12px;'
                     'align-items:flex-start">')
        for name in self.sinks:
            count, recent = snapshot[name] if snapshot else (0, [])
            state, failed = self._panel_state(name, states, failures)
            parts.append(self._panel_html(name, count, recent, state, failed))
        parts.append("</div></div>")
        return "".join(parts)

    def _status_html(self, states, failures):
        n = len(failures)
        failed = f"{n} node{'s' if n != 1 else ''} failed"
        word, text = {
            "waiting": ("waiting", "Ready"),
            "running": ("failed", f"Running, {failed}") if n else ("running", "Running"),
            "finished": ("failed", f"Finished, {failed}") if n else ("done", "Finished"),
            "timeout": ("stopped", "Stopped: timeout" + (f", {failed}" if n else "")),
            "interrupted": ("stopped", "Stopped: interrupted" + (f", {failed}" if n else "")),
        }[self.outcome]
        nodes = len(self.net.nodes)
        panels = len(self.sinks)
        detail = (f"{nodes} node{'s' if nodes != 1 else ''} · "
                  f"{panels} result panel{'s' if panels != 1 else ''}")
        return (f'<div class="dsl-status" data-outcome="{self.outcome}" '
                f'style="display:flex;align-items:center;gap:8px;margin:0 0 10px 0">'
                f'{_pill(word, text)}<span style="color:{_MUTED};font-size:12px">{detail}</span></div>')

    def _panel_html(self, name, count, recent, state, failed):
        log = self._logs[name]
        titles = self.titles[name]
        shown = titles[:MAX_TITLES]
        title = "".join(f'<div class="dsl-path">{_path_html(t)}</div>' for t in shown)
        if len(titles) > len(shown):
            more = len(titles) - len(shown)
            title += f'<div style="color:{_MUTED}">and {more} more path{"s" if more != 1 else ""}</div>'
        rows = []
        first = count - len(recent) + 1
        for i, (sender, msg) in enumerate(recent):
            tag = (f'<span style="color:{_MUTED}"> ← {html.escape(sender)}</span>'
                   if log.tagged and sender is not None else "")
            rows.append(
                f'<li data-index="{first + i}" style="display:flex;gap:10px;padding:1px 0">'
                f'<span style="color:{_MUTED};min-width:3.2em;text-align:right;'
                f'flex:none">{first + i}</span>'
                f'<span style="white-space:pre-wrap;word-break:break-word">'
                f'{html.escape(_show(msg))}</span>{tag}</li>')
        rows.reverse()  # newest first in the page; column-reverse shows it at the bottom
        if rows:
            body = (f'<ol class="dsl-results" style="list-style:none;margin:0;padding:6px 10px;'
                    f'display:flex;flex-direction:column-reverse;max-height:220px;'
                    f'overflow-y:auto;font-family:{_MONO};font-size:12px;line-height:1.5">'
                    f'{"".join(rows)}</ol>')
        else:
            body = (f'<div class="dsl-results" style="padding:6px 10px;color:{_MUTED};'
                    f'font-size:12px">{"no results yet" if state in ("waiting", "running") else "no results"}</div>')
        footer = ""
        if count > len(recent):
            footer = (f'<div class="dsl-more" style="padding:4px 10px;border-top:1px solid '
                      f'{_BORDER};color:{_MUTED};font-size:11px">showing the newest '
                      f'{len(recent):,} of {count:,}</div>')
        errors = "".join(
            f'<div class="dsl-error" style="padding:6px 10px;border-top:1px solid {_BORDER};'
            f'color:{_RED};font-family:{_MONO};font-size:12px;white-space:pre-wrap;'
            f'word-break:break-word">{html.escape(f.summary())}</div>' for f in failed)
        noun = "result" if count == 1 else "results"
        return (
            f'<div class="dsl-panel" data-sink="{html.escape(name)}" data-count="{count}" '
            f'data-state="{state}" style="flex:1 1 300px;max-width:520px;min-width:260px;'
            f'border:1px solid {_BORDER};border-radius:8px;background:{_CARD};overflow:hidden">'
            f'<div style="display:flex;justify-content:space-between;align-items:flex-start;'
            f'gap:8px;padding:8px 10px;border-bottom:1px solid {_BORDER};background:{_HEAD}">'
            f'<div style="font-family:{_MONO};font-size:12px;line-height:1.5;'
            f'word-break:break-word">{title}</div>'
            f'<div style="display:flex;flex-direction:column;align-items:flex-end;gap:3px;'
            f'flex:none"><span class="dsl-count" style="font-size:12px;color:{_TEXT};'
            f'font-variant-numeric:tabular-nums">{count:,} {noun}</span>'
            f'{_pill(state, _STATE_WORDS[state])}</div></div>'
            f'{body}{footer}{errors}</div>')


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
    """Draws the network with :mod:`dissyslab.diagram`, or says why it cannot."""

    def __init__(self, net):
        self.net = net
        self.reason = None
        try:
            from . import diagram
        except ImportError as exc:
            diagram = None
            self.reason = f"the diagram module could not be loaded ({exc})"
        else:
            if not diagram.dot_available():
                self.reason = ("Graphviz's dot program is not installed, so here is the network "
                               "as text. Install Graphviz (apt install graphviz, "
                               "brew install graphviz or conda install graphviz) to see it drawn")
        self.diagram = diagram
        self._text_shown = False

    def placeholder(self):
        if self.reason is None:
            return f'<div class="dsl-diagram" style="min-height:60px;color:{_MUTED}">drawing…</div>'
        return self._text()

    def _text(self):
        text = self.diagram.text(self.net) if self.diagram is not None else self.net.describe()
        return (f'<div class="dsl-diagram"><div style="color:{_MUTED};font-size:12px">'
                f'{html.escape(self.reason)}.</div><pre style="font-size:12px">'
                f'{html.escape(text)}</pre></div>')

    def draw(self, states, counts):
        """The diagram as HTML with these node states and edge counts (None: unchanged)."""
        if self.reason is not None:
            if self._text_shown:
                return None
            self._text_shown = True
            return self._text()
        counts = {e: counts[e] for e in self.net.edges}
        digraph = self.diagram.build(self.net, states=states, edge_counts=counts)
        svg = self.diagram.svg(digraph)
        return (f'<div class="dsl-diagram" style="display:flex;justify-content:center;'
                f'margin:0 0 12px 0;overflow-x:auto">{_fit_svg(svg)}</div>')

    def close(self):
        pass


def _fit_svg(svg):
    """Drop the XML prologue so the SVG can sit inside HTML."""
    start = svg.find("<svg")
    return svg[start:] if start > 0 else svg


def _path_html(title):
    parts = [html.escape(p) for p in title.split(" → ")]
    return f' <span style="color:{_MUTED}">→</span> '.join(parts)


def _pill(state, text):
    fg, bg = _PILL[state]
    return (f'<span class="dsl-state" style="display:inline-block;padding:1px 8px;'
            f'border-radius:10px;font-size:11px;font-weight:600;color:{fg};background:{bg};'
            f'white-space:nowrap">{html.escape(text)}</span>')


def _note(text):
    return f'<div style="color:{_MUTED};font-size:12px;margin-top:6px">{html.escape(text)}</div>'


# Colours: JupyterLab's theme variables where there is one (so a dark theme works), calm defaults.
_TEXT = "var(--jp-content-font-color1, #1f2328)"
_MUTED = "var(--jp-content-font-color2, #656d76)"
_BORDER = "var(--jp-border-color2, #d0d7de)"
_CARD = "var(--jp-layout-color1, #ffffff)"
_HEAD = "var(--jp-layout-color2, #f6f8fa)"
_RED = "#b42318"
_MONO = "var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, monospace)"
_PILL = {
    "waiting": ("#57606a", "#eaeef2"),
    "running": ("#0b5cad", "#ddf0ff"),
    "done": ("#1a7f37", "#dcf5e3"),
    "failed": ("#b42318", "#fde8e6"),
    "stopped": ("#8a5a00", "#fff4d1"),
}
_STYLE_OPEN = (f'<div class="dsl-live tex2jax_ignore mathjax_ignore" style="font-family:'
               f'var(--jp-ui-font-family, system-ui, sans-serif);font-size:13px;color:{_TEXT}">')
