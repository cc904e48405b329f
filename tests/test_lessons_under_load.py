"""The lessons pass under nbval on a machine that is busy with other work.

nbval compares every output a lesson stores with a fresh run, so no compared
output may depend on how fast the machine is: a lesson that says "the fast path
finished first: True" because a sleep was long enough would come out False on
a loaded machine (a student's laptop compiling something, a shared CI runner).
This test runs every lesson, with the options ``./test.sh`` gives nbval, while
busy-looping processes keep every core saturated (three per core, at least six).

The busy processes are ended whatever happens: in a ``finally``, and, should
this process itself be killed, by themselves, as each one stops as soon as its
parent is gone.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted(str(p.relative_to(REPO)) for p in (REPO / "notebooks").glob("[0-9]*.ipynb"))

#: a busy loop that stops by itself once the process that started it has gone
BUSY = """\
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""

pytestmark = pytest.mark.slow


def busy_processes(n: int) -> list:
    return [subprocess.Popen([sys.executable, "-c", BUSY, str(os.getpid())],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            for _ in range(n)]


def end(processes: list) -> None:
    for p in processes:
        if p.poll() is None:
            p.kill()
    for p in processes:
        p.wait()


def test_the_busy_processes_end_with_the_process_that_started_them(tmp_path):
    """Even if the test is killed before its ``finally`` runs, no busy loop is left behind."""
    script = tmp_path / "starter.py"
    script.write_text(f"import subprocess, sys, os\nBUSY = {BUSY!r}\n"
                      "p = subprocess.Popen([sys.executable, '-c', BUSY, str(os.getpid())])\n"
                      "print(p.pid, flush=True)\n")
    pid = int(subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=60, check=True).stdout)
    for _ in range(100):   # the starter has exited: its busy child notices within a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # the child may not have been reaped yet: a zombie has exited already
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return
        import time
        time.sleep(0.1)
    os.kill(pid, 9)
    pytest.fail("a busy process outlived the process that started it")


@pytest.mark.timeout(3600)
def test_every_lesson_passes_nbval_while_the_cpu_is_saturated():
    assert LESSONS, "no lessons found under notebooks/"
    busy = busy_processes(max(6, 3 * (os.cpu_count() or 2)))
    try:
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
                "--timeout=600", *LESSONS]
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=3300,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    finally:
        end(busy)
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, f"a lesson failed under load:\n{report}"
