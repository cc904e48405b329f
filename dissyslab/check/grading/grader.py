"""Grading one notebook: the student's code runs in a sandboxed process, the checks run here.

:func:`grade_notebook` takes a notebook (nbformat dict) whose test cells are
the instructor's own (nbgrader restores them before this runs), and:

1. starts the student's process (``child.py``) in a sandbox (``sandbox.py``:
   bubblewrap, an unprivileged user, limits; ``cgroup.py``: the memory, tasks and CPU share
   of all its processes together), with a private copy of the ``dissyslab``
   package taken from this process's memory, and the data files;
2. runs the read-only cells there (for the answers to use) and here (for the
   tests), and the answer cells there only; cells a student added are not run;
3. runs every test cell HERE, visible and hidden parts alike: a name the
   student defined stands for the student's value (plain data is copied,
   anything else is a reference, see ``remote.py``), and the checks ask the
   student's process for observations (what each sink received, the edges,
   the counters) and judge them here. Test code, expected values and verdicts
   never enter the student's process;
4. counts the threads and processes the submission left behind from outside
   (``/proc``), stops a cell that runs past its time limit, and treats a
   process that dies as a crash: the cell it was running and every test
   after it fail, earlier verdicts stand.

A hidden test that fails says which check failed but not its data, unless
``hidden_details=True``. ``python -m dissyslab.check.grading NB...`` grades
notebooks from a terminal.
"""

import builtins
import contextlib
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..elsewhere import answering
from ..failure import CheckFailed
from . import cgroup, files, remote, sandbox, wire
from .child import plain_python

#: seconds a setup or answer cell may run
CELL_TIMEOUT = 15
#: seconds a test cell may run (its checks may run the network many times)
TEST_TIMEOUT = 60
#: seconds one notebook may take in all
NOTEBOOK_TIMEOUT = 600
#: seconds for the grading process to start and import the library
STARTUP_TIMEOUT = 60
#: extra seconds a cell gets to stop by itself before its process is killed
GRACE = 5
#: address space of the grading process, in MB (None: no limit)
MEMORY_MB = 4096

#: seconds a task's threads get to end after its checks
THREAD_GRACE = 1.0
#: extra seconds a test cell's own work (the checks judging what the student's code sent)
#: gets past its time limit before it is stopped
TRUSTED_GRACE = 2.0


class TrustedOverrun(BaseException):
    """A test cell, the grader's own work included, ran past its time limit (see :class:`_Alarm`)."""


