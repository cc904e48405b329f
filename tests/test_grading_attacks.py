"""Submissions that attack the grader, graded with `nbgrader autograde` on a fresh course copy.

Each attack (tests/grading/attacks.py) is a blank notebook plus code that tries to forge
its verdicts, hide what it did, write to the course (other students' notebooks, feedback
and gradebook rows, nbgrader_config.py), outlive grading, reach the network, kill the
grader, or read the hidden tests. Each must score 0, and nothing outside its own grading
may change: a student graded earlier keeps their submission, autograded notebook,
feedback and gradebook rows; a student graded later gets full marks; nbgrader_config.py
is unchanged; no process of a submission is alive after grading and none of its code
runs later; no feedback file holds hidden test text.
"""

import html
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dissyslab.check.grading.grader import grade_notebook
from grading.attacks import (
    ATTACKS,
    HIDDEN_LEAK_2,
    IS_ALIVE,
    LYING_DICT,
    MANY_PATHS,
    SIZES,
    TRUSTED_WORK,
    fill,
)
from grading.course import (
    EXERCISES,
    Submission,
    copy_course,
    load,
    nbgrader,
    notebook_path,
    source_text,
)

pytestmark = pytest.mark.slow

FANOUT, RACE = "03_fanout", "08_concurrency"
TASKS = ("task1", "task2", "task3")


def _ok(result):
    assert result.returncode == 0, f"nbgrader failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


def _files(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()} if folder.exists() else {}


