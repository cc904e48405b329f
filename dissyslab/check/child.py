"""The grading process: runs one submission's cells in a fresh interpreter and reports each verdict.

Started by ``grader.py`` as ``python -I -c <bootstrap>``. It reads a job (the
cells to run, a secret, time limits) from stdin, imports the whole
``dissyslab`` package from where the grader found it, takes an integrity
snapshot (``integrity.py``), and only then runs student code. Each test cell
runs with the real builtins and with the names the instructor's read-only
cells defined (whatever an answer rebound), and the snapshot is compared
before and after it: a test passes only if it raised nothing, finished in time, left no
thread running and nothing in the library was changed.

Reports go to a pipe only the grader reads, one JSON line per event, each
carrying the job's secret, so output printed by student code can never be
taken for a verdict.
"""

import ast
import builtins
import io
import json
import os
import signal
import sys
import threading
import time
import traceback

from .failure import CheckFailed
from .integrity import Snapshot, import_everything

#: seconds a test waits for threads it started to end
THREAD_GRACE = 1.0
#: characters of one cell's output kept
OUTPUT_LIMIT = 20_000


class _CellTimeout(KeyboardInterrupt):
    """The cell ran past its time limit (a KeyboardInterrupt, so a running network stops cleanly)."""


class _Capture(io.TextIOBase):
    """A stream that adds what is written to a cell's list of outputs."""

    def __init__(self, outputs, name):
        self.outputs = outputs
        self.name = name
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        if type(text) is not str:
            text = str(text)
        if self.size < OUTPUT_LIMIT:
            text = text[: OUTPUT_LIMIT - self.size]
            self.size += len(text)
            if self.outputs and self.outputs[-1]["output_type"] == "stream" and \
                    self.outputs[-1]["name"] == self.name:
                self.outputs[-1]["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": self.name, "text": text})
        return len(text)

    def flush(self):
        pass


class _Magics:
    """Stands in for IPython when a cell uses a magic.

    time/timeit/capture run their code, others are skipped.
    """

    RUNS = ("time", "timeit", "capture", "prun")

    def __init__(self, ns):
        self.ns = ns

    def run_line_magic(self, name, line, *args):
        if name in self.RUNS and line.strip():
            try:
                code = compile(line, "<magic>", "eval")
            except SyntaxError:  # a statement, like %time x = f()
                exec(compile(line, "<magic>", "exec"), self.ns)
                return None
            return eval(code, self.ns)
        print(f"(%{name} is not run when grading)")

    def run_cell_magic(self, name, line, body, *args):
        if name in self.RUNS:
            exec(compile(body, "<magic>", "exec"), self.ns)
        else:
            print(f"(%%{name} cell is not run when grading)")

    def system(self, command, *args):
        print("(shell commands are not run when grading)")

    getoutput = system


def plain_python(source):
    """The cell's code as plain Python: IPython magics become calls (IPython is imported only if needed)."""
    if not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _compile_cell(source, label, show_last):
    """(body code, last expression code or None) for a cell's source."""
    tree = ast.parse(source, filename=label)
    last = None
    if show_last and tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        last = compile(last, label, "eval")
    return compile(tree, label, "exec"), last


def _safe_repr(value):
    try:
        text = repr(value)
    except Exception as exc:  # a repr that fails is shown, not fatal
        text = f"<{type(value).__name__} whose repr failed: {type(exc).__name__}>"
    return text[:OUTPUT_LIMIT]