class _Alarm:
    """A time limit on a whole test cell, the checks' own work here included.

    The student's process is asked under its own limit (``remote.Connection``);
    this limit is the backstop for the grader's work on what that process sent:
    SIGALRM in this (the main) thread raises :class:`TrustedOverrun` in the
    test cell, every second until it ends. While a question to the student's
    process is waiting for its reply (:meth:`held`), the alarm only notes that
    it fired, so no reply is left half read; it raises when the reply is in.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.armed = False
        self.fired = False
        self.holds = 0
        self.old = None

    def __enter__(self):
        if (self.seconds and hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread()):
            self.old = signal.signal(signal.SIGALRM, self._fire)
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 1.0)
        return self

    def _fire(self, signum, frame):
        if not self.armed:
            return
        self.fired = True
        if self.holds == 0:
            raise TrustedOverrun()

    def __exit__(self, *exc):
        if self.armed:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old or signal.SIG_DFL)
        return False

    @contextlib.contextmanager
    def held(self):
        self.holds += 1
        try:
            yield
        finally:
            self.holds -= 1
        if self.armed and self.fired and self.holds == 0:
            raise TrustedOverrun()

_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from dissyslab.check.grading.child import main; main()")
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


@dataclass
class Verdict:
    """The result of one test cell: passed or not, and the message for the student."""

    passed: bool
    reason: str  # passed, failed, timeout, threads, exited, crashed, not_run
    message: str = ""


@dataclass
class CellResult:
    """What grading saw for one cell of the notebook."""

    index: int
    role: str  # setup, answer, test, extra (added by the student: not run)
    task: int = None  # 1 for the cells up to the first test cell, 2 up to the second ...
    outputs: list = field(default_factory=list)
    error: dict = None
    verdict: Verdict = None
    after_hidden: bool = False  # ran after hidden tests had sent data to the student's code


@dataclass
class Grading:
    """All cell results of one notebook, and the points per test cell."""

    cells: list
    points: dict  # cell index -> (earned, possible)
    log: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # files beside the notebook not used: (path, why)

    @property
    def score(self):
        return sum(e for e, _ in self.points.values())

    @property
    def max_score(self):
        return sum(p for _, p in self.points.values())

    def verdicts(self):
        return {c.index: c.verdict for c in self.cells if c.verdict is not None}


def role_of(cell):
    """'setup', 'answer', 'test', 'extra' (a code cell the notebook did not have) or 'text'."""
    if cell.get("cell_type") != "code":
        return "text"
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("solution"):
        return "answer"
    if meta.get("locked"):
        return "setup"
    return "extra"


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


class _PackageCopy:
    """The dissyslab package as it was when the grader started: files kept in memory."""

    def __init__(self):
        import dissyslab

        root = Path(dissyslab.__file__).resolve().parent
        self.root = root
        self.files = {}
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" not in path.parts:
                self.files[path.relative_to(root)] = path.read_bytes()

    def write(self, into):
        pkg = Path(into) / "dissyslab"
        for rel, data in self.files.items():
            dest = pkg / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        return str(into)

    def shared_copy(self):
        """One copy on disk for every notebook of this process (mounted read-only in the sandbox)."""
        if getattr(self, "shared", None) is None or not Path(self.shared).is_dir():
            folder = Path(tempfile.mkdtemp(prefix="dissyslab-grading-lib-"))
            self.write(folder)
            for dirpath, _, _ in os.walk(folder):
                os.chmod(dirpath, 0o755)
            self.shared = folder
            import atexit

            atexit.register(shutil.rmtree, str(folder), True)
        return self.shared


_PACKAGE = None


def _package():
    global _PACKAGE
    if _PACKAGE is None:
        _PACKAGE = _PackageCopy()
    return _PACKAGE



def split_test(source):
    """A test cell as [(hidden, code)], hidden parts between the nbgrader markers; line numbers kept."""
    parts, current, hidden, offset = [], [], False, 0
    for line in source.splitlines():
        mark = line.strip()
        if mark == HIDDEN_BEGIN or mark == HIDDEN_END:
            if current:
                parts.append((hidden, "\n" * offset + "\n".join(current)))
            offset += len(current) + 1
            current = []
            hidden = mark == HIDDEN_BEGIN
            continue
        current.append(line)
    if current:
        parts.append((hidden, "\n" * offset + "\n".join(current)))
    return parts


class _Student:
    """The sandboxed process that runs one submission's code, and the pipes to it."""

    def __init__(self, workdir, python, memory_mb, cpu_seconds, log, allow_unisolated,
                 scratch_mb):
        self.tmp = tempfile.mkdtemp(prefix="dissyslab-grading-")
        self.proc = None
        work = Path(self.tmp) / "work"
        #: files beside the notebook that were not copied: [(path, why)]
        self.skipped = []
        if workdir is not None and Path(workdir).is_dir():
            # regular files only, never through a link, bounded (see files.py)
            self.skipped = files.copy_data_files(workdir, work)
            for rel, why in self.skipped:
                log.append(f"{rel} (beside the notebook) is {why}: it was not given to the "
                           f"student's code")
        else:
            work.mkdir()
        sandbox.prepare(work)
        python = python or sys.executable
        lib = _package().shared_copy()
        if not sandbox.available(lib, work, python)[0]:
            # without the sandbox the student's process could change a shared copy
            lib = Path(self.tmp) / "lib"
            _package().write(lib)
        try:
            cmd, cwd, missing = sandbox.command(lib, work, python, lambda libpath: [
                "-I", "-c", _BOOT, libpath], memory_mb, cpu_seconds, allow_unisolated, scratch_mb)
        except sandbox.NoIsolation:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.sandboxed = cmd[0] in ("bwrap", "unshare")
        #: the cgroup holding every process of this submission (None where none can be made)
        self.group = None
        if memory_mb:
            ok, why = cgroup.usable(memory_mb)
            if ok:
                self.group, why = cgroup.make(memory_mb)
            if self.group is not None:
                cmd = self.group.command(cmd)
            else:
                note = (f"dissyslab grading: no cgroup can be made here ({why}), so memory is "
                        f"limited for each process of a submission ({memory_mb} MB), not for all "
                        f"of them together, nor is their number (see exercises/README.md).")
                if _warn_once(note):
                    log.append(note)
        if missing is not None and _warn_once(missing):
            log.append(missing)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
        env.update(HOME=str(work), TMPDIR=str(work), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, cwd=cwd, env=env,
                                         start_new_session=True)
        except OSError:
            if self.group is not None:
                self.group.remove()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.out_fd = self.proc.stdout.fileno()
        self.err_fd = self.proc.stderr.fileno()
        self.buf = b""
        self.stderr = _Tail()
        self.alarm = None  # the test cell's time limit, while one runs

    def talk(self, request, seconds):
        """Send one request and wait at most ``seconds`` for its reply (a checked dict)."""
        if self.alarm is not None:
            with self.alarm.held():
                return self._talk(request, seconds)
        return self._talk(request, seconds)

    def _talk(self, request, seconds):
        try:
            self.proc.stdin.write(wire.dumps(request))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._gone() from None
        return self.reply(seconds)

    def reply(self, seconds):
        deadline = time.monotonic() + seconds
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise remote.StudentGone("killed")
            watch = [self.out_fd] + ([self.err_fd] if self.err_fd is not None else [])
            ready, _, _ = select.select(watch, [], [], min(left, 0.5))
            if self.err_fd is not None and self.err_fd in ready:
                chunk = os.read(self.err_fd, 65536)
                if chunk:
                    self.stderr.add(chunk)
                else:
                    self.err_fd = None
            if self.out_fd in ready:
                chunk = os.read(self.out_fd, 1 << 20)
                if not chunk:
                    raise self._gone()
                self.buf += chunk
                if len(self.buf) > wire.MAX_BYTES and b"\n" not in self.buf:
                    self.kill()
                    raise remote.StudentGone("died", "sent a reply that is too big")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return wire.loads(line)
        except wire.WireError as err:
            return {"error": {"ename": "WireError", "evalue": str(err)}}

    def _gone(self):
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        if self.err_fd is not None:
            _drain(self.err_fd, self.stderr)
        if self.sandboxed and isinstance(code, int) and code > 128:
            code = -(code - 128)  # bubblewrap reports a signal as 128 + its number
        if self.group is not None and code == -signal.SIGKILL and self.group.out_of_memory():
            code = (f"used more memory than a submission may have ({self.group.memory_mb} MB, "
                    f"all its processes together)")
        return remote.StudentGone("died", code)

    def threads(self):
        return sandbox.tree_threads(self.proc.pid)

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        self.kill()
        if self.group is not None:
            self.group.remove()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