def _rows(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(FANOUT, student)
        return sub.score, sorted((g.name, g.auto_score, g.manual_score)
                                 for nb in sub.notebooks for g in nb.grades)


def _score(course, assignment, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return gb.find_submission(assignment, student).score


class _Listener:
    """A TCP server on the loopback that records anything that connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections.append(conn.recv(100))
                conn.close()
            except OSError:
                continue


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("attacks"))
    for assignment in (FANOUT, RACE):
        _ok(nbgrader(course, "generate_assignment", assignment, "--force"))
    marker = "dsl_attack_" + secrets.token_hex(4)
    listener = _Listener()
    values = {"course": course, "marker": marker, "port": listener.port}
    released = notebook_path(course, FANOUT, "release")

    def fresh():
        return Submission(released)

    def solved():
        return fresh().solve(FANOUT, *(f"{t}_answer" for t in TASKS))

    # a student graded (with feedback) before the attackers
    solved().save(course, "aaa_earlier", FANOUT)
    _ok(nbgrader(course, "autograde", FANOUT, "--student=aaa_earlier"))
    _ok(nbgrader(course, "generate_feedback", FANOUT, "--student=aaa_earlier"))
    config = (course / "nbgrader_config.py").read_bytes()
    earlier = {folder: _files(course / folder / "aaa_earlier") for folder in (
        "submitted", "autograded", "feedback")}
    earlier_rows = _rows(course, "aaa_earlier")

    expected = {"sol": 10, "blank": 0, "zzz_later": 10}
    solved().save(course, "sol", FANOUT)
    fresh().save(course, "blank", FANOUT)
    for name, code in ATTACKS.items():
        sub = fresh().answer("task1_answer", fill(code, **values))
        if name == "hidden_leak":
            sub.answer("task2_answer", HIDDEN_LEAK_2)
        sub.save(course, name, FANOUT)
        expected[name] = 0
    # round three: the grader's own work, sizes, and links beside the notebook
    for name, (gid, code) in TRUSTED_WORK.items():
        fresh().answer(gid, code).save(course, name, FANOUT)
        expected[name] = 0
    for name, code in SIZES.items():
        fresh().answer("task1_answer", code).save(course, name, FANOUT)
        expected[name] = 0
    linked = fresh().save(course, "links", FANOUT).parent
    for link, target in {"gradebook.db": course / "gradebook.db", "shadow.txt": "/etc/shadow",
                         "stdin.txt": "/dev/stdin", "zero.txt": "/dev/zero",
                         "earlier.txt": course / "submitted" / "aaa_earlier" / FANOUT /
                         released.name, "course": course}.items():
        (linked / link).symlink_to(target)
    expected["links"] = 0
    # honest students between the attackers: 30 submissions in all
    for i in range(30 - len(expected) - 2):
        solved().save(course, f"honest_{i:02d}", FANOUT)
        expected[f"honest_{i:02d}"] = 10
    # task 1 solved, with a thread left running and the means to see it patched away
    task1 = fresh().solve(FANOUT, "task1_answer")
    task1.answer("task1_answer", task1.source_of("task1_answer") + IS_ALIVE)
    task1.save(course, "is_alive", FANOUT)
    expected["is_alive"] = 0
    # a student graded after the attackers
    solved().save(course, "zzz_later", FANOUT)
    later = _files(course / "submitted" / "zzz_later")
    # assignment 08: the race kept, hidden behind a dict that lies
    race = notebook_path(course, RACE, "release")
    Submission(race).answer("task3_answer", LYING_DICT).save(course, "lying_dict", RACE)

    started = time.monotonic()
    graded = nbgrader(course, "autograde", FANOUT, "--force", stdin=subprocess.PIPE)
    graded_race = nbgrader(course, "autograde", RACE, "--force")
    took = time.monotonic() - started
    _ok(graded)
    _ok(graded_race)
    alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    _ok(nbgrader(course, "generate_feedback", FANOUT, "--force"))
    _ok(nbgrader(course, "generate_feedback", RACE, "--force"))
    time.sleep(5)  # what escaped would write its file by now
    listener.stop = True
    return dict(course=course, marker=marker, listener=listener, config=config, earlier=earlier,
                earlier_rows=earlier_rows, later=later, expected=expected, alive=alive,
                took=took, log=graded.stderr)


@pytest.mark.timeout(1200)
def test_every_attack_scores_zero_and_the_others_their_points(attacked):
    course = attacked["course"]
    print(f"\n{len(attacked['expected'])} submissions graded in {attacked['took']:.1f} s")
    scores = {s: _score(course, FANOUT, s) for s in attacked["expected"]}
    assert scores == {s: float(v) for s, v in attacked["expected"].items()}
    assert _score(course, RACE, "lying_dict") == 0
    nb = load(course / "autograded" / "lying_dict" / RACE / notebook_path(course, RACE).name)
    text = json.dumps(nb)
    assert "a race" in text or "depends on the schedule" in text


@pytest.mark.timeout(1200)
def test_nothing_outside_the_submissions_own_grading_changes(attacked):
    course = attacked["course"]
    assert (course / "nbgrader_config.py").read_bytes() == attacked["config"]
    for folder, files in attacked["earlier"].items():
        assert _files(course / folder / "aaa_earlier") == files, folder
    assert _rows(course, "aaa_earlier") == attacked["earlier_rows"]
    assert _files(course / "submitted" / "zzz_later") == attacked["later"]
    marker = attacked["marker"]
    assert not list(course.rglob(f"*{marker}*"))
    for path in course.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".html", ".db", ".csv"):
            data = path.read_bytes()
            if b"plagiarism detected" in data:
                # only the attacker's own notebooks may hold its code
                assert "course_writes" in path.parts, path


@pytest.mark.timeout(1200)
def test_no_process_of_a_submission_is_left_and_none_reached_the_network(attacked):
    assert attacked["alive"] == ""
    out = subprocess.run(["pgrep", "-f", attacked["marker"]], capture_output=True, text=True)
    assert out.stdout == ""
    assert attacked["listener"].connections == []


def _hidden_lines(assignment):
    """Lines of the hidden tests that appear nowhere in the student's version."""
    lines = set()
    for cell in load(notebook_path(EXERCISES, assignment))["cells"]:
        src = source_text(cell)
        if "### BEGIN HIDDEN TESTS" not in src:
            continue
        hidden = src.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]
        visible = src.replace(hidden, "")
        for line in hidden.splitlines():
            line = line.strip()
            if len(line) >= 12 and line not in visible and not line.startswith("#"):
                lines.add(line)
    return lines


@pytest.mark.timeout(1200)
def test_no_feedback_holds_hidden_test_text(attacked):
    course = attacked["course"]
    files = list((course / "feedback").rglob("*.html"))
    assert len(files) >= len(attacked["expected"])
    secret = {a: _hidden_lines(a) for a in (FANOUT, RACE)}
    assert secret[FANOUT] and secret[RACE]
    for path in files:
        text = html.unescape(path.read_text(encoding="utf-8"))
        assignment = path.parent.name
        for line in secret[assignment]:
            assert line not in text, (path, line)
        # nothing from outside the student's own folder: the gradebook, /etc/shadow
        assert "SQLite format" not in text and "root:" not in text, path
        # what task 1's hidden tests sent to the spying answer is not shown either
        assert "'fanout'" not in text and "FANOUT" not in text, path


@pytest.mark.timeout(1200)
def test_a_protection_that_is_missing_is_said(attacked):
    """On this machine the sandbox works: grading says nothing about missing protections."""
    assert "WITHOUT a sandbox" not in attacked["log"]


# --- round three: the grader's own work on what a submission sent is bounded ----------------

def _graded(code, test="task1_tests", test_code=None, answer="task1_answer", **limits):
    """The fanout assignment with ``answer`` (the cell) answered by ``code``, the rest solved."""
    path = notebook_path(EXERCISES, FANOUT)
    sub = Submission(path).answer(answer, code)
    if test_code is not None:
        sub.edit(test, test_code)
    return grade_notebook(sub.nb, workdir=path.parent, **limits)


def _by_task(result):
    return {c.task: c.verdict for c in result.cells if c.verdict is not None}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", sorted(TRUSTED_WORK))
def test_what_a_submission_sends_is_judged_in_bounded_work(name):
    """Each attack on the grader's own work fails its task by its checks, within the time limit.

    Before: the grader spun on 2**64 shared sub-lists (has_remote, the failure message's
    picture of a value) or on 2**40 routes (check.paths), and the batch stopped there.
    """
    answer, code = TRUSTED_WORK[name]
    result = _graded(code, answer=answer, test_timeout=30)
    verdicts = _by_task(result)
    task = int(answer[4])
    assert not verdicts[task].passed
    assert verdicts[task].reason == "failed", verdicts[task]  # by its checks, not stopped
    assert len(verdicts[task].message) < 5000
    # the rest of the notebook is graded
    assert all(v.passed for t, v in verdicts.items() if t != task), verdicts


def test_bounded_walks_of_shared_and_looped_data():
    from dissyslab.check.failure import show
    from dissyslab.check.grading.remote import has_remote

    tangle = []
    for _ in range(64):
        tangle = [tangle, tangle]
    loop = [1, 2]
    loop.append(loop)
    assert has_remote(tangle) is False
    assert has_remote(loop) is False
    assert has_remote(list(range(10**6))) is True  # too big to look at: not plain data
    text = show(tangle, 160)
    assert len(text) <= 160 and text.startswith("[[[[")
    assert show(loop) == "[1, 2, [...]]"
    assert show({"a": (1,), "b": "x" * 10**7}, 40).endswith(" ...")
    assert show([1, (2,), {"k": None}]) == "[1, (2,), {'k': None}]"


@pytest.mark.timeout(60)
def test_paths_of_a_network_with_two_to_the_forty_routes_fail_quickly():
    from dissyslab import ListSource, Sink, Source, Transform, check, network

    names = {"Source": Source, "Transform": Transform, "Sink": Sink, "ListSource": ListSource,
             "network": network, "WORDS": ["a"]}
    exec(MANY_PATHS, names)
    with pytest.raises(check.CheckFailed, match="far more routes"):
        check.paths(names["g"], ["word_source → hub_0 → collector_length"])


@pytest.mark.timeout(120)
def test_a_test_cell_that_runs_past_its_limit_in_the_grader_is_stopped():
    """The backstop: a test cell's own work (here an endless loop) is stopped at its limit.

    Before, a test cell's limit was checked only when it asked the student's process
    something, so this cell kept grading (and the batch) busy for ever.
    """
    from grading.course import solution

    started = time.monotonic()
    result = _graded(solution(FANOUT, "task1_answer"), test_code=(
        "check.fanout(g, 'word_source', 2)\nseen = upper_results\nwhile True:\n    len(seen)\n"),
        test_timeout=3, grace=1)
    took = time.monotonic() - started
    verdicts = _by_task(result)
    assert verdicts[1].reason == "timeout" and "did not finish within 3 seconds" in \
        verdicts[1].message
    assert verdicts[2].passed and verdicts[3].passed
    assert any("still busy" in line for line in result.log)
    assert took < 60


# --- round three: the set-up is checked before the first submission ---------------------------

#: a blank notebook that rebinds `check` so that every check passes (in its own kernel it would)
REBIND_CHECK = '''
class _Everything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: True
check = _Everything()
'''


@pytest.fixture(scope="module")
def small_course(tmp_path_factory):
    """A course with the fanout assignment released, and nothing graded yet."""
    course = copy_course(tmp_path_factory.mktemp("setup"))
    _ok(nbgrader(course, "generate_assignment", FANOUT, "--force"))
    return course


def _fresh_copy(small_course, tmp_path):
    import shutil

    dest = tmp_path / "course"
    shutil.copytree(small_course, dest)
    return dest


def _hand_in(course, student, code=None, solved=False):
    sub = Submission(notebook_path(course, FANOUT, "release"))
    if solved:
        sub.solve(FANOUT, *(f"{t}_answer" for t in TASKS))
    if code is not None:
        sub.answer("task1_answer", code)
    return sub.save(course, student, FANOUT)


def _graded_any(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return [s.student.id for a in gb.assignments for s in a.submissions]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("typo", [
    ("c.GradeInSubprocess.hidden_details = False", "c.GradeInSubprocess.hidden_details = false"),
    ("c.OverwriteCells.add_missing_cells = True", "c.OverwriteCells.add_missing_cells = true"),
    ("c.GradeInSubprocess.cell_timeout = 15", "c.GradeInSubprocess.cell_timeout = 15 +"),
    ("c.Autograde.autograde_preprocessors = autograde_preprocessors()",
     "c.Autograde.autograde_preprocessors = autograde_preprocessors()\n"
     "from nbgrader.preprocessors import Execute\n"
     "c.Autograde.autograde_preprocessors = c.Autograde.autograde_preprocessors + [Execute]"),
])
def test_a_config_typo_stops_grading_before_the_first_submission(small_course, tmp_path, typo):
    """Before: traitlets logged one ERROR and nbgrader graded in students' kernels (10/10)."""
    course = _fresh_copy(small_course, tmp_path)
    config = course / "nbgrader_config.py"
    text = config.read_text()
    assert typo[0] in text
    config.write_text(text.replace(typo[0], typo[1]))
    _hand_in(course, "rebinder", REBIND_CHECK)
    result = nbgrader(course, "autograde", FANOUT)
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "dissyslab grading did not start, and nothing was graded" in log
    assert "nbgrader_config.py" in log
    assert not (course / "autograded" / "rebinder").exists()
    assert "rebinder" not in _graded_any(course)


@pytest.mark.timeout(600)
def test_without_the_json_next_to_it_the_config_refuses_to_load(small_course, tmp_path):
    course = _fresh_copy(small_course, tmp_path)
    (course / "nbgrader_config.json").unlink()
    _hand_in(course, "rebinder", REBIND_CHECK)
    result = nbgrader(course, "autograde", FANOUT)
    assert "nbgrader_config.json is missing" in result.stdout + result.stderr
    assert "rebinder" not in _graded_any(course)


def _path_without(tmp_path, *programs):
    """A PATH with the system's programs except ``programs`` (as if they were not installed)."""
    import os

    folder = tmp_path / "bin"
    folder.mkdir()
    for d in ("/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for name in os.listdir(d) if os.path.isdir(d) else []:
            if name not in programs and not (folder / name).exists():
                (folder / name).symlink_to(os.path.join(d, name))
    return str(folder)


@pytest.mark.timeout(600)
def test_without_isolation_grading_refuses_unless_the_instructor_opts_in(small_course, tmp_path):
    """Before: one warning line, and student code ran as the grading user (root here)."""
    import os

    course = _fresh_copy(small_course, tmp_path)
    _hand_in(course, "ada", solved=True)
    path = _path_without(tmp_path, "bwrap", "unshare")
    result = nbgrader(course, "autograde", FANOUT, path=path)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot be isolated here" in log
    assert "run_student_code_without_isolation = True" in log
    assert "ada" not in _graded_any(course)
    # the instructor opts in, by name: graded, with the warning
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text().replace(
        "run_student_code_without_isolation = False", "run_student_code_without_isolation = True"))
    result = nbgrader(course, "autograde", FANOUT, path=path)
    _ok(result)
    assert "WITHOUT a sandbox" in result.stderr
    assert _score(course, FANOUT, "ada") == 10
    if os.geteuid() != 0:
        return
    # as root without bubblewrap: isolated with unshare, chroot and setpriv, no warning
    config.write_text(config.read_text().replace(
        "run_student_code_without_isolation = True", "run_student_code_without_isolation = False"))
    _hand_in(course, "bo", solved=True)
    _hand_in(course, "eve", fill(ATTACKS["course_writes"], course=course, marker="unshare_marker"))
    before = (course / "submitted" / "bo" / FANOUT / f"{FANOUT}_exercises.ipynb").read_bytes()
    (tmp_path / "no_bwrap").mkdir()
    result = nbgrader(course, "autograde", FANOUT, "--force",
                      path=_path_without(tmp_path / "no_bwrap", "bwrap"))
    _ok(result)
    assert "WITHOUT a sandbox" not in result.stderr
    assert _score(course, FANOUT, "bo") == 10 and _score(course, FANOUT, "eve") == 0
    assert (course / "submitted" / "bo" / FANOUT / f"{FANOUT}_exercises.ipynb").read_bytes() == before
    assert not list(course.rglob("*unshare_marker*"))


@pytest.mark.timeout(120)
def test_the_box_without_bubblewrap_works_for_a_python_that_lives_under_tmp(tmp_path, monkeypatch):
    """Before: the box's own /tmp was mounted over the interpreter's folder when that folder was
    under /tmp (a clone in /tmp/...), so 'env: .../bin/python: No such file or directory'."""
    import os
    import sys

    from dissyslab.check.grading import sandbox

    monkeypatch.setenv("PATH", os.environ.get("PATH", "") + ":/usr/sbin:/sbin")  # chroot is there
    if os.geteuid() != 0 or not all(
            sandbox.shutil.which(p) for p in ("unshare", "setpriv", "chroot", "mount")):
        pytest.skip("the box without bubblewrap is made by root with unshare, setpriv and chroot")
    venv = Path("/tmp") / f"dsl_venv_{secrets.token_hex(4)}"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                       timeout=60)
        lib, work = tmp_path / "lib", tmp_path / "work"
        lib.mkdir()
        work.mkdir()
        which = sandbox.shutil.which
        monkeypatch.setattr(sandbox.shutil, "which", lambda p: None if p == "bwrap" else which(p))
        monkeypatch.setattr(sandbox, "_PROBE", {})
        assert sandbox.isolation(lib, work, str(venv / "bin" / "python")) == ("unshare", "")
    finally:
        subprocess.run(["rm", "-rf", str(venv)], timeout=60)


# --- round three: files beside the notebook ------------------------------------------------


@pytest.mark.timeout(900)
def test_links_and_special_files_beside_the_notebook_reach_nothing(small_course, tmp_path):
    """Before: nbgrader copied the link targets (gradebook.db, another student's notebook, a
    private file, /etc/shadow) into the attacker's folder and feedback; /dev/stdin hung grading.
    """
    import os
    import subprocess

    course = _fresh_copy(small_course, tmp_path)
    secret = "private_" + secrets.token_hex(4)
    private = tmp_path / "private.txt"
    private.write_text(secret)
    private.chmod(0o600)
    other = _hand_in(course, "ada", solved=True)
    first = load(other)
    first["cells"][0]["source"] = "ada_marker_" + secret  # a word only ada's notebook holds
    other.write_text(json.dumps(first))
    nb = _hand_in(course, "mallory")
    folder = nb.parent
    links = {"gradebook.db": course / "gradebook.db", "ada.ipynb.txt": other,
             "private.txt": private, "shadow.txt": "/etc/shadow", "stdin.txt": "/dev/stdin",
             "zero.txt": "/dev/zero", "source": course / "source", "up": "../../.."}
    for name, target in links.items():
        (folder / name).symlink_to(target)
    os.mkfifo(folder / "pipe.txt")
    (folder / "words.txt").write_text("an ordinary data file\n")
    # a second attacker hands in a link in place of the notebook itself
    thief = course / "submitted" / "trent" / FANOUT
    thief.mkdir(parents=True)
    (thief / nb.name).symlink_to(other)
    _hand_in(course, "zed", solved=True)
    result = nbgrader(course, "autograde", FANOUT, timeout=600, stdin=subprocess.PIPE)
    _ok(result)
    _ok(nbgrader(course, "generate_feedback", FANOUT))
    assert {s: _score(course, FANOUT, s) for s in ("ada", "mallory", "trent", "zed")} == {
        "ada": 10, "mallory": 0, "trent": 0, "zed": 10}
    for student in ("mallory", "trent"):
        for top in ("autograded", "feedback"):
            for path in (course / top / student).rglob("*"):
                assert not path.is_symlink(), path
                if path.is_file():
                    data = path.read_bytes()
                    assert secret.encode() not in data, path
                    assert b"SQLite format" not in data and b"root:" not in data, path
                    if top == "feedback":
                        assert b"BEGIN HIDDEN TESTS" not in data, path
    graded = course / "autograded" / "mallory" / FANOUT
    assert (graded / "words.txt").read_text() == "an ordinary data file\n"
    page = (course / "feedback" / "mallory" / FANOUT / f"{FANOUT}_exercises.html").read_text()
    assert "were not used" in page and "symbolic link" in page and "FIFO" in page
    assert "were not used" in (course / "feedback" / "trent" / FANOUT /
                               f"{FANOUT}_exercises.html").read_text()
    log = result.stdout + result.stderr
    assert "shadow.txt is a symbolic link" in log


# --- round three: the formgrader and the feedback pages -------------------------------------

#: markdown a student adds: each line would set window.__pwned if its script ran
XSS_MARKDOWN = """## Task 1 <img src=x onerror="window.__pwned='heading'"> xss_marker
<script>window.__pwned = 'script'</script>
<img src="x" onerror="window.__pwned = 'img'">
<svg onload="window.__pwned = 'svg'"><circle r="3"/></svg>
[click me](javascript:window.__pwned='link') <a id="xss_a" href="javascript:window.__pwned='a'">a</a>
<iframe src="javascript:parent.__pwned='iframe'"></iframe>
"""


def _xss_submission(course, student):
    sub = Submission(notebook_path(course, FANOUT, "release")).solve(
        FANOUT, *(f"{t}_answer" for t in TASKS))
    cells = sub.nb["cells"]
    at = next(i for i, c in enumerate(cells) if (c.get("metadata", {}).get("nbgrader") or {})
              .get("grade_id") == "task1_tests")
    cells.insert(at, {"cell_type": "markdown", "metadata": {}, "source": XSS_MARKDOWN})
    sub.answer("task2_answer", sub.source_of("task2_answer") +
               "\nprint('<script>window.__pwned = \"stdout\"</script>')\n")
    return sub.save(course, student, FANOUT)


def _no_script_ran(page):
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__pwned === undefined"), page.evaluate("window.__pwned")
    if page.locator("#xss_a").count():
        page.locator("#xss_a").first.click()
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned === undefined")


@pytest.fixture(scope="module")
def formgrader(small_course, tmp_path_factory):
    """The course with an autograded submission that carries scripts, served by Jupyter."""
    import importlib.util
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import urllib.request

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if os.environ.get("DISSYSLAB_NO_BROWSER") == "1" or not os.path.exists(chromium) or \
            importlib.util.find_spec("playwright") is None:
        pytest.skip("no browser here (Chromium and Playwright are needed)")
    base = tmp_path_factory.mktemp("formgrader")
    course = base / "course"
    shutil.copytree(small_course, course)
    _xss_submission(course, "xss")
    _ok(nbgrader(course, "autograde", FANOUT))
    _ok(nbgrader(course, "generate_feedback", FANOUT))
    port, token = socket.socket(), secrets.token_hex(16)
    port.bind(("127.0.0.1", 0))
    port_number = port.getsockname()[1]
    port.close()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), JUPYTER_PLATFORM_DIRS="1")
    from grading.course import REPO

    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port_number}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=course,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port_number}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            try:
                yield dict(course=course, url=url, token=token, browser=browser, log=log)
            finally:
                browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.browser