class Child:
    """Runs the cells of one job in order and reports on them."""

    def __init__(self, job, send):
        self.job = job
        self.send = send
        self.ns = {"__name__": "__main__", "__builtins__": builtins}
        self.ns["display"] = self._display
        self.ns["get_ipython"] = lambda: _Magics(self.ns)
        self.timer_fired = False
        self.snapshot = None
        self.outputs = None
        self.exited_tasks = set()
        self.task_threads = {}
        self.instructor_names = {}  # what the read-only cells defined, restored before each test

    # --- running one cell -------------------------------------------------------------
    def _display(self, *objs, **kwargs):
        for obj in objs:
            print(obj if isinstance(obj, str) else _safe_repr(obj))

    def _alarm(self, signum, frame):
        self.timer_fired = True
        raise _CellTimeout()

    def run_cell(self, source, label, timeout, show_last=True):
        """Run one cell; return (outputs, error dict or None, timed_out, exited)."""
        outputs = []
        error, timed_out, exited = None, False, False
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Capture(outputs, "stdout"), _Capture(outputs, "stderr")
        self.timer_fired = False
        signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            try:
                body, last = _compile_cell(plain_python(source), label, show_last)
                exec(body, self.ns)
                if last is not None:
                    value = eval(last, self.ns)
                    if value is not None:
                        outputs.append({"output_type": "execute_result", "execution_count": None,
                                        "metadata": {},
                                        "data": {"text/plain": _safe_repr(value)}})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt as exc:
            if self.timer_fired:
                timed_out = True
                error = {"ename": "CellTimeout",
                         "evalue": f"This cell was still running after {timeout:g} seconds, so it "
                                   f"was stopped.",
                         "exception": exc}
            else:
                error = _error_dict(exc)
        except SystemExit as exc:
            exited = True
            error = {"ename": "SystemExit",
                     "evalue": f"The code called sys.exit({'' if exc.code is None else repr(exc.code)}), "
                               f"which stops the cell.",
                     "exception": exc}
        except BaseException as exc:
            error = _error_dict(exc)
        finally:
            sys.stdout, sys.stderr = out, err
        return outputs, error, timed_out, exited

    # --- the job ------------------------------------------------------------------------
    def run(self):
        cell_timeout = self.job["cell_timeout"]
        test_timeout = self.job["test_timeout"]
        for cell in self.job["cells"]:
            i, role, task = cell["index"], cell["role"], cell.get("task")
            self.send({"event": "start", "index": i})
            if task not in self.task_threads:
                self.task_threads[task] = set(threading.enumerate())
            if role == "test":
                self.send(self.run_test(cell, test_timeout))
                continue
            before = dict(self.ns) if role == "setup" else None
            outputs, error, timed_out, exited = self.run_cell(
                cell["source"], f"<cell {i}>", cell_timeout)
            if before is not None:
                self.instructor_names.update(
                    (k, v) for k, v in self.ns.items() if k not in before or before[k] is not v)
            if exited and role == "answer":
                self.exited_tasks.add(task)
            self.send({"event": "cell", "index": i, "outputs": outputs,
                       "error": _public(error), "timed_out": timed_out})
        self.send({"event": "done"})

    def run_test(self, cell, timeout):
        i, task = cell["index"], cell.get("task")
        changes = self.snapshot.changes()
        if changes:
            return _verdict(i, [], "tampered", _tamper_text(changes))
        # the test sees the instructor's names as the instructor's cells made them, whatever
        # an answer rebound (check, network, the task's data and functions...)
        self.ns.update(self.instructor_names)
        self.ns["__builtins__"] = builtins
        outputs, error, timed_out, exited = self.run_cell(
            cell["source"], f"<tests {i}>", timeout, show_last=False)
        changes = self.snapshot.changes()
        if changes:
            return _verdict(i, outputs, "tampered", _tamper_text(changes))
        if task in self.exited_tasks:
            return _verdict(i, outputs, "exited", (
                "Your answer for this task called sys.exit(), which stops a program. In a "
                "notebook it stops the cell halfway, so this task gets no points.\n"
                "  Hint: remove the sys.exit() call; to stop a function early, use return."))
        if timed_out:
            return _verdict(i, outputs, "timeout", (
                f"The checks for this task did not finish within {timeout:g} seconds, so they "
                f"were stopped.\n  Hint: does a source never return None, or a function loop "
                f"or sleep for a long time? Run your network with run_network(timeout=5) to see "
                f"which node is still busy."))
        if error is not None:
            return _verdict(i, outputs, "failed", _failure_text(error))
        left = self._threads_left(task)
        if left:
            return _verdict(i, outputs, "threads", (
                "Your code left threads running after the checks finished: "
                + ", ".join(repr(t.name) for t in left[:5])
                + ".\n  Hint: a node stuck inside its function (a long sleep or an endless loop) "
                  "cannot be stopped; and threads you start yourself must end."))
        return _verdict(i, outputs, "passed", "")

    def _threads_left(self, task):
        before = self.task_threads.get(task, set())
        deadline = time.monotonic() + THREAD_GRACE
        while True:
            left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.02)


def _error_dict(exc):
    return {"ename": type(exc).__name__, "evalue": str(exc), "exception": exc}


def _public(error):
    if error is None:
        return None
    exc = error["exception"]
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # drop the grader's own frames: keep from the first frame in a cell
    keep = [ln for ln in lines if "dissyslab/check/child.py" not in ln and
            "dissyslab\\check\\child.py" not in ln]
    return {"ename": error["ename"], "evalue": error["evalue"], "traceback": keep}


def _verdict(index, outputs, reason, text):
    return {"event": "verdict", "index": index, "outputs": outputs, "reason": reason,
            "passed": reason == "passed", "message": text}


def _tamper_text(changes):
    shown = ", ".join(changes[:4]) + (f" and {len(changes) - 4} more" if len(changes) > 4 else "")
    return ("Your notebook changed parts of DisSysLab or of Python itself that the checks use "
            f"({shown}). Work that changes the checks cannot be graded, so it gets no points.\n"
            "  Hint: build your networks with the library as it is; if you did not mean to "
            "change it, look for assignments like module.name = ... in your answers.")


def _failure_text(error):
    exc = error["exception"]
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, AssertionError):
        text = str(exc)
        return text if text else "A check in this cell failed (an assert without a message)."
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or str(exc)
        return (f"The checks need `{name}`, which your notebook does not define.\n"
                f"  Hint: keep the names the task asks for, and make sure the answer cell runs "
                f"without an error from top to bottom.")
    if isinstance(exc, SystemExit):
        return ("Your code called sys.exit() while the checks ran, so they could not finish.\n"
                "  Hint: remove the sys.exit() call.")
    return (f"The checks stopped with an error: {error['ename']}: {error['evalue']}\n"
            f"  Hint: this usually means something the task asks for is missing or has another "
            f"type than expected (a list, a node, a network ...).")


def main():
    """Entry point of the grading process (see the module docstring)."""
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    fd = job["report_fd"]
    os.set_inheritable(fd, False)
    nonce = job["nonce"]
    write = os.write

    def send(event):
        event = dict(event)
        event["nonce"] = nonce
        write(fd, (json.dumps(event, default=repr) + "\n").encode())

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if job.get("memory_mb"):
            limit = job["memory_mb"] * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    sys.argv = ["grading"]
    sys.path.append(os.getcwd())
    import_everything()
    child = Child(job, send)
    child.snapshot = Snapshot()
    send({"event": "ready"})
    try:
        child.run()
    except BaseException:  # a fault of the grader itself: leave its traceback for the grader
        traceback.print_exc(file=sys.__stderr__)
    finally:
        # threads a submission left behind must not keep this process alive
        os._exit(0)