_WARNED = set()


def _warn_once(text):
    """Print ``text`` (once per process); True the first time."""
    if text in _WARNED:
        return False
    _WARNED.add(text)
    print(text, file=sys.stderr)
    return True


class _Names:
    """A test cell's names: its own, the instructor's, and (looked up each time) the student's."""

    def __init__(self, ns, conn, instructor):
        self.ns = ns
        self.conn = conn
        self.instructor = instructor
        self.mine = set()

    def __getitem__(self, name):
        if name in self.mine:
            return self.ns[name]
        if name in self.instructor or name.startswith("__") or hasattr(builtins, name):
            raise KeyError(name)
        found, value = self.conn.get(name)
        if not found:
            raise KeyError(name)
        self.ns[name] = value  # helper functions of the cell see it too
        return value

    def __setitem__(self, name, value):
        self.mine.add(name)
        self.ns[name] = value

    def __delitem__(self, name):
        self.mine.discard(name)
        del self.ns[name]


@contextlib.contextmanager
def _in_folder(folder):
    if folder is None:
        yield
        return
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


#: most characters of what one cell printed that grading keeps, and of a whole notebook
CELL_OUTPUT = 100_000
NOTEBOOK_OUTPUT = 1_000_000
#: most characters of one test cell's message
MESSAGE = 5_000