@pytest.mark.timeout(900)
def test_the_formgrader_shows_a_submission_and_runs_none_of_its_scripts(formgrader):
    """Before: every submission page answered HTTP 500 (the feedback template was set for every
    HTML export); with that fixed, a student's <script> ran in the instructor's page."""
    from nbgrader.api import Gradebook

    course = formgrader["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub_id = gb.find_submission_notebook(f"{FANOUT}_exercises", FANOUT, "xss").id
    page = formgrader["browser"].new_page()
    try:
        response = page.goto(f"{formgrader['url']}/formgrader/submissions/{sub_id}/"
                             f"?token={formgrader['token']}")
        assert response.status == 200, formgrader["log"].read_text()[-3000:]
        page.wait_for_load_state("load")
        assert "xss_marker" in page.content()
        assert page.locator(".nbgrader_cell").count() >= 3  # the graded cells are there to grade
        _no_script_ran(page)
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.timeout(900)
def test_the_feedback_page_runs_none_of_a_students_scripts(formgrader):
    path = (formgrader["course"] / "feedback" / "xss" / FANOUT / f"{FANOUT}_exercises.html")
    text = path.read_text()
    assert "xss_marker" in text
    import re

    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", text, re.I)  # no event handler in a tag
    assert not re.search(r"<[a-z][^<>]*\s(href|src)\s*=\s*[\"']?\s*javascript:", text, re.I)
    assert "<script>window.__pwned" not in text and "<iframe" not in text
    page = formgrader["browser"].new_page()
    try:
        page.goto(path.as_uri())
        _no_script_ran(page)
    finally:
        page.close()


# --- round three: sizes -----------------------------------------------------------------------


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(SIZES))
def test_what_one_notebook_leaves_in_its_graded_notebook_is_capped(name):
    """Before: 15.3 MB of output from one cell (the process's own cap lifted), and a 3-million-
    character node name quoted in full in the failure messages (6 MB)."""
    from dissyslab.check.grading.grader import CELL_OUTPUT, MESSAGE

    result = _graded(SIZES[name])
    cell = next(c for c in result.cells if c.role == "answer" and c.task == 1)
    printed = sum(len(o.get("text", "")) for o in cell.outputs)
    assert printed <= CELL_OUTPUT + 500
    if name == "output_flood":
        assert cell.outputs, f"the flooding cell kept no output at all: {cell.error}"
        assert "Grading kept only the start" in cell.outputs[-1]["text"]
    verdicts = _by_task(result)
    assert all(len(v.message) <= MESSAGE for v in verdicts.values())
    total = sum(len(json.dumps(c.outputs)) + len(c.verdict.message if c.verdict else "")
                for c in result.cells)
    assert total < 300_000
    assert verdicts[2].passed and verdicts[3].passed


