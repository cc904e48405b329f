"""Grading one notebook safely: its cells run in a fresh process, and only that process's verdicts count.

:func:`grade_notebook` takes a notebook (nbformat dict) whose test cells are
the instructor's own (nbgrader restores them before this runs), and:

1. reads every answer cell first (``scan.py``) and refuses constructs that
   could reach into the grader;
2. starts a fresh interpreter (``python -I``) that imports a private copy of
   the ``dissyslab`` package, taken from the grader's memory when the grader
   started, so files a submission edits on disk change nothing for anyone;
3. sends it the instructor's setup cells, the answer cells and the test
   cells (cells a student added are not run), and reads its verdicts from a
   private pipe, each line signed with a one-time secret;
4. stops it when a cell runs past its time limit (the process group is
   killed), and treats a process that dies as a crash: the cell it was
   running and every test after it fail, earlier verdicts stand.

If a submission changed the library or the builtins (seen by the process's
integrity snapshot), or uses a refused construct, every test of the notebook
fails: tampering gains nothing. ``python -m dissyslab.check.grader NB...``
grades notebooks from a terminal.
"""

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .child import plain_python
from .scan import scan

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

_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from dissyslab.check.child import main; main()")


@dataclass
class Verdict:
    """The result of one test cell: passed or not, and the message for the student."""

    passed: bool
    reason: str  # passed, failed, timeout, threads, exited, tampered, refused, crashed, not_run
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


@dataclass
class Grading:
    """All cell results of one notebook, and the points per test cell."""

    cells: list
    points: dict  # cell index -> (earned, possible)
    log: list = field(default_factory=list)

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

    def on_disk(self):
        """The package's files as they are on disk now: {relative path: bytes or None}."""
        found = {}
        for rel in self.files:
            try:
                found[rel] = (self.root / rel).read_bytes()
            except OSError:
                found[rel] = None
        return found


_PACKAGE = None


def _package():
    global _PACKAGE
    if _PACKAGE is None:
        _PACKAGE = _PackageCopy()
    return _PACKAGE


def grade_notebook(nb, workdir=None, cell_timeout=CELL_TIMEOUT, test_timeout=TEST_TIMEOUT,
                   notebook_timeout=NOTEBOOK_TIMEOUT, memory_mb=MEMORY_MB, python=None,
                   grace=GRACE):
    """Grade one notebook (a dict in nbformat 4 layout); return a :class:`Grading`.

    ``workdir``: a folder whose files (data the notebook reads) are copied next
    to the notebook's process; the process runs in a fresh temporary folder.
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

    job_cells, task = [], 0
    for r in results:
        r.task = task + 1
        if r.role in ("setup", "answer", "test"):
            job_cells.append({"index": r.index, "role": r.role, "task": task,
                              "source": _source(cells[r.index])})
        if r.role == "test":
            task += 1

    refused = []
    for jc in job_cells:
        if jc["role"] == "answer":
            try:
                code = plain_python(jc["source"])
            except Exception:
                code = jc["source"]
            for f in scan(code, cell=jc["index"]):
                if (f.cell, f.line, f.what) not in {(x.cell, x.line, x.what) for x in refused}:
                    refused.append(f)

    if refused:
        text = ("Your answers use something that can reach into the grader, so this notebook "
                "gets no points:\n" + "\n".join(f"  - {f}" for f in refused[:5])
                + "\n  Hint: none of the tasks needs it; take it out. If you think this is a "
                  "mistake, ask your instructor.")
        for r in results:
            if r.role == "test":
                r.verdict = Verdict(False, "refused", text)
        grading.log.append(f"refused: {refused[0]}")
        return grading

    events = _run_child(job_cells, workdir, cell_timeout, test_timeout, notebook_timeout,
                        memory_mb, python, grading, grace)
    _apply(events, results, grading)
    return grading


def _run_child(job_cells, workdir, cell_timeout, test_timeout, notebook_timeout, memory_mb,
               python, grading, grace):
    """Run the grading process; return the events it reported (plus one for how it ended)."""
    package = _package()
    before = package.on_disk()
    nonce = secrets.token_hex(16)
    kinds = {jc["index"]: jc["role"] for jc in job_cells}
    events = []
    with tempfile.TemporaryDirectory(prefix="dissyslab-grading-") as tmp:
        lib = package.write(Path(tmp) / "lib")
        run_dir = Path(tmp) / "run"
        if workdir is not None and Path(workdir).is_dir():
            shutil.copytree(workdir, run_dir, ignore=shutil.ignore_patterns(
                "*.ipynb", ".ipynb_checkpoints", "__pycache__"))
        else:
            run_dir.mkdir()
        read_fd, write_fd = os.pipe()
        err_read, err_write = os.pipe()
        job = {"nonce": nonce, "report_fd": write_fd, "cell_timeout": cell_timeout,
               "test_timeout": test_timeout, "memory_mb": memory_mb, "cells": job_cells}
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME",
                                                            "TMPDIR", "SYSTEMROOT")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["MPLBACKEND"] = "Agg"
        try:
            proc = subprocess.Popen(
                [python or sys.executable, "-I", "-c", _BOOT, lib],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err_write,
                cwd=run_dir, env=env, pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)
            os.close(err_write)
        stderr = _Tail()
        try:
            try:
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            ended = _read_events(proc, read_fd, err_read, stderr, nonce, kinds, cell_timeout,
                                 test_timeout, notebook_timeout, grace, events)
        finally:
            # whatever happened here (even Ctrl-C), the process and its children end now
            _kill_group(proc)
            os.close(read_fd)
            os.close(err_read)
        tail = stderr.text()
    if ended is not None:
        ended["stderr"] = tail
        events.append(ended)
    after = package.on_disk()
    changed = sorted(str(rel) for rel in before if after[rel] != before[rel])
    if changed:
        # Other notebooks are safe (each process imports its own copy), but the instructor
        # should know: an edit made during this run may come from this submission.
        grading.log.append(f"the files of the installed dissyslab package changed while this "
                           f"notebook was graded: {', '.join(changed)}. If nobody edited them, "
                           f"this submission may have; reinstall the package before the next "
                           f"grading run.")
    return events


class _Tail:
    """The last few thousand bytes of the process's error output (the rest is read and dropped)."""

    KEEP = 4000

    def __init__(self):
        self.data = b""

    def add(self, chunk):
        self.data = (self.data + chunk)[-self.KEEP:]

    def text(self):
        return self.data.decode(errors="replace")