def _outputs(raw, budget=None):
    """The outputs of a cell as the student's process reported them, checked and capped.

    Each text keeps at most 20,000 characters, the cell at most :data:`CELL_OUTPUT`
    in all, and ``budget`` (a one-item list: what the notebook may still keep)
    goes down by what is kept; a note says what was left out.
    """
    out, kept, dropped = [], 0, 0
    room = CELL_OUTPUT if budget is None else min(CELL_OUTPUT, max(budget[0], 0))
    for o in raw if type(raw) is list else []:
        if type(o) is dict and o.get("output_type") == "stream" and o.get("name") in (
                "stdout", "stderr") and type(o.get("text")) is str:
            text = o["text"][:20_000]
            dropped += len(o["text"]) - len(text)
            if kept + len(text) > room:
                dropped += kept + len(text) - room
                text = text[:max(room - kept, 0)]
            if text:
                out.append({"output_type": "stream", "name": o["name"], "text": text})
                kept += len(text)
    if budget is not None:
        budget[0] -= kept
    if dropped:
        out.append({"output_type": "stream", "name": "stdout", "text": (
            f"\n(Grading kept only the start of what this cell printed: the rest, about "
            f"{dropped:,} characters, is left out.)\n")})
    return out


def _error(raw):
    if type(raw) is not dict:
        return None
    tb = raw.get("traceback")
    return {"ename": str(raw.get("ename"))[:200], "evalue": str(raw.get("evalue"))[:4000],
            "traceback": [str(t)[:2000] for t in tb[:40]] if type(tb) is list else []}


def grade_notebook(nb, workdir=None, cell_timeout=CELL_TIMEOUT, test_timeout=TEST_TIMEOUT,
                   notebook_timeout=NOTEBOOK_TIMEOUT, memory_mb=MEMORY_MB, python=None,
                   grace=GRACE, trusted_dir=None, hidden_details=False, allow_unisolated=False,
                   scratch_mb=None):
    """Grade one notebook (a dict in nbformat 4 layout); return a :class:`Grading`.

    ``workdir``: a folder whose files (data the notebook reads) are copied for the
    student's process. ``trusted_dir``: where the read-only and test cells run here
    (the instructor's copy of the assignment; default ``workdir``).
    ``hidden_details``: show the full message of a failed hidden test (its data too).
    ``allow_unisolated``: run the student's code even where it cannot be isolated (otherwise
    :class:`~dissyslab.check.grading.sandbox.NoIsolation` is raised before anything runs).
    ``scratch_mb``: MB of the box's scratch folder, and of its /tmp (default
    :data:`~dissyslab.check.grading.sandbox.SCRATCH_MB`).
    """
    cells = nb["cells"]
    results = [CellResult(i, role_of(c)) for i, c in enumerate(cells)]
    points = {}
    for r in results:
        if r.role == "test":
            meta = cells[r.index]["metadata"]["nbgrader"]
            points[r.index] = (0.0, float(meta.get("points", 0) or 0))
    grading = Grading(results, points)
    if not points:
        return grading

    jobs, task = [], 0
    for r in results:
        r.task = task + 1
        if r.role in ("setup", "answer", "test"):
            jobs.append(r)
        if r.role == "test":
            task += 1
    trusted_dir = trusted_dir if trusted_dir is not None else workdir
    if trusted_dir is not None and not Path(trusted_dir).is_dir():
        trusted_dir = None

    student = _Student(workdir, python, memory_mb, notebook_timeout, grading.log,
                       allow_unisolated, sandbox.SCRATCH_MB if scratch_mb is None else scratch_mb)
    grading.skipped = student.skipped
    conn = remote.Connection(student.talk, grace)
    run = _Run(grading, student, conn, cells, cell_timeout, test_timeout, grace, trusted_dir,
               hidden_details)
    started = time.monotonic()
    current = None
    try:
        ready = student.reply(STARTUP_TIMEOUT)
        if ready.get("ready") is not True:
            raise remote.StudentGone("died", None)
        for r in jobs:
            current = r
            if time.monotonic() - started > notebook_timeout:
                raise remote.StudentGone("killed", "notebook")
            run.cell(r)
        current = None
    except remote.StudentGone as gone:
        if gone.code == "notebook" or time.monotonic() - started > notebook_timeout:
            event = {"why": "killed", "limit": "notebook", "seconds": notebook_timeout}
        elif gone.why == "killed":
            event = {"why": "killed", "limit": "cell",
                     "seconds": test_timeout if current is not None and current.role == "test"
                     else cell_timeout}
        else:
            event = {"why": "died", "code": gone.code}
        event["index"] = None if current is None else current.index
        event["stderr"] = student.stderr.text()
        seen = {r.index for r in results if r.verdict is not None}
        _ended(event, results, {r.index: r for r in results}, seen, grading)
    finally:
        student.close()
    for r in results:
        if r.role == "test" and r.verdict is None:
            r.verdict = Verdict(False, "not_run", "These checks did not run.")
        if r.role == "test":
            earned = grading.points[r.index][1] if r.verdict.passed else 0.0
            grading.points[r.index] = (earned, grading.points[r.index][1])
    return grading


