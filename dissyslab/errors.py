"""Exceptions and warnings a network can raise, written for students to read."""

import functools
import os
import re
import sys
import types
import warnings

# traceback and reprlib are imported where they are needed, when an error is shown:
# `import dissyslab` stays quick

#: the folder of the dissyslab package: frames of code in it are not the student's
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


#: the last sentence of a NetworkError: where a failure's traceback is, for code that catches it
WHERE_TRACEBACKS = "The traceback of each failure is in err.failures[i].traceback."


def ours(filename: str) -> bool:
    """True if ``filename`` is a file of the dissyslab package itself (not the student's code)."""
    return os.path.abspath(filename).startswith(PACKAGE_DIR)


def warn_student(message: str, category: type[Warning], every_time: bool = False) -> None:
    """Warn from the student's own line: the first frame outside the dissyslab package.

    That is the cell that called ``run_network`` (or ``g.snapshot()``), whatever
    called what in between. Python shows a warning once per line; ``every_time``
    shows it on every call (filters such as "ignore" or "error" still apply).
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and ours(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    if frame is None or not every_time:
        warnings.warn(message, category, stacklevel=level if frame is not None else 2)
        return
    # no registry: shown every time (warn() would remember the line and stay silent)
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"), registry=None)


def student_traceback(exc: BaseException) -> list:
    """The traceback of ``exc`` (and of the errors it came from) without DisSysLab's own frames.

    IPython calls an exception's ``_render_traceback_`` to show it, so the
    errors a student meets (a node's failure, a failed check) show the student's
    code and the message, not the library's insides. Frames marked
    ``__tracebackhide__`` (IPython's own, the checks') are left out too. The
    exceptions themselves keep their full tracebacks.
    """
    chain, seen, e = [], set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append((e, e.__traceback__))
        e = e.__cause__ if e.__cause__ is not None else (
            None if e.__suppress_context__ else e.__context__)
    try:
        for e, tb in chain:
            e.__traceback__ = _without_ours(tb)
        shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
        if shell is not None:
            return shell.InteractiveTB.structured_traceback(
                type(exc), exc, exc.__traceback__, tb_offset=0)
        import traceback

        return traceback.format_exception(type(exc), exc, exc.__traceback__)
    finally:
        for e, tb in chain:
            e.__traceback__ = tb


def _without_ours(tb):
    kept = []
    while tb is not None:
        frame = tb.tb_frame
        try:
            hidden = bool(frame.f_locals.get("__tracebackhide__"))
        except Exception:  # noqa: BLE001 (a frame whose locals cannot be read is shown)
            hidden = False
        if not hidden and not ours(frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    new = None
    for t in reversed(kept):
        new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return new


def shown_to_students(fn):
    """Decorator for what students call (network(), node classes...): an error it raises is
    shown in Jupyter without DisSysLab's frames, as :class:`StudentTraceback` errors are.

    The error keeps its type (a ValueError stays a ValueError); it only gains a
    ``_render_traceback_``, which IPython uses to show it.
    """

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            _mark(err)
            raise

    return call


class shown_without_our_frames:
    """``with shown_without_our_frames():`` -- what :func:`shown_to_students` does, for a block.

    For a function that must not be wrapped (``run_network``: a warning raised
    inside it names the line of the caller, counted in frames, so a wrapper's
    frame would take that line's place), its body goes in this ``with``, which
    adds no frame while the body runs. An error that leaves the block, a
    Ctrl-C (KeyboardInterrupt) included, keeps its type and gains a
    ``_render_traceback_``: Jupyter shows it without DisSysLab's frames.
    """

    def __enter__(self) -> "shown_without_our_frames":
        return self

    def __exit__(self, kind, err, tb) -> bool:
        if err is not None:
            _mark(err)
        return False  # the error goes on, as it was


def _mark(err: BaseException) -> None:
    """Give ``err`` a ``_render_traceback_`` that leaves out our frames (if it has none yet)."""
    if isinstance(err, (SystemExit, GeneratorExit)) or hasattr(err, "_render_traceback_"):
        return
    try:
        err._render_traceback_ = functools.partial(student_traceback, err)
    except (AttributeError, TypeError):  # an error type that takes no attributes
        pass


class StudentTraceback:
    """Mixin: Jupyter shows this error with the student's frames only (:func:`student_traceback`)."""

    def _render_traceback_(self) -> list:
        return student_traceback(self)


class NetworkError(StudentTraceback, Exception):
    """One or more nodes failed while the network ran.

    Every other path ran to completion first, so their results are kept.
    ``failures`` lists one :class:`NodeFailure` per failed node, in the
    order the failures happened; each keeps the original exception.
    ``other_paths`` says whether some path from a source to a sink avoids
    every failed node (the message then says those paths kept their results).
    """

    def __init__(self, failures, discarded=None, other_paths=True):
        self.failures = list(failures)
        self.discarded = dict(discarded or {})
        self.other_paths = other_paths
        super().__init__(self._describe())

    def _describe(self):
        n = len(self.failures)
        lines = [f"{n} node{'s' if n != 1 else ''} failed while the network ran:"]
        for f in self.failures:
            lines.append(f"  - {f.summary()}")
        for name, count in self.discarded.items():
            lines.append(
                f"  ({count} message{'s' if count != 1 else ''} that reached "
                f"'{name}' after it failed could not be processed)"
            )
        lines.append(
            ("Every other path ran to the end and kept its results. " if self.other_paths else
             "What reached the sinks before the failure is kept. ")
            + WHERE_TRACEBACKS
        )
        return "\n".join(lines)


class NodeFailure:
    """What went wrong in one node: its name, the message it was handling, the error."""

    def __init__(self, node, exception, message=None, has_message=False, detail=None, name=None):
        self.node = node
        self.name = node.name if name is None else name  # the network's name for the node
        self.exception = exception
        self.message = message
        self.has_message = has_message
        self.detail = detail
        import traceback

        self.traceback = "".join(
            traceback.format_exception(type(exception), exception, exception.__traceback__)
        )

    def summary(self):
        exc = exception_text(self.exception)
        where = f"{self.node.kind} '{self.name}'"
        if self.detail:
            return f"{where} {self.detail} ({exc})"
        hint = ""
        if isinstance(self.exception, TypeError) and "required" in exc and "argument" in exc:
            hint = " (does its function need more arguments? Give them with params={...})"
        elif isinstance(self.exception, StopIteration):
            hint = (" (a source ends its stream by returning None, not by raising StopIteration, "
                    "which next(it) raises once the iterator is used up: write next(it, None) "
                    "instead, or use a ListSource)" if self.node.kind == "source" else
                    " (next(it) raises StopIteration once the iterator is used up; "
                    "next(it, default) returns default instead)")
        elif type(self.message).__name__ == "Timeout" and self.has_message:  # timers.Timeout
            hint = (" (its timeout= calls its function with a Timeout when nothing has arrived "
                    "for that long: tell the two apart with isinstance(msg, Timeout), from "
                    "dissyslab, and return None to send nothing)")
        if self.has_message:
            return f"{where} failed on message {short_repr(self.message)}: {exc}{hint}"
        return f"{where} failed: {exc}{hint}"

    def __repr__(self):
        return f"<NodeFailure {self.summary()}>"


class NetworkTimeout(StudentTraceback, TimeoutError):
    """The network did not finish within ``run_network(timeout=...)``; it was stopped."""


class CopyError(TypeError):
    """A fanout message could not be copied for its receivers."""


class DuplicateEdgeWarning(UserWarning):
    """The same edge was listed twice, so its receiver gets every message twice."""


class MergeSynchWarning(UserWarning):
    """A MergeSynch could not pair its inputs one to one."""


class DroppedEverythingWarning(UserWarning):
    """A Transform dropped every message of a run: its function returned None each time."""


class SourceUsedUpWarning(UserWarning):
    """A source sent nothing in a run after sending messages in an earlier one (a used-up iterator)."""


class NodeStillRunningWarning(RuntimeWarning):
    """A node's function did not return after the network was stopped."""


class ThreadStillRunningWarning(RuntimeWarning):
    """Threads that node functions started during a run were still running when it ended."""


def no_thread_for_every_node(nodes: int, exc: RuntimeError) -> RuntimeError:
    """The error when Python cannot start one more thread ("can't start new thread")."""
    return RuntimeError(
        f"Python could not start a thread for every node of this network ({nodes} nodes): "
        f"{exc}. Each node runs in a thread of its own, and this process may start no more. "
        f"Build a smaller network, or restart the kernel if earlier runs left threads behind.")


#: a memory address in a repr, as in ``<Thing object at 0x7f3a...>``
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def short_repr(value, limit=80, *, ellipsis="..."):
    """A repr of ``value`` with no memory addresses, cut to ``limit`` characters.

    This is the one helper for showing a message or value to a student; the
    text is the same at every run. A repr that shows a memory address
    (``<Thing object at 0x7f3a...>``) becomes ``<Thing object>``, and one that
    raises becomes ``<Thing that cannot be shown>``. A longer text is cut to
    ``limit`` characters, the last of them ``ellipsis``; ``limit=None`` keeps
    it whole.
    """
    try:
        text = _bounded_repr(value, limit)
    except RecursionError:  # nested thousands deep
        return f"<{type(value).__name__} nested too deeply to show>"
    except Exception:  # a student's __repr__ that raises
        return f"<{type(value).__name__} that cannot be shown>"
    if _ADDRESS.search(text):
        text = f"<{type(value).__name__} object>"
    return cut(text, limit, ellipsis)


#: a list, dict... longer than this is shown from its first items only (its repr could be huge)
BIG = 10_000
_CONTAINERS = (list, tuple, dict, set, frozenset)


def _bounded_repr(value, limit):
    """``repr(value)``, but a huge list, dict... is shown from its first ``limit`` items only."""
    if limit is None or type(value) not in _CONTAINERS or len(value) <= BIG:
        return repr(value)
    import reprlib

    r = reprlib.Repr()
    r.maxlevel = 10
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = limit
    r.maxstring = r.maxlong = r.maxother = max(limit, 30)
    return r.repr(value)


def exception_text(exc, limit=1000):
    """``"ValueError: bad value"`` for an exception, even one whose ``__str__`` raises.

    The text is cut to ``limit`` characters; just the type's name if it has no message.
    """
    name = type(exc).__name__
    try:
        text = str(exc)
    except Exception:  # a student's __str__ that raises, or nested too deeply to show
        return f"{name} (its message cannot be shown)"
    return cut(f"{name}: {text}" if text else name, limit)


def cut(text, limit, ellipsis="..."):
    """``text`` if it has at most ``limit`` characters, else its start ending in ``ellipsis``."""
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - len(ellipsis)] + ellipsis