def _read_events(proc, fd, err_fd, stderr, nonce, kinds, cell_timeout, test_timeout,
                 notebook_timeout, grace, events):
    """Collect the process's events until it says done; return an 'ended' event if it did not."""
    start = time.monotonic()
    deadline = start + STARTUP_TIMEOUT
    final = start + notebook_timeout
    current, buf = None, b""
    while True:
        now = time.monotonic()
        limit = min(deadline, final)
        if now >= limit:
            why = "notebook" if final <= deadline else "cell"
            return {"event": "ended", "why": "killed", "limit": why, "index": current,
                    "seconds": (notebook_timeout if why == "notebook" else
                                (test_timeout if kinds.get(current) == "test" else cell_timeout))}
        watch = [fd] if err_fd is None else [fd, err_fd]
        ready, _, _ = select.select(watch, [], [], min(limit - now, 0.5))
        if err_fd in ready:
            chunk = os.read(err_fd, 65536)
            if chunk:
                stderr.add(chunk)
            else:
                err_fd = None
        if fd not in ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:  # the process closed the pipe: it has ended
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            _drain(err_fd, stderr)
            return {"event": "ended", "why": "died", "code": code, "index": current}
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if type(event) is not dict or event.get("nonce") != nonce:
                continue  # not from the grader: ignore it
            events.append(event)
            kind = event.get("event")
            if kind == "done":
                return None
            if kind == "ready":
                deadline = time.monotonic() + STARTUP_TIMEOUT
            elif kind == "start":
                current = event["index"]
                t = test_timeout if kinds.get(current) == "test" else cell_timeout
                deadline = time.monotonic() + t + grace
            elif kind in ("cell", "verdict"):
                deadline = time.monotonic() + STARTUP_TIMEOUT


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


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _apply(events, results, grading):
    by_index = {r.index: r for r in results}
    seen_verdict = set()
    for e in events:
        kind = e.get("event")
        r = by_index.get(e.get("index"))
        if kind == "cell" and r is not None:
            r.outputs = list(e.get("outputs") or [])
            r.error = e.get("error")
        elif kind == "verdict" and r is not None and r.role == "test":
            r.outputs = list(e.get("outputs") or [])
            r.verdict = Verdict(bool(e.get("passed")), str(e.get("reason")), str(e.get("message")))
            seen_verdict.add(r.index)
        elif kind == "ended":
            _ended(e, results, by_index, seen_verdict, grading)
    # tampering anywhere voids the whole notebook
    tampered = [r for r in results if r.verdict is not None and r.verdict.reason == "tampered"]
    if tampered:
        first = tampered[0]
        for r in results:
            if r.role == "test" and (r.verdict is None or r.verdict.reason != "tampered"):
                r.verdict = Verdict(False, "tampered", (
                    f"Another cell of this notebook (cell {first.index}) found that the checks "
                    f"or the library were changed, so no task of this notebook can be graded.\n"
                    + first.verdict.message))
    for r in results:
        if r.role == "test" and r.verdict is None:
            r.verdict = Verdict(False, "not_run", "These checks did not run.")
        if r.role == "test":
            earned = grading.points[r.index][1] if r.verdict.passed else 0.0
            grading.points[r.index] = (earned, grading.points[r.index][1])


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
        how = (f"was killed by signal {signal.Signals(sig).name}" if sig and sig in
               signal.Signals._value2member_map_ else f"exited with code {code}")
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
    """``python -m dissyslab.check.grader NOTEBOOK...``: grade notebooks and print each task's verdict.

    The exit status is 0 only if every notebook earned every point (handy to check sources).
    """
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT)
    parser.add_argument("--test-timeout", type=float, default=TEST_TIMEOUT)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    report = []
    for path in args.notebooks:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        g = grade_notebook(nb, workdir=Path(path).parent, cell_timeout=args.cell_timeout,
                           test_timeout=args.test_timeout)
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