class _Run:
    """Grading one notebook, cell by cell (see :func:`grade_notebook`)."""

    def __init__(self, grading, student, conn, cells, cell_timeout, test_timeout, grace,
                 trusted_dir, hidden_details):
        self.grading = grading
        self.student = student
        self.conn = conn
        self.cells = cells
        self.cell_timeout = cell_timeout
        self.test_timeout = test_timeout
        self.grace = grace
        self.trusted_dir = trusted_dir
        self.hidden_details = hidden_details
        self.ns = {"__name__": "__main__", "__builtins__": builtins}
        self.instructor = set()
        self.baseline = {}
        self.exited = set()
        self.hidden_sent = False
        self.output_left = [NOTEBOOK_OUTPUT]  # characters of printed output still kept

    def cell(self, r):
        try:
            self._cell(r)
        finally:
            if r.verdict is not None and len(r.verdict.message) > MESSAGE:
                r.verdict.message = r.verdict.message[:MESSAGE - 40] + "\n(... the rest of this " \
                                                                         "message is left out)"

    def _cell(self, r):
        if r.task not in self.baseline:
            self.baseline[r.task] = self.student.threads()
        source = _source(self.cells[r.index])
        try:
            code = plain_python(source)
        except Exception:
            code = source
        if r.role == "test":
            r.verdict = self.test(r, code)
            return
        reply = self.student.talk({"op": "cell", "index": r.index, "role": r.role, "source": code,
                                   "timeout": self.cell_timeout}, self.cell_timeout + self.grace)
        r.outputs = _outputs(reply.get("outputs"), self.output_left)
        if type(reply.get("result")) is str and self.output_left[0] > 0:
            result = reply["result"][:min(20_000, self.output_left[0])]
            self.output_left[0] -= len(result)
            r.outputs.append({"output_type": "execute_result", "execution_count": None,
                              "metadata": {}, "data": {"text/plain": result}})
        r.after_hidden = self.hidden_sent
        if reply.get("timed_out") is True:
            r.error = {"ename": "CellTimeout", "traceback": [], "evalue": (
                f"This cell was still running after {self.cell_timeout:g} seconds, so it was "
                f"stopped.")}
        else:
            r.error = _error(reply.get("error"))
        if reply.get("exited") is True and r.role == "answer":
            self.exited.add(r.task)
        if r.role == "setup":
            self.setup_here(r, code)

    def setup_here(self, r, code):
        """Run a read-only cell in the grader too: the tests use its names from here."""
        before = dict(self.ns)
        try:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()), _in_folder(self.trusted_dir):
                exec(compile(code, f"<cell {r.index}>", "exec"), self.ns)
        except Exception as err:  # the tests that need it will say so
            self.grading.log.append(f"read-only cell {r.index} failed in the grader: "
                                    f"{type(err).__name__}: {err}")
        for k, v in self.ns.items():
            if k not in before or before[k] is not v:
                self.instructor.add(k)
        self.conn.names_by_id = {id(self.ns[k]): k for k in self.instructor if k in self.ns}

    def test(self, r, code):
        conn = self.conn
        ns = dict(self.ns)
        ns["__builtins__"] = builtins
        names = _Names(ns, conn, self.instructor)
        shown = io.StringIO()
        error, hidden_error, timed_out, overrun = None, False, False, False
        conn.deadline = time.monotonic() + self.test_timeout
        alarm = _Alarm(self.test_timeout + self.grace + TRUSTED_GRACE)
        self.student.alarm = alarm
        try:
            with answering(conn), alarm:
                for hidden, part in split_test(code):
                    if hidden:
                        self.hidden_sent = True
                    out = io.StringIO() if hidden else shown
                    try:
                        with contextlib.redirect_stdout(out), \
                                contextlib.redirect_stderr(io.StringIO()), \
                                _in_folder(self.trusted_dir):
                            exec(compile(part, f"<tests {r.index}>", "exec"), ns, names)
                    except remote.StudentTimeout:
                        timed_out = True
                        break
                    except (remote.StudentGone, KeyboardInterrupt, TrustedOverrun):
                        raise
                    except BaseException as exc:  # noqa: BLE001 (a failed check, or an error)
                        error, hidden_error = exc, hidden
                        break
        except TrustedOverrun:
            overrun = True
        finally:
            self.student.alarm = None
            conn.deadline = None
        printed = shown.getvalue()
        r.outputs = _outputs([{"output_type": "stream", "name": "stdout", "text": printed}],
                             self.output_left) if printed else []
        try:
            conn.request("forget")
        except (remote.StudentTimeout, remote.StudentError, wire.WireError):
            pass
        if r.task in self.exited:
            return Verdict(False, "exited", (
                "Your answer for this task called sys.exit(), which stops a program. In a "
                "notebook it stops the cell halfway, so this task gets no points.\n"
                "  Hint: remove the sys.exit() call; to stop a function early, use return."))
        if overrun:
            self.grading.log.append(
                f"cell {r.index}: the checks were still busy with what the student's code sent "
                f"after {self.test_timeout:g} seconds (the test cell's time limit), so they were "
                f"stopped; this task gets no points")
            return Verdict(False, "timeout", (
                f"The checks for this task did not finish within {self.test_timeout:g} seconds: "
                f"what your code gave them (a network, a list ...) is too big or too tangled to "
                f"check, so they were stopped and this task gets no points.\n  Hint: build what "
                f"the task asks for, with plain lists of a few items and a network of a few "
                f"nodes."))
        if timed_out:
            return Verdict(False, "timeout", (
                f"The checks for this task did not finish within {self.test_timeout:g} seconds, so "
                f"they were stopped.\n  Hint: does a source never return None, or a function loop "
                f"or sleep for a long time? Run your network with run_network(timeout=5) to see "
                f"which node is still busy."))
        if error is not None:
            return Verdict(False, "failed", _failure_text(error, hidden_error and
                                                          not self.hidden_details))
        left = self._threads_left(r.task)
        if left:
            return Verdict(False, "threads", (
                f"Your code left threads running after the checks finished ({left} more than "
                f"before this task).\n  Hint: a node stuck inside its function (a long sleep or "
                f"an endless loop) cannot be stopped; and threads or processes you start "
                f"yourself must end."))
        return Verdict(True, "passed", "")

    def _threads_left(self, task):
        before = self.baseline.get(task)
        if before is None:
            return 0
        deadline = time.monotonic() + THREAD_GRACE
        while True:
            now = self.student.threads()
            if now is None or now <= before:
                return 0
            if time.monotonic() > deadline:
                return now - before
            time.sleep(0.02)


