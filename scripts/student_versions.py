"""Make, or check, the student versions of the exercises in notebooks/exercises/.

    .venv/bin/python scripts/student_versions.py           # write them
    .venv/bin/python scripts/student_versions.py --check   # exit 1 if they are out of date

The student versions are what `nbgrader generate_assignment` releases (solutions replaced
by `# YOUR CODE HERE`, hidden tests removed, test cells locked), made from
exercises/source/ in a throw-away copy of the course. They live under notebooks/, the
folder ./lab.sh opens, so a student working alone finds them in JupyterLab next to the
lessons; pytest (and so nbval) does not collect them (see pyproject.toml). CI checks that
they are current (tests/test_grading.py).
"""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "exercises"
TARGET = REPO / "notebooks" / "exercises"
#: files of notebooks/exercises/ that are not generated
KEEP = {"README.md"}


def release(into):
    """Run `nbgrader generate_assignment "*"` in a copy of the course; return its release/ folder."""
    course = Path(into) / "course"
    course.mkdir()
    for config in ("nbgrader_config.py", "nbgrader_config.json"):
        shutil.copy2(SOURCE / config, course)
    shutil.copytree(SOURCE / "source", course / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "*", "--force"],
                          cwd=course, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{done.stderr[-3000:]}")
    return course / "release"


def differences(released, target=TARGET):
    """Files that differ between a release/ folder and notebooks/exercises/ (relative paths)."""
    made = {p.relative_to(released) for p in released.rglob("*") if p.is_file()}
    have = {p.relative_to(target) for p in target.rglob("*") if p.is_file()} if target.is_dir() else set()
    have = {p for p in have if str(p) not in KEEP and ".ipynb_checkpoints" not in p.parts}
    wrong = sorted(str(p) for p in made & have if not filecmp.cmp(released / p, target / p, shallow=False))
    return sorted(str(p) for p in made ^ have) + wrong


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if out of date")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        released = release(tmp)
        diff = differences(released)
        if args.check:
            if diff:
                print("notebooks/exercises/ is out of date (run scripts/student_versions.py): "
                      + ", ".join(diff))
                return 1
            print("notebooks/exercises/ is current")
            return 0
        for p in TARGET.iterdir() if TARGET.is_dir() else []:
            if p.is_dir():
                shutil.rmtree(p)
        shutil.copytree(released, TARGET, dirs_exist_ok=True)
        print(f"wrote {TARGET.relative_to(REPO)}/ ({len(diff)} file(s) changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