@pytest.mark.timeout(120)
def test_a_reply_too_big_is_said_in_words():
    from dissyslab.check.grading.grader import CellResult, Grading, _ended

    results = [CellResult(0, "answer", task=1), CellResult(1, "test", task=1)]
    grading = Grading(results, {1: (0.0, 4.0)})
    _ended({"why": "died", "code": "sent a reply that is too big", "index": 0, "stderr": ""},
           results, {r.index: r for r in results}, set(), grading)
    assert "exited with code sent" not in results[0].error["evalue"]
    assert "was stopped because it sent a reply that is too big" in results[0].error["evalue"]


# --- the box's scratch folder is bounded, and still holds the notebook's data files ----------

FILL_WORK = """
import os
print(open("words.txt").read().strip(), "|", open(os.path.join("data", "more.txt")).read().strip())
with open("notes.txt", "w") as f:   # the working folder is writable
    f.write("mine")
written = 0
try:
    for i in range(12):             # 600 MB in files of 50 MB (each file may have 100 MB)
        with open(f"fill{i}.bin", "wb") as f:
            for _ in range(5):
                f.write(b"x" * (10 * 1024 * 1024))
                f.flush()
                written += 10
except OSError as err:
    print("stopped:", err.strerror)
print(f"wrote {written} MB")
for i in range(12):
    if os.path.exists(f"fill{i}.bin"):
        os.remove(f"fill{i}.bin")
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("scratch_mb", [None, 40])
@pytest.mark.parametrize("box", ["bwrap", "unshare"])
def test_the_scratch_folder_cannot_fill_the_disk_and_keeps_the_data_files(tmp_path, monkeypatch,
                                                                           box, scratch_mb):
    """Before: the scratch folder was the host's disk with no quota (1,200 MB written in 5 s).

    Now it is a size-limited tmpfs in the box, filled from the prepared folder (read-only),
    with bubblewrap and without it; its size is the ``scratch_mb`` setting (256 MB unless set:
    a course whose data is larger sets more)."""
    import os

    from dissyslab.check.grading import sandbox

    monkeypatch.setattr(sandbox, "_PROBE", {})
    if box == "unshare":
        monkeypatch.setenv("PATH", os.environ.get("PATH", "") + ":/usr/sbin:/sbin")  # chroot
        which = sandbox.shutil.which
        monkeypatch.setattr(sandbox.shutil, "which", lambda p: None if p == "bwrap" else which(p))
    if sandbox.isolation(tmp_path, tmp_path, sys.executable)[0] != box:
        pytest.skip(f"no box can be made here with {box}")
    folder = tmp_path / "assignment"
    (folder / "data").mkdir(parents=True)
    (folder / "words.txt").write_text("an ordinary data file\n")
    (folder / "data" / "more.txt").write_text("and another\n")
    sub = Submission(notebook_path(EXERCISES, FANOUT)).answer("task1_answer", FILL_WORK)
    result = grade_notebook(sub.nb, workdir=folder, memory_mb=1024, cell_timeout=60,
                            scratch_mb=scratch_mb)
    cell = next(c for c in result.cells if c.role == "answer" and c.task == 1)
    printed = "".join(o.get("text", "") for o in cell.outputs)
    assert "an ordinary data file | and another" in printed, (printed, cell.error)
    assert "stopped: No space left on device" in printed, printed
    wrote = int(printed.split("wrote ")[1].split(" MB")[0])
    size = sandbox.SCRATCH_MB if scratch_mb is None else scratch_mb
    assert size - 20 <= wrote <= size, printed  # (written 10 MB at a time)
    # nothing the box wrote reached the prepared folder
    assert sorted(p.name for p in folder.rglob("*")) == ["data", "more.txt", "words.txt"]


@pytest.mark.timeout(600)
def test_the_course_sets_the_size_of_the_scratch_folder(small_course, tmp_path):
    """``c.GradeInSubprocess.scratch_mb`` in the course's nbgrader_config.py reaches the box."""
    from dissyslab.check.grading import sandbox

    if sandbox.isolation(tmp_path, tmp_path, sys.executable)[0] is None:
        pytest.skip("no box can be made here")
    course = _fresh_copy(small_course, tmp_path)
    config = course / "nbgrader_config.py"
    line = "c.GradeInSubprocess.scratch_mb = 256"
    assert line in config.read_text()
    config.write_text(config.read_text().replace(line, "c.GradeInSubprocess.scratch_mb = 40"))
    folder = _hand_in(course, "filler", FILL_WORK).parent  # with the data files it reads
    (folder / "data").mkdir()
    (folder / "words.txt").write_text("an ordinary data file\n")
    (folder / "data" / "more.txt").write_text("and another\n")
    result = nbgrader(course, "autograde", FANOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    nb = load(course / "autograded" / "filler" / FANOUT / notebook_path(course, FANOUT).name)
    printed = json.dumps(nb)
    assert "stopped: No space left on device" in printed, printed
    wrote = int(printed.split("wrote ")[1].split(" MB")[0])
    assert 20 <= wrote <= 40, printed


# --- a submission's processes together are bounded (a cgroup), not only each one -------------

SIX_FORKS = """
import os, time
children = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        try:
            held = b"x" * (300 * 1024 * 1024)   # 300 MB, every page written
            time.sleep(3)                        # all six hold theirs at the same time
        except BaseException:
            os._exit(1)
        os._exit(0)
    children.append(pid)
held = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
print(f"{held} of 6 held 300 MB")
"""


def _leftover_groups():
    """cgroup folders this process made for submissions and did not remove."""
    import glob
    import os

    from dissyslab.check.grading import cgroup

    return [f for point, _, _, _ in cgroup._mounts()
            for f in glob.glob(f"{point}/**/dissyslab-grading-{os.getpid()}-*", recursive=True)]


@pytest.mark.timeout(180)
def test_the_memory_of_a_submissions_processes_together_is_bounded():
    """Six forked processes of 300 MB each with memory_mb=512: not all six get their memory.

    Before: memory_mb limited each process only, and the six held 1,800 MB between them.
    """
    from dissyslab.check.grading import cgroup

    ok, why = cgroup.usable(512)
    if not ok:
        pytest.skip(f"no cgroup can be made here ({why}): grading bounds each process only")
    result = _graded(SIX_FORKS, memory_mb=512)
    cell = next(c for c in result.cells if c.role == "answer" and c.task == 1)
    printed = "".join(o.get("text", "") for o in cell.outputs)
    crashed = any(v.reason == "crashed" for v in _by_task(result).values())
    if not crashed:  # the kernel killed some of the six, or their parent (then the task says so)
        assert "of 6 held 300 MB" in printed, printed
        assert int(printed.split(" of 6")[0].split()[-1]) < 6, printed
    else:
        assert "more memory than a submission may have (512 MB" in _by_task(result)[1].message
    # the group is removed with its notebook
    assert _leftover_groups() == []


@pytest.mark.timeout(120)
def test_a_submissions_group_is_removed_and_kills_what_is_left_in_it():
    from dissyslab.check.grading import cgroup

    ok, why = cgroup.usable(256)
    if not ok:
        pytest.skip(f"no cgroup can be made here ({why})")
    group, why = cgroup.make(256, pids=50)
    assert group is not None, why
    sleeper = subprocess.Popen(group.command(["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"]),
                               start_new_session=True)
    deadline = time.monotonic() + 10
    while len(group.processes()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(group.processes()) == 3
    assert group.remove() is True
    assert sleeper.wait(timeout=10) != 0
    assert _leftover_groups() == []


BUSY_PAIR = """
import os, time
def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        spin(2.0)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""


@pytest.mark.timeout(120)
def test_a_submissions_processes_share_one_cpu():
    """Two processes that spin for 2 s of wall-clock time get 2 s of CPU between them, not 4.

    Before: each process of a submission had its own CPU-time limit only, so a submission that
    forked could take every core of the grading machine. (A busy machine gives them less, never
    more: this bound cannot be broken by a slow machine.)"""
    import os

    from dissyslab.check.grading import cgroup

    ok, why = cgroup.usable(256)
    if not ok:
        pytest.skip(f"no cgroup can be made here ({why})")
    group, why = cgroup.make(256)
    assert group is not None, why
    if group.cpus is None:
        group.remove()
        pytest.skip("this machine's cgroups offer no cpu controller")
    try:
        proc = subprocess.Popen(group.command([sys.executable, "-c", BUSY_PAIR]))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        group.remove()
    assert proc.returncode == 0
    used = usage.ru_utime + usage.ru_stime
    assert used <= 2.0 * group.cpus + 0.4, f"{used:.2f} s of CPU in 2 s with {group.cpus} CPU"


def test_a_cgroup_v2_group_is_made_where_the_controllers_are_handed_down(tmp_path, monkeypatch):
    """The v2 layout, on a folder laid out like one (this machine may have v1 only).

    The grader's own group is busy (it holds the grader, so it cannot hand controllers
    down) and has no memory controller here: the group is made under the root instead.
    """
    from dissyslab.check.grading import cgroup

    root = tmp_path / "cg"
    (root / "grader.slice").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("memory\n")
    (root / "grader.slice" / "cgroup.controllers").write_text("cpu\n")
    (root / "grader.slice" / "cgroup.subtree_control").write_text("")
    monkeypatch.setattr(cgroup, "_mounts", lambda: [(root, "/", "cgroup2", {"rw"})])
    monkeypatch.setattr(cgroup, "_own_groups", lambda: {"": "/grader.slice"})
    group, why = cgroup.make(300, pids=50)
    assert group is not None and group.version == 2, why
    [folder] = group.folders
    assert folder.parent == root
    assert (folder / "memory.max").read_text() == str(300 * 1024 * 1024)
    assert (folder / "pids.max").read_text() == "50"
    assert set((root / "cgroup.subtree_control").read_text().split()) == {"+pids", "+cpu"}
    assert (folder / "cpu.max").read_text() == "100000 100000" and group.cpus == 1  # one CPU
    assert str(folder / "cgroup.procs") in group.command(["true"])
    # no memory controller anywhere: no group, and why
    (root / "cgroup.controllers").write_text("cpu\n")
    group, why = cgroup.make(300)
    assert group is None and "no memory controller" in why