HIDDEN = ("A hidden test of this task failed (hidden tests use other data than the visible "
          "ones; their details are not shown).")


def _failure_text(exc, hidden):
    if isinstance(exc, CheckFailed):
        if hidden:
            return HIDDEN + ("\n" + exc.public if exc.public else "")
        return str(exc)
    if isinstance(exc, remote.StudentError):
        if hidden:
            return f"{HIDDEN}\nYour code raised {exc.ename} while the hidden checks used it."
        return (f"Your code raised {exc.ename} while the checks used it: {exc.evalue}\n"
                f"  Hint: call that function yourself with a few inputs to see the error.")
    if isinstance(exc, wire.WireError):
        return ("Your code sent the checks something they cannot read (not plain data: "
                f"{exc}).\n  Hint: return numbers, strings, lists, tuples or dicts.")
    if isinstance(exc, AssertionError):
        if hidden:
            return HIDDEN
        text = str(exc)
        return text if text else "A check in this cell failed (an assert without a message)."
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or str(exc)
        return (f"The checks need `{name}`, which your notebook does not define.\n"
                f"  Hint: keep the names the task asks for, and make sure the answer cell runs "
                f"without an error from top to bottom.")
    if hidden:
        return (f"{HIDDEN}\nThe checks stopped with an error ({type(exc).__name__}): something the "
                f"task asks for is missing or has another type than expected.")
    return (f"The checks stopped with an error: {type(exc).__name__}: {exc}\n"
            f"  Hint: this usually means something the task asks for is missing or has another "
            f"type than expected (a list, a node, a network ...).")


class _Tail:
    """The last few thousand bytes of the process's error output (the rest is read and dropped)."""

    KEEP = 4000

    def __init__(self):
        self.data = b""

    def add(self, chunk):
        self.data = (self.data + chunk)[-self.KEEP:]

    def text(self):
        return self.data.decode(errors="replace")


