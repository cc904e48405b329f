"""How long does `nbgrader autograde` take for a class? Grades N sample submissions and says.

    python tests/grading/time_grading.py            # 30 submissions, the course's own time limits
    python tests/grading/time_grading.py -n 60 --cell-timeout 5
    python tests/grading/time_grading.py --without dee    # no submission that hangs

The submissions cycle through the samples of students.py (right, partly right, hanging,
crashing, exiting, tampering...), so a few of them run into their time limits, as in a
real class. Prints the wall-clock time of the one `nbgrader autograde` command, and
checks that every submission got the score it should.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grading.course import copy_course, nbgrader, notebook_path  # noqa: E402
from grading.students import ASSIGNMENT, TASKS, students  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="number of submissions (default 30)")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds per cell (default: the course's nbgrader_config.py)")
    parser.add_argument("--without", action="append", default=[], metavar="KIND",
                        help="leave out one kind of sample (e.g. --without dee: no hanging ones)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        course = copy_course(tmp)
        result = nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
        assert result.returncode == 0, result.stderr[-3000:]
        sample = [(kind, s) for kind, s in students(notebook_path(course, ASSIGNMENT, "release")).items()
                  if kind not in args.without]
        expected = {}
        for i in range(args.n):
            kind, (submission, want) = sample[i % len(sample)]
            student = f"s{i + 1:03d}_{kind}"
            submission.save(course, student, ASSIGNMENT)
            expected[student] = sum(want[t] for t in TASKS)
        extra = [] if args.cell_timeout is None else [
            f"--GradeInSubprocess.cell_timeout={args.cell_timeout:g}"]
        started = time.perf_counter()
        result = nbgrader(course, "autograde", ASSIGNMENT, *extra, timeout=3600)
        elapsed = time.perf_counter() - started
        assert result.returncode == 0, result.stderr[-3000:]

        from nbgrader.api import Gradebook

        wrong = []
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            for student, score in expected.items():
                got = gb.find_submission(ASSIGNMENT, student).score
                if got != score:
                    wrong.append(f"{student}: {got} instead of {score}")
    hangs = sum(1 for s in expected if s.endswith("_dee"))
    print(f"nbgrader autograde: {args.n} submissions in {elapsed:.1f} s "
          f"({elapsed / args.n:.2f} s each on average; {hangs} of them hang and wait out "
          f"their time limits)")
    if wrong:
        print("wrong scores:\n  " + "\n  ".join(wrong))
        return 1
    print("every submission got the score it should")
    return 0


if __name__ == "__main__":
    sys.exit(main())