def _drain(fd, stderr):
    """Read what is left of the error output, without waiting for more."""
    if fd is None:
        return
    os.set_blocking(fd, False)
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            stderr.add(chunk)
    except (BlockingIOError, OSError):
        return


def _ended(e, results, by_index, seen_verdict, grading):
    index = e.get("index")
    if e["why"] == "killed":
        if e.get("limit") == "notebook":
            what = (f"Grading this notebook took longer than {e['seconds']:g} seconds in all, "
                    f"so it was stopped")
        else:
            what = (f"This cell was still running after {e['seconds']:g} seconds and did not stop "
                    f"when it was interrupted, so grading stopped here")
        hint = ("an endless loop, or one that catches KeyboardInterrupt, cannot be stopped; "
                "give run_network a timeout and make every loop end.")
    else:
        code = e.get("code")
        sig = -code if isinstance(code, int) and code < 0 else None
        if isinstance(code, str):  # why the grader stopped it: "sent a reply that is too big"
            how = f"was stopped because it {code}"
        elif sig and sig in signal.Signals._value2member_map_:
            how = f"was killed by signal {signal.Signals(sig).name}"
        else:
            how = f"exited with code {code}"
        what = f"The notebook's Python process {how} while this cell ran, so grading stopped here"
        hint = ("os._exit(), a crash in a C extension or running out of memory end the whole "
                "process, not just the cell.")
    grading.log.append(f"{what} (cell {index}). {e.get('stderr', '')[-300:]}")
    if index is None or index not in by_index:
        first = None
    else:
        first = by_index[index]
        if first.role == "test" and index not in seen_verdict:
            first.verdict = Verdict(False, "crashed" if e["why"] == "died" else "timeout",
                                    f"{what}.\n  Hint: {hint}")
            seen_verdict.add(index)
        elif first.role != "test":
            first.error = {"ename": "GradingStopped", "evalue": f"{what}.",
                           "traceback": [f"{what}.", f"Hint: {hint}"]}
    for r in results:
        if r.role == "test" and r.index not in seen_verdict:
            if first is None:
                where = "before it"
            elif first.task == r.task:
                where = "at this task's answer cell"
            else:
                where = f"at a cell of task {first.task}"
            r.verdict = Verdict(False, "not_run", (
                f"These checks could not run: grading stopped {where}.\n  {what}.\n"
                f"  Hint: {hint}"))


def main(argv=None):
    """``python -m dissyslab.check.grading NOTEBOOK...``: grade notebooks and print each task's verdict.

    The exit status is 0 only if every notebook earned every point (handy to check sources).
    """
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT)
    parser.add_argument("--test-timeout", type=float, default=TEST_TIMEOUT)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--without-isolation", action="store_true",
                        help="run the notebooks' code even where it cannot be isolated (your "
                             "own notebooks only: it runs as you)")
    args = parser.parse_args(argv)
    report = []
    for path in args.notebooks:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        g = grade_notebook(nb, workdir=Path(path).parent, cell_timeout=args.cell_timeout,
                           test_timeout=args.test_timeout,
                           allow_unisolated=args.without_isolation)
        for c in g.cells:
            if c.role == "setup" and c.error and not args.json:
                print(f"  ! setup cell {c.index} failed: {c.error['ename']}: {c.error['evalue']}")
        tasks = [{"cell": c.index, "passed": c.verdict.passed, "reason": c.verdict.reason,
                  "points": g.points[c.index], "message": c.verdict.message}
                 for c in g.cells if c.verdict is not None]
        report.append({"notebook": path, "score": g.score, "max_score": g.max_score,
                       "tasks": tasks})
        if not args.json:
            print(f"{path}: {g.score:g} / {g.max_score:g}")
            for t in tasks:
                mark = "✓" if t["passed"] else "✗"
                print(f"  {mark} cell {t['cell']}: {t['points'][0]:g}/{t['points'][1]:g}"
                      + ("" if t["passed"] else f"  ({t['reason']})"))
                if not t["passed"]:
                    print("    " + t["message"].replace("\n", "\n    "))
    if args.json:
        print(json.dumps(report, indent=1))
    return 0 if all(r["score"] == r["max_score"] for r in report) else 1


if __name__ == "__main__":
    sys.exit(main())
